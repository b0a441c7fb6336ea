"""R7, R8: a lapsed charter suspends the organisation's services (through a job of the
service layer, told by the charter_ended signal); recognition as a CO resumes them."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from infrawg.actions import Action
from infrawg.audit import AuditEvent
from infrawg.extensions import db
from infrawg.jobs.models import Job
from infrawg.jobs.runner import enqueue, run_due_jobs
from infrawg.provisioning.models import Service, ServiceState, ServiceType
from infrawg.provisioning.service import RESUME_JOB, SUSPEND_JOB
from infrawg.tenants import applications
from infrawg.tenants import service as tenants
from infrawg.tenants.models import Decision, TenantOrganisation
from tests.conftest import outbox_to


@pytest.fixture
def app_config(tmp_path: Path) -> dict:
    zones = {"directory": str(tmp_path / "zones"), "key_directory": str(tmp_path / "zone-keys")}
    return {
        "PROVIDERS": {"zonefile": zones},
        "DNS_NAMESERVERS": "ns1.example.net.,ns2.example.net.",
    }


@pytest.fixture
def wg(tenant_member) -> TenantOrganisation:
    return db.session.scalar(
        select(TenantOrganisation).where(TenantOrganisation.slug == "tenant-fixture-wg")
    )


@pytest.fixture
def active_zone(client, people, tenant_member, wg, chair) -> Service:
    service_type = ServiceType(
        name="DNS hosting", kind="dns", provider="zonefile", capacity=5, created_by_id=chair.id
    )
    db.session.add(service_type)
    db.session.commit()
    people.sign_in(client, tenant_member).post(
        "/services/request",
        data={"organisation": wg.id, "service_type": service_type.id, "zone": "docs.example.org"},
    )
    service = db.session.scalar(select(Service))
    decider = people.sign_in(client.application.test_client(), chair)
    assert decider.post(f"/services/{service.id}/decide/approve").status_code == 303
    run_due_jobs()
    db.session.refresh(service)
    assert service.state == ServiceState.ACTIVE
    return service


def _end_charter(chair, wg) -> None:
    tenants.end_charter(chair, wg, "Not renewed in 2026")
    db.session.commit()


def _loaded(application):
    return applications.get_application(application.id)


def _jobs(kind: str) -> list[Job]:
    return list(db.session.scalars(select(Job).where(Job.kind == kind)))


def test_r7_lapsed_charter_suspends_services(app, chair, tenant_member, wg, active_zone):
    _end_charter(chair, wg)
    # The charter_ended signal queued the suspension; it runs as a job, after the commit.
    assert [job.args for job in _jobs(SUSPEND_JOB)] == [{"organisation_id": wg.id}]
    run_due_jobs()
    db.session.refresh(active_zone)
    assert active_zone.state == ServiceState.SUSPENDED
    assert "charter of Tenant Fixture WG ended" in active_zone.state_reason
    event = db.session.scalar(
        select(AuditEvent).where(AuditEvent.action == Action.SERVICE_SUSPENDED)
    )
    assert event is not None and event.subject_id == active_zone.id
    # R5: the tenant member is told the service changed state.
    assert outbox_to(tenant_member.email)[-1].subject == "[Infra-WG] docs.example.org.: Suspended"
    # A second run (after a crash, say) changes nothing: it looks first.
    enqueue(SUSPEND_JOB, organisation_id=wg.id)
    db.session.commit()
    run_due_jobs()
    suspended = select(AuditEvent).where(AuditEvent.action == Action.SERVICE_SUSPENDED)
    assert len(db.session.scalars(suspended).all()) == 1


def test_r7_co_approval_resumes_services(app, chair, board, tenant_member, wg, active_zone):
    _end_charter(chair, wg)
    run_due_jobs()
    application = applications.apply_to_become_co(
        tenant_member, wg, "DNS", "We keep the docs online."
    )
    db.session.commit()
    applications.decide_application(chair, _loaded(application), "chair", Decision.APPROVE, "Fits.")
    db.session.commit()
    assert _jobs(RESUME_JOB) == []  # R8: both must approve
    applications.decide_application(board, _loaded(application), "board", Decision.APPROVE, "Fits.")
    db.session.commit()
    assert [job.args for job in _jobs(RESUME_JOB)] == [{"organisation_id": wg.id}]
    run_due_jobs()
    db.session.refresh(active_zone)
    # Resumed, then provisioned again against what the provider holds now.
    assert active_zone.state == ServiceState.ACTIVE
    actions = list(
        db.session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.subject_id == active_zone.id)
            .order_by(AuditEvent.id)
        )
    )
    assert actions[-3:] == [
        Action.SERVICE_RESUMED,
        Action.SERVICE_PROVISIONING,
        Action.SERVICE_ACTIVE,
    ]


def test_r7_suspension_waits_for_nothing_once_recognised_again(
    app, chair, board, tenant_member, wg, active_zone
):
    # Recognised before the suspension job ran: the job looks first and keeps the service.
    _end_charter(chair, wg)
    application = applications.apply_to_become_co(
        tenant_member, wg, "DNS", "We keep the docs online."
    )
    for decider, side in ((chair, "chair"), (board, "board")):
        applications.decide_application(
            decider, _loaded(application), side, Decision.APPROVE, "Fits."
        )
    db.session.commit()
    run_due_jobs()
    db.session.refresh(active_zone)
    assert active_zone.state == ServiceState.ACTIVE
