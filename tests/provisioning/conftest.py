"""Fixtures for the service-layer tests: one real BIND 9 for the whole session."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import make_organisation
from tests.servers.bind import BindServer, ZoneConf

# Dynamic, signed zones handed out one per test so tests never see each other's records.
POOL_SIZE = 40
POOL = [f"z{i:02d}.infrawg.test." for i in range(POOL_SIZE)]
# Fixed zones for specific tests.
UNSIGNED_ZONE = "plain.infrawg.test."
CHILD_ZONES = ("good.parent.test.", "bad.parent.test.")


@pytest.fixture(scope="session")
def bind() -> Iterator[BindServer]:
    """A real `named` serving the pool zones (signed by dnssec-policy), an unsigned zone, and
    the delegated child zones used by the delegation check."""
    zones = [ZoneConf(name, dnssec=True) for name in POOL]
    zones.append(ZoneConf(UNSIGNED_ZONE, dnssec=False))
    zones += [ZoneConf(name, dnssec=True) for name in CHILD_ZONES]
    server = BindServer(zones)
    server.start()
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture(scope="session")
def _pool() -> Iterator[str]:
    return iter(POOL)


@pytest.fixture
def bind_zone(bind: BindServer, _pool: Iterator[str]) -> Callable[[], str]:
    """Take a fresh, untouched zone from the server's pool."""

    def take() -> str:
        zone = next(_pool, None)
        if zone is None:
            raise RuntimeError(f"BIND zone pool exhausted; raise POOL_SIZE ({POOL_SIZE})")
        return zone

    return take


@pytest.fixture
def tsig_secret_file(bind: BindServer, tmp_path: Path) -> Path:
    """The server's TSIG key as `tsig-keygen` prints it, in a 0600 file."""
    path = tmp_path / "tsig.key"
    path.write_text(bind.key_file_text)
    path.chmod(0o600)
    return path


@pytest.fixture
def rfc2136_config(bind: BindServer, tsig_secret_file: Path) -> dict[str, object]:
    """Plain configuration, as it would come from the site's settings (secret by reference)."""
    return {
        "server": bind.host,
        "port": bind.port,
        "tsig_key_name": bind.tsig_key_name,
        "tsig_secret": f"file:{tsig_secret_file}",
        "timeout": 5,
    }


# -- the service layer in the app (tests of requests, jobs and zones) ----------------------------


@pytest.fixture
def zonefile_settings(tmp_path: Path) -> dict[str, str]:
    return {"directory": str(tmp_path / "zones"), "key_directory": str(tmp_path / "zone-keys")}


@pytest.fixture
def app_config(zonefile_settings) -> dict:
    """Zone files of this test only (never instance/zones), and the site's name servers."""
    return {
        "PROVIDERS": {"zonefile": zonefile_settings},
        "DNS_NAMESERVERS": "ns1.example.net.,ns2.example.net.",
    }


@pytest.fixture
def organisation(tenant_member):
    """An approved working group (R1: eligible) whose tenant member is `tenant_member`."""
    return make_organisation("Docs WG", tenant_member)


@pytest.fixture
def dns_type(chair):
    """The catalogue's DNS hosting on the zonefile provider."""
    from infrawg.extensions import db
    from infrawg.provisioning.models import ServiceType

    service_type = ServiceType(
        name="DNS hosting", kind="dns", provider="zonefile", capacity=5, created_by_id=chair.id
    )
    db.session.add(service_type)
    db.session.commit()
    return service_type
