"""Fixtures for the ACME engine: a real BIND 9 serving the zones, a real pebble validating
DNS-01 against it, and a DNS-01 solver made of the rfc2136 provider's TXT-by-value calls."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import dns.exception
import dns.rdatatype
import dns.resolver
import pytest
from cryptography import x509
from cryptography.x509.verification import PolicyBuilder, Store
from sqlalchemy import select, update

from infrawg.extensions import db
from infrawg.jobs import run_due_jobs
from infrawg.jobs.models import Job, JobState
from infrawg.provisioning.kinds.dns.models import DnsZone
from infrawg.provisioning.models import Service, ServiceState, ServiceType
from infrawg.provisioning.providers.acme import AcmeConfig, AcmeEngine
from infrawg.provisioning.providers.acme.provider import AcmeProvider
from infrawg.provisioning.providers.rfc2136 import Rfc2136Config, Rfc2136Provider
from infrawg.provisioning.registry import register_provider, unregister_provider
from infrawg.provisioning.secrets import Secret
from infrawg.timeutil import utcnow
from tests.conftest import make_organisation
from tests.servers.bind import BindServer, ZoneConf
from tests.servers.pebble import PebbleServer, running_pebble

# What our CA writes in CAA records; pebble has none of its own, so the tests name one.
CA_IDENTITY = "pebble.infrawg.test"
# One dynamic zone per test, so no test sees another's TXT values.
ZONES = [f"a{i:02d}.acme.test." for i in range(20)]
# A zone whose CAA record names another CA only, and one that names ours.
FORBIDDING_ZONE = "caa-other.acme.test."
ALLOWING_ZONE = "caa-ours.acme.test."


def _static(origin: str, extra: str = "") -> ZoneConf:
    text = (
        f"$ORIGIN {origin}\n$TTL 300\n"
        f"@ IN SOA ns1.{origin} hostmaster.{origin} 1 3600 600 86400 300\n"
        f"@ IN NS ns1.{origin}\nns1 IN A 127.0.0.1\n{extra}"
    )
    return ZoneConf(origin, dynamic=False, text=text)


@pytest.fixture(scope="session")
def acme_bind() -> Iterator[BindServer]:
    """BIND serving the test zones, plus their parents `acme.test.` and `test.` so that a CAA
    lookup walking towards the root gets an authoritative answer at every step."""
    zones = [ZoneConf(name) for name in ZONES]
    zones += [_static("test."), _static("acme.test.")]
    zones.append(_static(FORBIDDING_ZONE, '@ IN CAA 0 issue "letsencrypt.org"\n'))
    zones.append(
        _static(ALLOWING_ZONE, f'@ IN CAA 0 issue "{CA_IDENTITY}"\n@ IN CAA 0 issuewild ";"\n')
    )
    # Recursive for loopback, so a `_acme-challenge` CNAME into another zone served here is
    # answered with its target's TXT, as pebble's resolver needs (BindServer.recursion).
    server = BindServer(zones, recursion=True)
    server.start()
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture(scope="session")
def pebble(acme_bind: BindServer) -> Iterator[PebbleServer]:
    """A real pebble resolving challenges through the BIND fixture."""
    with running_pebble(f"{acme_bind.host}:{acme_bind.port}") as server:
        yield server


@pytest.fixture(scope="session")
def _zones() -> Iterator[str]:
    return iter(ZONES)


@pytest.fixture
def acme_zone(_zones: Iterator[str]) -> str:
    """A fresh dynamic zone for this test (without the trailing dot)."""
    zone = next(_zones, None)
    if zone is None:
        raise RuntimeError("ACME zone pool exhausted; add zones to ZONES")
    return zone.rstrip(".")


@pytest.fixture
def resolver(acme_bind: BindServer) -> dns.resolver.Resolver:
    """A resolver asking the BIND fixture, as the site's resolver would ask the world."""
    res = dns.resolver.Resolver(configure=False)
    res.nameservers = [acme_bind.host]
    res.port = acme_bind.port
    res.lifetime = 5
    return res


