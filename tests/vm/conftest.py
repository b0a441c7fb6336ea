"""Fixtures for the VM engines: tenants' SSH keys, libvirt's test driver on a node file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from infrawg.extensions import db
from infrawg.jobs import run_due_jobs
from infrawg.provisioning.models import Service, ServiceState
from infrawg.provisioning.providers.libvirt import LibvirtConfig, LibvirtProvider, VmSpec
from infrawg.provisioning.registry import register_provider, unregister_provider
from tests.conftest import html, make_organisation

# A hypervisor with nothing defined: what the test driver loads for `test:///<this file>`.
NODE_XML = """<node>
  <cpu><mhz>2400</mhz><model>x86_64</model><active>8</active><nodes>1</nodes>
    <sockets>1</sockets><cores>8</cores><threads>1</threads></cpu>
  <memory>16777216</memory>
</node>
"""


def _openssh(key: ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey, comment: str) -> str:
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return f"{public.decode()} {comment}"


@pytest.fixture(scope="session")
def tenant_keys() -> tuple[str, str]:
    """Two public keys of a tenant's people: an Ed25519 and a 3072-bit RSA key."""
    return (
        _openssh(ed25519.Ed25519PrivateKey.generate(), "ada@tenant.example"),
        _openssh(rsa.generate_private_key(public_exponent=65537, key_size=3072), "bob@laptop"),
    )


@pytest.fixture
def node_file(tmp_path: Path) -> Path:
    path = tmp_path / "node.xml"
    path.write_text(NODE_XML)
    return path


@pytest.fixture
def libvirt_config(tmp_path: Path, node_file: Path) -> LibvirtConfig:
    return LibvirtConfig(
        uri=f"test://{node_file}",
        disk_directory=tmp_path / "disks",
        seed_directory=tmp_path / "seeds",
    )


@pytest.fixture
def vm_provider(libvirt_config: LibvirtConfig) -> LibvirtProvider:
    return LibvirtProvider(libvirt_config)


@pytest.fixture
def vm_spec(tenant_keys: tuple[str, str]) -> VmSpec:
    return VmSpec(
        name="web1",
        vcpus=1,
        memory_mib=1024,
        disk_gib=10,
        image="debian-12-genericcloud-amd64",
        ssh_keys=tenant_keys,
        tenant="Example Tenant Ltd",
        organisation_id=7,
        service_id=42,
        domain="vms.infrawg.test",
    )


# -- the VM kind in the app (tests/vm/test_vm_*.py) ----------------------------------------


@pytest.fixture
def libvirt_registered() -> Iterator[None]:
    # The installed metadata of a checkout may predate the `libvirt` entry point.
    register_provider(LibvirtProvider)
    yield
    unregister_provider("libvirt")


@pytest.fixture
def vm_settings(tmp_path: Path, node_file: Path) -> dict[str, str]:
    return {
        "uri": f"test://{node_file}",
        "disk_directory": str(tmp_path / "disks"),
        "seed_directory": str(tmp_path / "seeds"),
    }


@pytest.fixture
def organisation(tenant_member):
    return make_organisation("Docs WG", tenant_member)


@pytest.fixture
def vm_type(app, chair):
    from infrawg.extensions import db
    from infrawg.provisioning.models import ServiceType

    service_type = ServiceType(
        name="Servers", kind="vm", provider="libvirt", capacity=2, created_by_id=chair.id
    )
    db.session.add(service_type)
    db.session.commit()
    return service_type


def decommission(app, people, tenant_member, service: Service) -> None:
    """Decommission through the site: the reviewed destroy plan, then its job."""
    tenant = people.sign_in(app.test_client(), tenant_member)
    page = html(tenant.get(f"/services/{service.id}/decommission"))
    reviewed = page.select_one("input[name=reviewed]")["value"]
    response = tenant.post(
        f"/services/{service.id}/decommission", data={"reviewed": reviewed, "reason": "done"}
    )
    assert response.status_code == 303
    run_due_jobs()
    db.session.refresh(service)
    assert service.state == ServiceState.DECOMMISSIONED
