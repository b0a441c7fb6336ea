"""R10: domain registrations on the built-in `manual` registrar: the tenant pays by default
(recorded), the foundation pays only after the board's decision with its resolution, staff
record the registrar task, renewals are jobs, the delegation check of a hosted zone is
scheduled (R11)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import ClassVar

import pytest
from sqlalchemy import select, update

from infrawg.audit import AuditEvent
from infrawg.extensions import db
from infrawg.jobs import enqueue, run_due_jobs
from infrawg.jobs.models import Job, JobState
from infrawg.jobs.runner import claim, run_job
from infrawg.provisioning import kinds
from infrawg.provisioning import service as services
from infrawg.provisioning.kinds.domain import registrations
from infrawg.provisioning.kinds.domain.models import (
    BoardState,
    DomainEvent,
    DomainRegistration,
    Payer,
)
from infrawg.provisioning.kinds.domain.provider import ManualRegistrarProvider
from infrawg.provisioning.models import Service, ServiceState, ServiceType
from infrawg.provisioning.registry import (
    available_providers,
    get_provider_class,
    register_provider,
    unregister_provider,
)
from infrawg.timeutil import utcnow
from tests.conftest import html


class SettingRegistrar(ManualRegistrarProvider):
    """A registrar that registers at once and sets NS and DS itself (an API registrar)."""

    name = "settingregistrar"
    capabilities = frozenset({"set_delegation"})
    SET: ClassVar[list[tuple[str, list[str], list[str]]]] = []

    def register(self, registration):
        return [f"registered {registration.domain}"]

    def set_delegation(self, registration, ns, ds):
        self.SET.append((registration.domain, ns, ds))
        return [f"NS of {registration.domain} set to {', '.join(ns)}"]


@pytest.fixture
def setting_registrar() -> Iterator[None]:
    SettingRegistrar.SET.clear()
    register_provider(SettingRegistrar)
    yield
    unregister_provider(SettingRegistrar.name)


@pytest.fixture
def app_config(setting_registrar, zonefile_settings) -> dict:
    return {
        "PROVIDERS": {"zonefile": zonefile_settings, "manual": {}, "settingregistrar": {}},
        "DNS_NAMESERVERS": "ns1.example.net.,ns2.example.net.",
    }


@pytest.fixture
def domain_type(chair) -> ServiceType:
    service_type = ServiceType(
        name="Domain registrations", kind="domain", provider="manual", created_by_id=chair.id
    )
    db.session.add(service_type)
    db.session.commit()
    return service_type


def _request(client, organisation, domain_type, **fields) -> Service:
    data = {"organisation": organisation.id, "service_type": domain_type.id, **fields}
    response = client.post("/services/request", data=data)
    assert response.status_code == 303, response.get_data(as_text=True)
    return db.session.scalar(select(Service).order_by(Service.id.desc()))


def _registration(service: Service) -> DomainRegistration:
    db.session.expire_all()
    found = db.session.scalar(
        select(DomainRegistration).where(DomainRegistration.service_id == service.id)
    )
    assert found is not None
    return found


def _release_pending_jobs() -> None:
    db.session.execute(update(Job).where(Job.state == JobState.QUEUED).values(next_run_at=utcnow()))
    db.session.commit()


def _actions(service: Service) -> list[str]:
    return list(
        db.session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.subject_type == "service", AuditEvent.subject_id == service.id)
            .order_by(AuditEvent.id)
        )
    )


def test_the_domain_kind_and_the_manual_registrar_are_built_in(app) -> None:
    assert kinds.get("domain").name == "domain"
    assert get_provider_class("manual").kind == "domain"
    assert "manual" in available_providers()


def test_r10_tenant_pays_by_default_recorded(
    app, client, people, tenant_member, organisation, domain_type
):
    tenant = people.sign_in(client, tenant_member)
    page = html(tenant.get(f"/services/request?type={domain_type.id}"))
    assert page.select_one("#request-form input[name=domain]") is not None
    assert page.select_one("#request-form select[name=payer]") is not None
    service = _request(
        tenant,
        organisation,
        domain_type,
        domain="docs-wg.org",
        mode="register",
        contacts="Docs WG <docs@example.org>",
        paid_by="Docs WG treasurer",
        payment_method="card",
    )
    registration = _registration(service)
    # R10: nobody asked the board, so the tenant pays; who and how are recorded.
    assert registration.payer is Payer.TENANT and registration.board_state is BoardState.NONE
    assert not registration.foundation_pays
    assert registration.paid_by == "Docs WG treasurer" and registration.payment_method == "card"
    shown = html(tenant.get(f"/services/{service.id}")).select_one("#domain-payer").text
    assert "The tenant arranges payment" in shown and "Docs WG treasurer" in shown

    # The payment's reference once paid: recorded, audited, in the history.
    bad = tenant.post(f"/services/{service.id}/domain/payment", data={"paid_by": ""})
    assert bad.status_code == 422
    response = tenant.post(
        f"/services/{service.id}/domain/payment",
        data={
            "paid_by": "Ann Treasurer",
            "payment_method": "invoice",
            "payment_reference": "INV-7",
        },
    )
    assert response.status_code == 303
    registration = _registration(service)
    assert (registration.paid_by, registration.payment_method, registration.payment_reference) == (
        "Ann Treasurer",
        "invoice",
        "INV-7",
    )
    assert "domain.payment_recorded" in _actions(service)
    shown = html(tenant.get(f"/services/{service.id}")).select_one("#domain-payer").text
    assert "reference INV-7" in shown
    assert (
        "payment by Ann Treasurer"
        in html(tenant.get(f"/services/{service.id}")).select_one("#domain-history").text
    )


def test_r10_foundation_pays_only_after_a_board_decision_with_resolution(
    app, client, people, tenant_member, organisation, domain_type, chair, board
):
    tenant = people.sign_in(client, tenant_member)
    chair_client = people.sign_in(app.test_client(), chair)
    board_client = people.sign_in(app.test_client(), board)
    refused = tenant.post(
        "/services/request",
        data={
            "organisation": organisation.id,
            "service_type": domain_type.id,
            "domain": "wg-events.org",
            "payer": "foundation",
        },
    )
    assert refused.status_code == 422  # a reason for the board is required
    service = _request(
        tenant,
        organisation,
        domain_type,
        domain="wg-events.org",
        payer="foundation",
        foundation_reason="The foundation's events site",
    )
    registration = _registration(service)
    assert registration.payer is Payer.FOUNDATION and registration.board_state is BoardState.ASKED
    assert not registration.foundation_pays
    shown = html(tenant.get(f"/services/{service.id}")).select_one("#domain-payer").text
    assert "The board is asked" in shown

    # The chair approves the service, but the registration waits for the board's decision.
    assert chair_client.post(f"/services/{service.id}/decide/approve").status_code == 303
    run_due_jobs()
    assert service.state == ServiceState.PROVISIONING
    assert not _registration(service).task_open

    # A chair alone cannot decide that the foundation pays; nor can the tenant.
    decision = {"decision": "approve", "resolution": "BR-2026-14"}
    assert chair_client.get("/services/domains/board").status_code == 403
    assert (
        chair_client.post(f"/services/{service.id}/domain/board", data=decision).status_code == 403
    )
    assert tenant.post(f"/services/{service.id}/domain/board", data=decision).status_code == 403
    assert _registration(service).board_state is BoardState.ASKED

    # The board's queue has it (counted in the board's navigation); a decision without the
    # resolution's reference is refused.
    queue = html(board_client.get("/services/domains/board"))
    assert "1" in queue.select_one("#nav-domain-payments").text
    assert html(chair_client.get("/")).select_one("#nav-domain-payments") is None
    assert "wg-events.org for Docs WG" in queue.select_one("#board-domains").text
    no_ref = board_client.post(
        f"/services/{service.id}/domain/board", data={"decision": "approve", "resolution": ""}
    )
    assert no_ref.status_code == 422 and not _registration(service).foundation_pays
    # A privileged act: a second factor older than 15 minutes is asked for again.
    stale = people.sign_in(app.test_client(), board)
    board.signed_in_session.second_factor_at = utcnow() - timedelta(hours=1)
    db.session.commit()
    asked = stale.post(f"/services/{service.id}/domain/board", data=decision)
    assert asked.status_code != 303 and not _registration(service).foundation_pays
    ok = board_client.post(f"/services/{service.id}/domain/board", data=decision)
    assert ok.status_code == 303
    registration = _registration(service)
    assert registration.foundation_pays and registration.board_resolution == "BR-2026-14"
    assert registration.board_decided_by_id == board.id
    assert "domain.foundation_approved" in _actions(service)
    assert html(board_client.get("/services/domains/board")).select_one("#board-domains-empty")
    shown = html(tenant.get(f"/services/{service.id}")).select_one("#domain-payer").text
    assert "The foundation pays" in shown and "BR-2026-14" in shown

    # Now the registrar's task opens.
    _release_pending_jobs()
    run_due_jobs()
    assert _registration(service).task_open


def test_r10_a_board_decline_leaves_the_tenant_paying(
    app, people, tenant_member, organisation, domain_type, board
):
    service = services.request_service(
        tenant_member,
        organisation,
        domain_type,
        {"domain": "declined.org", "payer": "foundation", "foundation_reason": "please"},
    )
    db.session.commit()
    registrations.board_decide(board, service, False, "BR-2026-15")
    db.session.commit()
    registration = _registration(service)
    assert registration.payer is Payer.TENANT and registration.board_state is BoardState.DECLINED
    assert registration.board_resolution == "BR-2026-15" and not registration.foundation_pays


def test_r10_manual_registrar_task_recorded_by_staff(
    app, client, people, tenant_member, organisation, domain_type, chair, staff
):
    tenant = people.sign_in(client, tenant_member)
    staff_client = people.sign_in(app.test_client(), staff)
    chair_client = people.sign_in(app.test_client(), chair)
    service = _request(tenant, organisation, domain_type, domain="docs-manual.org")
    assert chair_client.post(f"/services/{service.id}/decide/approve").status_code == 303
    run_due_jobs()
    # The manual registrar: a task for staff; the job waits for it.
    assert service.state == ServiceState.PROVISIONING and _registration(service).task_open
    page = html(staff_client.get(f"/services/{service.id}"))
    assert "registrar" in page.select_one("#domain-task").text
    assert page.select_one("#task-form") is not None
    assert html(tenant.get(f"/services/{service.id}")).select_one("#task-form") is None
    # Only staff (and the chair) record it; the tenant cannot.
    data = {"expires_on": "2027-12-02", "registrar": "Gandi"}
    assert tenant.post(f"/services/{service.id}/domain/task", data=data).status_code == 403
    bad = staff_client.post(f"/services/{service.id}/domain/task", data={"expires_on": "soon"})
    assert bad.status_code == 422
    assert staff_client.post(f"/services/{service.id}/domain/task", data=data).status_code == 303
    registration = _registration(service)
    assert registration.task_done_by_id == staff.id and registration.task_done_at is not None
    assert registration.expires_on == date(2027, 12, 2) and registration.registrar == "Gandi"
    assert not registration.task_open
    # Recording it wakes the waiting job: the service is active.
    run_due_jobs()
    db.session.expire_all()
    assert db.session.get(Service, service.id).state == ServiceState.ACTIVE
    assert "domain.registrar_task_done" in _actions(service)
    history = html(tenant.get(f"/services/{service.id}")).select_one("#domain-history").text
    assert f"registrar task done by {staff.name}; expires 2027-12-02" in history

    # A renewal is a job on the registrar: a task again until staff record a later expiry.
    assert tenant.post(f"/services/{service.id}/domain/renew").status_code == 303
    run_due_jobs()
    renewal = db.session.scalar(select(Job).where(Job.kind == registrations.RENEW_JOB))
    assert renewal is not None, _actions(service)
    assert _registration(service).task_open, (renewal.state, renewal.last_error)
    page = html(staff_client.get(f"/services/{service.id}"))
    assert "renew docs-manual.org" in page.select_one("#domain-task").text
    assert renewal.state == JobState.QUEUED and "renew" in renewal.progress
    data = {"expires_on": "2028-12-02"}
    assert staff_client.post(f"/services/{service.id}/domain/task", data=data).status_code == 303
    run_due_jobs()
    db.session.expire_all()
    assert db.session.get(Job, renewal.id).state == JobState.SUCCEEDED
    assert _registration(service).expires_on == date(2028, 12, 2)
    events = db.session.scalars(
        select(DomainEvent.what).where(DomainEvent.registration_id == registration.id)
    ).all()
    assert any("renewed until 2028-12-02" in e for e in events)


def test_r11_the_delegation_of_a_hosted_zone_is_checked_on_a_schedule(
    app, tenant_member, organisation, domain_type, dns_type
):
    zone = services.request_service(tenant_member, organisation, dns_type, {"zone": "hosted.org"})
    zone.state = ServiceState.ACTIVE
    db.session.commit()
    domain = services.request_service(
        tenant_member, organisation, domain_type, {"domain": "hosted.org"}
    )
    db.session.commit()
    assert _registration(domain).zone_service_id == zone.id
    scheduled = enqueue(registrations.DELEGATION_SCHEDULE_JOB)
    db.session.commit()
    assert claim(scheduled.id) and run_job(scheduled.id) == JobState.SUCCEEDED
    checks = db.session.scalars(select(Job).where(Job.kind == "check_delegation")).all()
    assert [(j.subject_type, j.subject_id) for j in checks] == [("service", zone.id)]
    # Run again while one waits: still one check per zone.
    again = enqueue(registrations.DELEGATION_SCHEDULE_JOB)
    db.session.commit()
    assert claim(again.id) and run_job(again.id) == JobState.SUCCEEDED
    assert len(db.session.scalars(select(Job).where(Job.kind == "check_delegation")).all()) == 1


def test_r11_a_zone_hosted_after_its_domain_is_linked_by_the_schedule(
    app, tenant_member, organisation, domain_type, dns_type
):
    domain = services.request_service(
        tenant_member, organisation, domain_type, {"domain": "later.org"}
    )
    domain.state = ServiceState.ACTIVE
    db.session.commit()
    assert _registration(domain).zone_service_id is None
    zone = services.request_service(tenant_member, organisation, dns_type, {"zone": "later.org"})
    zone.state = ServiceState.ACTIVE
    db.session.commit()
    scheduled = enqueue(registrations.DELEGATION_SCHEDULE_JOB)
    db.session.commit()
    assert claim(scheduled.id) and run_job(scheduled.id) == JobState.SUCCEEDED
    assert _registration(domain).zone_service_id == zone.id
    checks = db.session.scalars(select(Job).where(Job.kind == "check_delegation")).all()
    assert [j.subject_id for j in checks] == [zone.id]


def test_a_domain_is_asked_for_once(app, tenant_member, organisation, domain_type):
    from infrawg.errors import Conflict

    services.request_service(tenant_member, organisation, domain_type, {"domain": "once.org"})
    db.session.commit()
    with pytest.raises(Conflict):
        services.request_service(tenant_member, organisation, domain_type, {"domain": "once.org"})


def test_a_tracked_domain_needs_no_registrar_task(
    app, people, tenant_member, organisation, domain_type, chair
):
    from infrawg.provisioning import lifecycle

    service = services.request_service(
        tenant_member,
        organisation,
        domain_type,
        {"domain": "elsewhere.org", "mode": "track", "expires_on": "2027-06-01"},
    )
    db.session.commit()
    services.decide(chair, service, approve=True, reason="ok")
    db.session.commit()
    run_due_jobs()
    service = lifecycle.load(service.id)
    assert service.state == ServiceState.ACTIVE
    registration = _registration(service)
    assert not registration.task_open and registration.expires_on == date(2027, 6, 1)


def test_r11_a_registrar_that_can_sets_the_hosted_zones_ns_and_ds(
    app, tenant_member, organisation, dns_type, chair
):
    api_type = ServiceType(name="API domains", kind="domain", provider="settingregistrar")
    db.session.add(api_type)
    zone = services.request_service(tenant_member, organisation, dns_type, {"zone": "api.org"})
    zone.state = ServiceState.ACTIVE
    db.session.commit()
    service = services.request_service(tenant_member, organisation, api_type, {"domain": "api.org"})
    db.session.commit()
    services.decide(chair, service, approve=True, reason="ok")
    db.session.commit()
    run_due_jobs()
    assert SettingRegistrar.SET == [("api.org", ["ns1.example.net.", "ns2.example.net."], [])]


def test_a_domain_service_is_decommissioned_without_touching_the_registrar(
    app, client, people, tenant_member, organisation, domain_type
):
    from infrawg.provisioning import lifecycle

    service = services.request_service(
        tenant_member,
        organisation,
        domain_type,
        {"domain": "gone.org", "mode": "track", "expires_on": "2027-01-01"},
    )
    service.state = ServiceState.ACTIVE
    db.session.commit()
    service = lifecycle.load(service.id)
    reviewed = lifecycle.digest(lifecycle.review_destroy(tenant_member, service))
    lifecycle.request_decommission(tenant_member, service, reviewed)
    db.session.commit()
    run_due_jobs()
    db.session.expire_all()
    ran = db.session.scalars(select(Job).where(Job.kind != "notices.deliver")).all()
    assert db.session.get(Service, service.id).state == ServiceState.DECOMMISSIONED, [
        (j.kind, j.state, j.last_error) for j in ran
    ]
    tenant = people.sign_in(client, tenant_member)
    assert tenant.get(f"/services/{service.id}").status_code == 200
