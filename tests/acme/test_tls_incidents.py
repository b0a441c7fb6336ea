"""R12 with R5: a renewal that fails within seven days of expiry is an incident for staff.
The failure is real: a CAA record naming another CA only is added to the hosted zone in the
BIND fixture, and the renewal's CAA check finds it; the notice's mail goes over a real SMTP
server (aiosmtpd on loopback)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from infrawg import timeutil
from infrawg.extensions import db
from infrawg.jobs import enqueue
from infrawg.provisioning.kinds.tls import incidents, models
from infrawg.provisioning.kinds.tls.models import TlsIssuance
from infrawg.provisioning.models import ServiceState
from infrawg.status import service as notices
from infrawg.status.models import ImpactNotice, NoticeKind, NoticeService
from tests.acme.conftest import (
    forbid_our_ca,
    request_certificate,
    run_until_settled,
    site_providers,
)
from tests.servers.bind import BindServer
from tests.servers.pebble import PebbleServer


@pytest.fixture
def app_config(
    acme_registered, acme_bind: BindServer, pebble: PebbleServer, tmp_path: Path, smtp_config
):
    return {**site_providers(acme_bind, pebble, tmp_path), **smtp_config}


def run_renewal_at(monkeypatch, when) -> None:
    monkeypatch.setattr(timeutil, "utcnow", lambda: when)
    enqueue("tls.renew")
    db.session.commit()


def test_r12_failed_renewal_near_expiry_opens_incident(
    app,
    people,
    tenant_member,
    chair,
    organisation,
    tls_type,
    hosted,
    solver,
    mailbox,
    monkeypatch,
) -> None:
    tenant = people.sign_in(app.test_client(), tenant_member)
    name = f"late.{hosted}"
    service = request_certificate(people, tenant, organisation, tls_type, chair, app, name)
    run_until_settled(service)
    assert service.state == ServiceState.ACTIVE, service.state_reason
    current = models.current_of(service)
    assert current is not None and current.not_after is not None
    forbid_our_ca(solver, hosted)

    # Three days before expiry the renewal is due, and the CAA check refuses it.
    near = current.not_after - timedelta(days=3)
    run_renewal_at(monkeypatch, near)
    run_until_settled(service)
    renewal = incidents.last_renewal(current)
    assert renewal is not None and renewal.step == models.FAILED
    assert "CAA" in (renewal.error or ""), renewal.error
    assert models.current_of(service).id == current.id  # the certificate in use stays

    notice = db.session.scalar(select(ImpactNotice))
    assert notice is not None and notice.kind is NoticeKind.INCIDENT and notice.is_open
    assert service.name in notice.title and "CAA" in notice.what
    assert db.session.scalars(select(NoticeService.service_id)).all() == [service.id]
    assert notice.created_by_id is None  # the site's own finding, no person's announcement
    # R5: the tenant's contacts are told, over SMTP.
    told = [m for m in mailbox.to(tenant_member.email) if "expires soon" in m.subject]
    assert len(told) == 1, [m.subject for m in mailbox.to(tenant_member.email)]
    assert "CAA" in told[0].body

    # Six hours later the schedule runs again: a second renewal fails, no second notice.
    run_renewal_at(monkeypatch, near + timedelta(hours=6))
    run_until_settled(service)
    attempts = db.session.scalars(
        select(TlsIssuance).where(TlsIssuance.renewal_of_id == current.id)
    ).all()
    assert len(attempts) == 2 and all(a.step == models.FAILED for a in attempts)
    assert len(db.session.scalars(select(ImpactNotice)).all()) == 1
    assert len([m for m in mailbox.to(tenant_member.email) if "expires soon" in m.subject]) == 1

    # Eight days before expiry a failed renewal is not (yet) an incident.
    notices.give_all_clear(chair, notice, "The CAA record is fixed.")
    db.session.commit()
    assert incidents.open_incident(service, current.not_after - timedelta(days=8)) is None
    # Once staff give the all-clear, a renewal still failing near expiry is a new incident.
    run_renewal_at(monkeypatch, near + timedelta(hours=12))
    run_until_settled(service)
    assert len(db.session.scalars(select(ImpactNotice)).all()) == 2
