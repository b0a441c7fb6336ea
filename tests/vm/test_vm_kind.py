"""The VM kind (R13) through the web routes, on libvirt's own test driver (`test:///<node
file>`), unmocked: request -> the chair approves -> the provisioning job defines and starts the
domain with a cloud-init seed giving root the tenant's keys -> the service page -> decommission.
"""

from __future__ import annotations

from pathlib import Path

import libvirt
import pytest
import yaml
from sqlalchemy import select

from infrawg.extensions import db
from infrawg.jobs import run_due_jobs
from infrawg.provisioning import lifecycle
from infrawg.provisioning import service as services
from infrawg.provisioning.kinds.vm.models import backup_of
from infrawg.provisioning.models import Service, ServiceState
from infrawg.provisioning.providers import cloudinit
from tests.conftest import html
from tests.vm.conftest import decommission


@pytest.fixture
def app_config(libvirt_registered, vm_settings) -> dict:
    return {"PROVIDERS": {"libvirt": vm_settings}, "VM_DOMAIN": "vms.infrawg.test"}


def test_r13_tenant_requests_a_vm_chair_approves_it_runs_on_the_test_driver(
    app, people, tenant_member, chair, organisation, vm_type, tenant_keys, vm_settings
):
    tenant = people.sign_in(app.test_client(), tenant_member)
    chair_client = people.sign_in(app.test_client(), chair)

    # The request form asks for the kind's fields: size and image from the catalogue.
    page = html(tenant.get(f"/services/request?type={vm_type.id}"))
    form = page.select_one("#request-form")
    assert form.select_one("input[name=hostname]") is not None
    sizes = [o["value"] for o in form.select("select[name=size] option")]
    assert sizes == ["small", "medium", "large"]
    assert [o.text for o in form.select("select[name=image] option")] == ["Debian 12 (bookworm)"]
    assert form.select_one("textarea[name=ssh_keys]") is not None

    data = {
        "organisation": organisation.id,
        "service_type": vm_type.id,
        "hostname": "web1",
        "size": "small",
        "image": "debian-12",
        "ssh_keys": "\n".join(tenant_keys),
        "purpose": "The working group's documentation site",
    }
    # A key that is not one is refused, with the reason, on the form.
    bad = tenant.post("/services/request", data=data | {"ssh_keys": "ssh-rsa AAAAnotakey x"})
    assert bad.status_code == 422
    assert "SSH key 1" in html(bad).text
    assert tenant.post("/services/request", data=data | {"hostname": "-bad-"}).status_code == 422
    assert tenant.post("/services/request", data=data).status_code == 303
    service = db.session.scalar(select(Service))
    assert service.name == "web1" and service.state == ServiceState.REQUESTED
    assert service.parameters["vcpus"] == 1 and service.parameters["ssh_keys"] == list(tenant_keys)
    # R13: its backup policy exists from the request on.
    assert backup_of(service) is not None
    # The same hostname again is refused while the first one lives.
    again = tenant.post("/services/request", data=data)
    assert again.status_code in (409, 422)

    # The chair approves (R9: within the type's capacity); the job defines and starts it.
    assert chair_client.post(f"/services/{service.id}/decide/approve").status_code == 303
    run_due_jobs()
    db.session.refresh(service)
    assert service.state == ServiceState.ACTIVE, service.state_reason

    conn = libvirt.openReadOnly(vm_settings["uri"])
    try:
        dom = conn.lookupByName("web1")
        assert dom.isActive() and dom.maxVcpus() == 1
        assert dom.maxMemory() == 1024 * 1024
    finally:
        conn.close()
    # The guest's cloud-init user-data gives root the tenant's keys, and nothing else.
    user_data = Path(vm_settings["seed_directory"], "web1", "user-data").read_text()
    assert user_data.startswith("#cloud-config\n")
    config = yaml.safe_load(user_data)
    assert config["disable_root"] is False and config["ssh_pwauth"] is False
    assert config["fqdn"] == "web1.vms.infrawg.test"
    (root,) = config["users"]
    assert root["name"] == "root" and root["ssh_authorized_keys"] == list(tenant_keys)

    # The page: state, size, image, the keys' fingerprints, the backups (none yet).
    page = html(tenant.get(f"/services/{service.id}"))
    panel = page.select_one("#server")
    assert "Active" in panel.select_one("#server-state").text
    assert "1 vCPU, 1024 MiB, 10 GiB" in panel.select_one("#server-size").text
    assert "Debian 12" in panel.select_one("#server-image").text
    # The test driver is said for what it is.
    assert "simulated" in panel.select_one("#server-simulated").text
    fingerprints = [li.text for li in panel.select("#server-keys li")]
    for key, shown in zip(tenant_keys, fingerprints, strict=True):
        assert cloudinit.key_fingerprint(key) in shown
    assert "none yet" in panel.select_one("#last-backup").text
    assert panel.select_one("#last-backup-result") is None  # the attempts' text is staff's

    # Decommission: the reviewed destroy plan, then the job undefines the domain.
    decommission(app, people, tenant_member, service)
    conn = libvirt.openReadOnly(vm_settings["uri"])
    try:
        assert "web1" not in [d.name() for d in conn.listAllDomains()]
    finally:
        conn.close()


