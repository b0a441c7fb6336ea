"""R10 over a real SMTP server (aiosmtpd on loopback): renewal reminders 90, 30 and 7 days
before expiry to the tenant members and staff, each sent once however often the scheduled job
runs; on the day it expires, an incident."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from infrawg import timeutil
from infrawg.extensions import db
from infrawg.jobs import enqueue, run_due_jobs
from infrawg.provisioning import service as services
from infrawg.provisioning.kinds.domain import registrations
from infrawg.provisioning.kinds.domain.models import DomainRegistration, DomainReminder
from infrawg.provisioning.models import Service, ServiceState, ServiceType
from infrawg.status.models import ImpactNotice


@pytest.fixture
def app_config(smtp_config, zonefile_settings) -> dict:
    return {**smtp_config, "PROVIDERS": {"zonefile": zonefile_settings, "manual": {}}}


def _run_schedule_at(monkeypatch: pytest.MonkeyPatch, moment: datetime) -> None:
    """The daily schedule's run, the clock moved to `moment`."""
    monkeypatch.setattr(timeutil, "utcnow", lambda: moment)
    enqueue(registrations.REMINDERS_JOB)
    db.session.commit()
    run_due_jobs()
    run_due_jobs()  # the delivery jobs of the mail it sent


def _subjects(mailbox, address: str) -> list[str]:
    return [m.subject for m in mailbox.to(address)]


def _settle(mailbox, address: str, count: int) -> list[str]:
    """The subjects of the mail to `address` once `count` arrived (and a moment more, so a
    mail sent twice would be seen)."""
    deadline = time.monotonic() + 10
    while len(mailbox.to(address)) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    return _subjects(mailbox, address)


def test_r10_reminders_90_30_7_days_idempotent_over_smtp(
    app, monkeypatch, mailbox, tenant_member, organisation, chair, staff
):
    service_type = ServiceType(
        name="Domains", kind="domain", provider="manual", created_by_id=chair.id
    )
    db.session.add(service_type)
    db.session.flush()
    now = timeutil.utcnow().replace(hour=9, minute=0, second=0, microsecond=0)
    expiry = (now + timedelta(days=200)).date()
    service = services.request_service(
        tenant_member,
        organisation,
        service_type,
        {"domain": "remind.org", "mode": "track", "expires_on": expiry.isoformat()},
    )
    service.state = ServiceState.ACTIVE
    db.session.commit()
    expires_at = datetime.combine(expiry, now.time())
    run_due_jobs()
    mailbox.wait_for(tenant_member.email)  # "Requested: waiting for the chair"
    mailbox.clear()

    # 100 days before: nothing yet.
    _run_schedule_at(monkeypatch, expires_at - timedelta(days=100))
    assert _settle(mailbox, tenant_member.email, 0) == []

    # 90 days before, the schedule running twice (and once more the next day): one reminder,
    # to the tenant member and to staff.
    for moment in (timedelta(days=90), timedelta(days=90, hours=-1), timedelta(days=89)):
        _run_schedule_at(monkeypatch, expires_at - moment)
    assert _settle(mailbox, tenant_member.email, 1) == ["[Infra-WG] remind.org expires in 90 days"]
    assert _subjects(mailbox, staff.email) == ["[Infra-WG] remind.org expires in 90 days"]
    assert "The tenant arranges payment" in mailbox.wait_for(tenant_member.email).body

    for days in (30, 7):
        _run_schedule_at(monkeypatch, expires_at - timedelta(days=days))
        _run_schedule_at(monkeypatch, expires_at - timedelta(days=days))
    assert _settle(mailbox, tenant_member.email, 3) == [
        "[Infra-WG] remind.org expires in 90 days",
        "[Infra-WG] remind.org expires in 30 days",
        "[Infra-WG] remind.org expires in 7 days",
    ]
    assert len(_subjects(mailbox, staff.email)) == 3
    registration = db.session.scalar(select(DomainRegistration))
    days = db.session.scalars(select(DomainReminder.days).order_by(DomainReminder.id)).all()
    assert days == [90, 30, 7]

    # On the day it expires: an incident, once; staff are told, the service has drifted.
    _run_schedule_at(monkeypatch, expires_at)
    _run_schedule_at(monkeypatch, expires_at + timedelta(hours=2))
    staff_mail = _settle(mailbox, staff.email, 4)
    assert staff_mail.count("[Infra-WG] Incident: remind.org expired") == 1
    db.session.expire_all()
    assert db.session.get(Service, service.id).state == ServiceState.DRIFTED
    assert db.session.get(DomainRegistration, registration.id).expired_at is not None
    # The incident is a notice (R5): the tenant member is told once, the status page says it
    # without naming the domain.
    tenant_mail = _settle(mailbox, tenant_member.email, 4)
    assert tenant_mail.count("[Infra-WG] Incident: remind.org expired") == 1
    notices = db.session.scalars(select(ImpactNotice)).all()
    assert [(n.title, n.is_open, n.created_by_id) for n in notices] == [
        ("remind.org expired", True, None)
    ]
    status = app.test_client().get("/status").get_data(as_text=True)
    assert "A domain of a hosted service expired" in status
    assert "remind.org" not in status