class Rfc2136Solver:
    """The engine's ChallengeTargets over the rfc2136 provider (a DnsChallengeSolver): called
    with an owner, it names the provider and the test zone holding it. The owner-only helpers
    below are for tests that place a value by hand."""

    def __init__(self, provider: Rfc2136Provider, server: BindServer, zones: list[str]) -> None:
        self.provider = provider
        self.server = server
        self.zones = sorted(zones, key=len, reverse=True)

    def _zone(self, owner: str) -> str:
        owner = owner.lower().rstrip(".") + "."
        for zone in self.zones:
            if owner == zone or owner.endswith("." + zone):
                return zone
        raise LookupError(f"no hosted zone holds {owner}")

    def __call__(self, owner: str) -> tuple[Rfc2136Provider, str]:
        return self.provider, self._zone(owner)

    def add_txt(self, owner: str, value: str) -> None:
        self.provider.add_txt(self._zone(owner), owner, f'"{value}"')

    def remove_txt(self, owner: str, value: str) -> None:
        self.provider.remove_txt(self._zone(owner), owner, f'"{value}"')

    def served(self, owner: str) -> set[str]:
        try:
            response = self.server.query(owner, "TXT")
        except (OSError, dns.exception.DNSException):
            return set()
        return {
            b"".join(rdata.strings).decode()
            for rrset in response.answer
            for rdata in rrset
            if rrset.rdtype == dns.rdatatype.TXT
        }

    def wait_until_visible(self, owner: str, value: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while value not in self.served(owner):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True


def forbid_our_ca(solver: Rfc2136Solver, zone: str) -> None:
    """What a tenant's change at the zone apex might do: a CAA record for another CA only."""
    update = solver.provider._update(zone + ".")
    update.add(zone + ".", 60, "CAA", '0 issue "letsencrypt.org"')
    solver.provider._send(update)


@pytest.fixture
def solver(acme_bind: BindServer) -> Rfc2136Solver:
    provider = Rfc2136Provider(
        Rfc2136Config(
            server=acme_bind.host,
            port=acme_bind.port,
            tsig_key_name=acme_bind.tsig_key_name,
            tsig_secret=Secret(acme_bind.tsig_secret),
            timeout=5,
        )
    )
    return Rfc2136Solver(provider, acme_bind, ZONES)


@pytest.fixture
def make_engine(
    pebble: PebbleServer, resolver: dns.resolver.Resolver, tmp_path: Path
) -> Callable[[], AcmeEngine]:
    """A fresh engine each call over the same key directory, as each job call builds one."""
    config = AcmeConfig(
        directory_url=pebble.directory_url,
        key_directory=tmp_path / "acme-keys",
        ca_identities=(CA_IDENTITY,),
        contact_email="staff@infrawg.test",
        ca_bundle=str(pebble.ca_bundle),
    )
    return lambda: AcmeEngine(config, caa_resolver=resolver)


@pytest.fixture
def engine(make_engine: Callable[[], AcmeEngine]) -> AcmeEngine:
    return make_engine()


# -- the site: the tls kind on the acme provider, a zone hosted on rfc2136 -----------------


@pytest.fixture(autouse=True)
def acme_registered() -> Iterator[None]:
    # pyproject names `acme` under infrawg.providers; a checkout whose installed metadata is
    # older (no reinstall here) finds it through this registration instead.
    register_provider(AcmeProvider)
    yield
    unregister_provider("acme")


def site_providers(acme_bind: BindServer, pebble: PebbleServer, tmp_path: Path) -> dict:
    """The site's PROVIDERS setting: rfc2136 on the BIND fixture, acme on pebble."""
    key = tmp_path / "tsig.key"
    key.write_text(acme_bind.key_file_text)
    key.chmod(0o600)
    return {
        "PROVIDERS": {
            "rfc2136": {
                "server": acme_bind.host,
                "port": acme_bind.port,
                "tsig_key_name": acme_bind.tsig_key_name,
                "tsig_secret": f"file:{key}",
                "timeout": 5,
            },
            "acme": {
                "directory_url": pebble.directory_url,
                "key_directory": str(tmp_path / "acme-keys"),
                "ca_identities": CA_IDENTITY,
                "contact_email": "staff@infrawg.test",
                "ca_bundle": str(pebble.ca_bundle),
                "caa_nameserver": f"{acme_bind.host}:{acme_bind.port}",
            },
        }
    }


@pytest.fixture
def organisation(tenant_member):
    return make_organisation("Docs WG", tenant_member)


@pytest.fixture
def hosted(app, chair, organisation, tenant_member, acme_zone: str) -> str:
    """`acme_zone` hosted here: an active DNS service on the rfc2136 provider."""
    dns_type = ServiceType(name="DNS", kind="dns", provider="rfc2136", created_by_id=chair.id)
    db.session.add(dns_type)
    db.session.flush()
    service = Service(
        organisation_id=organisation.id,
        service_type_id=dns_type.id,
        name=acme_zone + ".",
        parameters={"zone": acme_zone + "."},
        requested_by_id=tenant_member.id,
        state=ServiceState.ACTIVE,
    )
    db.session.add(service)
    db.session.flush()
    db.session.add(DnsZone(service_id=service.id, name=acme_zone + ".", adopted=True))
    db.session.commit()
    return acme_zone


@pytest.fixture
def tls_type(app, chair) -> ServiceType:
    service_type = ServiceType(
        name="TLS certificates", kind="tls", provider="acme", created_by_id=chair.id
    )
    db.session.add(service_type)
    db.session.commit()
    return service_type


def run_until_settled(service: Service, timeout: float = 30) -> None:
    """Run jobs as the worker would; a Pending job's wait is cut short each round."""
    deadline = time.monotonic() + timeout
    while True:
        run_due_jobs()
        db.session.refresh(service)
        queued = db.session.scalar(select(Job.id).where(Job.state == JobState.QUEUED))
        if queued is None:
            return
        assert time.monotonic() < deadline, f"still {service.state}: {service.state_reason}"
        time.sleep(0.2)
        db.session.execute(
            update(Job).where(Job.state == JobState.QUEUED).values(next_run_at=utcnow())
        )
        db.session.commit()


def verify_chain(pem: str, name: str, pebble: PebbleServer) -> x509.Certificate:
    leaf, *intermediates = x509.load_pem_x509_certificates(pem.encode())
    verifier = (
        PolicyBuilder()
        .store(Store(pebble.roots()))
        .time(leaf.not_valid_before_utc + timedelta(minutes=1))
        .build_server_verifier(x509.DNSName(name))
    )
    verifier.verify(leaf, intermediates)
    return leaf


def request_certificate(people, client, organisation, tls_type, chair, app, names: str) -> Service:
    tenant = client
    data = {"organisation": organisation.id, "service_type": tls_type.id, "names": names}
    response = tenant.post("/services/request", data=data)
    assert response.status_code == 303, response.text
    service = db.session.scalar(select(Service).where(Service.service_type_id == tls_type.id))
    chair_client = people.sign_in(app.test_client(), chair)
    assert chair_client.post(f"/services/{service.id}/decide/approve").status_code == 303
    return service
