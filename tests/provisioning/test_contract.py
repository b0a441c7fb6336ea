"""The provider contract (`infrawg.testing.provider_contract`), run over every built-in provider.

The suite ships in the package so a third-party provider runs it from its own tests; here each
built-in gets a harness on a live server (BIND 9 for RFC 2136, files for the zone-file
provider). A newly registered provider fails the last test until it gets a class here.
"""

from __future__ import annotations

import importlib
import re
import sys
import types
from pathlib import Path

import pytest

from infrawg.provisioning.registry import available_providers, build_provider
from infrawg.testing.provider_contract import DnsProviderContract, Harness


class TestRfc2136(DnsProviderContract):
    @pytest.fixture
    def harness(self, bind_zone, rfc2136_config) -> Harness:
        zone = bind_zone()
        # The zone as the server was configured with it: apex NS and the name server's address.
        return Harness.for_zone(
            build_provider("rfc2136", rfc2136_config),
            zone,
            ns=["ns1"],
            glue=[("ns1", "127.0.0.1")],
            existing=True,
        )


class TestZonefile(DnsProviderContract):
    @pytest.fixture
    def harness(self, tmp_path: Path) -> Harness:
        provider = build_provider(
            "zonefile",
            {"directory": str(tmp_path / "zones"), "key_directory": str(tmp_path / "keys")},
        )
        return Harness.for_zone(provider, "contract.example.", ns=["ns1.example.net."], ttl=3600)


def _readme_block(path: str) -> str:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    return next(block for block in blocks if block.startswith(f"# {path}"))


@pytest.fixture
def readme_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """The README's provider and its contract test, as files of a third party's package."""
    package = tmp_path / "thirdparty"
    package.mkdir()
    (package / "jsonzones.py").write_text(_readme_block("jsonzones.py"))
    (package / "readme_contract.py").write_text(_readme_block("tests/test_contract.py"))
    monkeypatch.syspath_prepend(str(package))
    for name in ("jsonzones", "readme_contract"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    return importlib.import_module("readme_contract")


class TestReadmeExample(DnsProviderContract):
    """The README's provider passes the contract through the README's own test class."""

    @pytest.fixture
    def harness(self, readme_package: types.ModuleType, tmp_path: Path) -> Harness:
        theirs = readme_package.TestJsonZones
        assert issubclass(theirs, DnsProviderContract)
        return theirs.harness.__wrapped__(theirs(), tmp_path / "zones")


class TestLibvirt:
    """The VM provider's share of the contract (the DNS contract's rules are about zones): on
    libvirt's test driver, apply then replan is empty and verify passes, the same plan twice
    is refused, a reviewed destroy plan removes the domain. tests/vm/ has the rest."""

    @pytest.fixture
    def provider(self, tmp_path: Path):
        pytest.importorskip("libvirt")
        from tests.vm.conftest import NODE_XML

        node = tmp_path / "node.xml"
        node.write_text(NODE_XML)
        from infrawg.provisioning.providers.libvirt import LibvirtConfig, LibvirtProvider

        return LibvirtProvider(
            LibvirtConfig(
                uri=f"test://{node}",
                disk_directory=tmp_path / "disks",
                seed_directory=tmp_path / "seeds",
            )
        )

    def test_apply_replan_verify_destroy(self, provider, tmp_path: Path) -> None:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ed25519

        from infrawg.provisioning.base import StalePlan
        from infrawg.provisioning.providers.libvirt import VmSpec

        key = ed25519.Ed25519PrivateKey.generate().public_key()
        line = key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        spec = VmSpec("contract1", 1, 512, 5, "debian-12", (line.decode(),), "T", 1, 1)
        plan = provider.plan_for(spec)
        assert not plan.empty
        assert provider.apply(plan).applied
        assert provider.plan_for(spec).empty
        assert all(c.ok for c in provider.verify(spec))
        with pytest.raises(StalePlan):
            provider.apply(plan)
        destroy = provider.plan_destroy(spec, provider.read(spec.ref))
        assert provider.apply(destroy).applied
        assert provider.read(spec.ref).state is None


CONTRACTED = {"libvirt": TestLibvirt, "rfc2136": TestRfc2136, "zonefile": TestZonefile}
# Providers the DNS contract does not describe, each with where its own tests are. `acme`
# (kind tls) holds no zone: no records to plan, no TXT values of its own; its engine is tested
# against a real pebble and BIND in tests/acme/, the kind's walk in tests/acme/test_tls_kind.py.
EXEMPT = {
    "acme": "tests/acme/",
    # R14: plan, apply (refusing stale and unapproved releases), verify through git's objects,
    # destroy, concurrent publishers: tests/cookbook/test_publish.py, on a real git repository.
    "cookbook_dir": "tests/cookbook/test_publish.py",
    # R10: the manual registrar has no backend a harness could drive (staff work at the
    # registrar's site); its task, Pending until staff record it: tests/provisioning/test_domain.py.
    "manual": "tests/provisioning/test_domain.py",
    # R13: Prometheus targets, no zone: read, plan, apply (promtool-checked, rolled back when
    # refused), verify against a real Prometheus, destroy: tests/monitoring/.
    "monitoring": "tests/monitoring/",
}


def test_every_registered_provider_runs_the_contract() -> None:
    assert set(available_providers()) <= set(CONTRACTED) | set(EXEMPT)
    # A DNS provider is never exempt.
    assert all(
        available_providers()[name].kind != "dns"
        for name in EXEMPT
        if name in available_providers()
    )