def _ask(tenant_member, organisation, vm_type, tenant_keys, hostname: str) -> Service:
    return services.request_service(
        tenant_member,
        organisation,
        vm_type,
        {"hostname": hostname, "size": "medium", "image": "debian-12", "ssh_keys": tenant_keys},
    )


def _active(conn_uri: str, name: str) -> bool:
    conn = libvirt.openReadOnly(conn_uri)
    try:
        return bool(conn.lookupByName(name).isActive())
    finally:
        conn.close()


def test_r13_r9_capacity_applies_and_a_suspended_server_is_powered_off(
    app, people, tenant_member, chair, organisation, vm_type, tenant_keys, vm_settings
):
    vm_type.capacity = 1
    first = _ask(tenant_member, organisation, vm_type, tenant_keys, "app1")
    second = _ask(tenant_member, organisation, vm_type, tenant_keys, "app2")
    db.session.commit()
    chair_client = people.sign_in(app.test_client(), chair)
    assert chair_client.post(f"/services/{first.id}/decide/approve").status_code == 303
    # R9: the second server is beyond the type's capacity: refused without an override.
    response = chair_client.post(f"/services/{second.id}/decide/approve", data={"reason": "ok"})
    assert response.status_code == 409
    assert "at capacity (1 of 1 in use)" in html(response).text
    run_due_jobs()
    db.session.refresh(first)
    assert first.state == ServiceState.ACTIVE and _active(vm_settings["uri"], "app1")
    assert first.parameters["vcpus"] == 2 and first.parameters["memory_mib"] == 4096

    # R7: suspension powers the server off (its disk kept); resumption starts it again.
    lifecycle.suspend(chair, first, "charter lapsed")
    db.session.commit()
    run_due_jobs()
    db.session.refresh(first)
    assert first.state == ServiceState.SUSPENDED and not _active(vm_settings["uri"], "app1")
    lifecycle.resume(chair, first, "recognised again")
    db.session.commit()
    run_due_jobs()
    db.session.refresh(first)
    assert first.state == ServiceState.ACTIVE and _active(vm_settings["uri"], "app1")


def test_the_site_runs_without_libvirt_python(monkeypatch) -> None:
    import subprocess
    import sys
    from importlib.metadata import EntryPoint

    from infrawg.errors import NotFound
    from infrawg.provisioning import registry

    # The kind and its jobs import without libvirt (libvirt-python is the optional `vm` extra).
    code = (
        "import sys; sys.modules['libvirt'] = None\n"
        "import infrawg.audit\n"
        "import infrawg.provisioning.kinds.vm.kind, infrawg.provisioning.kinds.vm.backups\n"
        "from infrawg.provisioning.registry import available_providers\n"
        "print(sorted(available_providers()))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "libvirt" not in out.stdout
    # A provider whose library is missing is left out of the list, and named when asked for.
    point = EntryPoint("ghost", "no_such_library_here:Provider", registry.GROUP)
    monkeypatch.setattr(registry, "entry_points", lambda group: [point])
    assert "ghost" not in registry.available_providers()
    with pytest.raises(NotFound, match="needs 'no_such_library_here'"):
        registry.get_provider_class("ghost")
