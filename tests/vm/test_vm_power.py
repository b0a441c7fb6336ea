"""R13: the tenant reboots and rebuilds their server (on libvirt's test driver, unmocked).
A rebuild is a reviewed plan confirmed by the hostname; it gives the server a new instance id,
so cloud-init runs again, and every tenant member of the organisation is told."""

from __future__ import annotations

from pathlib import Path

import libvirt
import pytest
from sqlalchemy import select

from infrawg.extensions import db
from infrawg.jobs import run_due_jobs
from infrawg.jobs.models import Job, JobLogLine
from infrawg.provisioning import service as services
from infrawg.provisioning.models import Service, ServiceState
from infrawg.tenants.models import TenantMember
from tests.conftest import html, outbox_to


@pytest.fixture
def app_config(libvirt_registered, vm_settings) -> dict:
    return {"PROVIDERS": {"libvirt": vm_settings}, "VM_DOMAIN": "vms.infrawg.test"}


@pytest.fixture
def server(app, tenant_member, chair, organisation, vm_type, tenant_keys) -> Service:
    service = services.request_service(
        tenant_member,
        organisation,
        vm_type,
        {"hostname": "web1", "size": "small", "image": "debian-12", "ssh_keys": tenant_keys},
    )
    services.decide(chair, service, approve=True)
    db.session.commit()
    run_due_jobs()
    db.session.refresh(service)
    assert service.state == ServiceState.ACTIVE, service.state_reason
    return service


def _domain_uuid_and_running(uri: str) -> tuple[str, bool]:
    conn = libvirt.openReadOnly(uri)
    try:
        dom = conn.lookupByName("web1")
        return dom.UUIDString(), bool(dom.isActive())
    finally:
        conn.close()


def test_r13_tenant_reboots_their_server(app, people, tenant_member, member, server, vm_settings):
    tenant = people.sign_in(app.test_client(), tenant_member)
    page = html(tenant.get(f"/services/{server.id}"))
    assert page.select_one("#power form button").text.strip() == "Reboot web1"
    assert tenant.post(f"/services/{server.id}/vm/reboot").status_code == 303
    run_due_jobs()
    job = db.session.scalar(select(Job).where(Job.kind == "vm.reboot"))
    assert job.state.value == "succeeded", job.last_error
    lines = db.session.scalars(select(JobLogLine.line).where(JobLogLine.job_id == job.id)).all()
    assert "reboot: web1 is now running" in lines
    assert _domain_uuid_and_running(vm_settings["uri"])[1]

    # Someone who is not a tenant member of its organisation can neither see nor reboot it.
    outsider = people.sign_in(app.test_client(), member)
    assert outsider.post(f"/services/{server.id}/vm/reboot").status_code in (403, 404)
    again = select(Job.id).where(Job.kind == "vm.reboot", Job.id != job.id)
    assert db.session.scalar(again) is None


def test_r13_rebuild_is_reviewed_confirmed_by_hostname_and_reinstalls(
    app, people, tenant_member, organisation, server, vm_settings
):
    colleague = people.make("Cole League")
    db.session.add(TenantMember(organisation_id=organisation.id, person_id=colleague.id))
    db.session.commit()
    tenant = people.sign_in(app.test_client(), tenant_member)
    seed = Path(vm_settings["seed_directory"], "web1", "meta-data")
    assert "web1-1" in seed.read_text()

    page = html(tenant.get(f"/services/{server.id}/vm/rebuild"))
    plan = page.select_one("#rebuild-plan").text
    assert "web1-1" in plan and "web1-2" in plan
    reviewed = page.select_one("input[name=reviewed]")["value"]

    # The wrong hostname: refused on the form, nothing changes.
    wrong = tenant.post(
        f"/services/{server.id}/vm/rebuild", data={"reviewed": reviewed, "hostname": "web2"}
    )
    assert wrong.status_code == 422
    assert "Type web1 to confirm" in html(wrong).select_one("#rebuild-form").text
    db.session.refresh(server)
    assert "instance_id" not in server.parameters

    done = tenant.post(
        f"/services/{server.id}/vm/rebuild", data={"reviewed": reviewed, "hostname": "WEB1 "}
    )
    assert done.status_code == 303
    run_due_jobs()
    db.session.refresh(server)
    assert server.state == ServiceState.ACTIVE, server.state_reason
    assert server.parameters["instance_id"] == "web1-2"
    assert "web1-2" in seed.read_text()  # cloud-init runs again on the next boot
    assert _domain_uuid_and_running(vm_settings["uri"])[1]
    for person in (tenant_member, colleague):
        assert [m.subject for m in outbox_to(person.email)][-1].endswith("web1 is being rebuilt")

    # The plan reviewed before is stale now: applying it again is refused.
    stale = tenant.post(
        f"/services/{server.id}/vm/rebuild", data={"reviewed": reviewed, "hostname": "web1"}
    )
    assert stale.status_code == 409
