"""R1, R9: the catalogue, requests from tenant members, the chair's decisions, state mail."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from infrawg.audit import AuditEvent
from infrawg.extensions import db
from infrawg.jobs.models import Job, JobState
from infrawg.provisioning.kinds.dns.models import DnsRecord, DnsZone
from infrawg.provisioning.models import Service, ServiceState, ServiceType
from infrawg.tenants.models import OrganisationStatus, TenantMember
from tests.conftest import html, outbox_to
from tests.queries import counted_queries


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def actions(subject_type: str = "service") -> list[str]:
    return list(
        db.session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.subject_type == subject_type)
            .order_by(AuditEvent.id)
        )
    )


def request_zone(client, organisation, service_type, zone="docs.example.org", **extra):
    data = {
        "organisation": organisation.id,
        "service_type": service_type.id,
        "zone": zone,
        "purpose": "docs",
    } | extra
    return client.post("/services/request", data=data)


@pytest.fixture
def tenant(client, people, tenant_member, organisation):
    return people.sign_in(client, tenant_member)


@pytest.fixture
def chair_client(app, people, chair):
    return people.sign_in(app.test_client(), chair)


# -- the catalogue (R9) --------------------------------------------------------------------------


def test_r9_chair_adds_a_service_type_and_sets_capacity(chair_client):
    response = chair_client.post(
        "/services/catalogue",
        data={"name": "DNS hosting", "provider": "zonefile", "description": "Zones", "capacity": 3},
    )
    assert response.status_code == 303
    added = db.session.scalar(select(ServiceType).where(ServiceType.name == "DNS hosting"))
    assert (added.kind, added.provider, added.capacity) == ("dns", "zonefile", 3)
    response = chair_client.post(
        f"/services/catalogue/{added.id}", data={f"t{added.id}-capacity": "7"}
    )
    assert response.status_code == 303
    assert added.capacity == 7 and added.active is False  # unticked: withdrawn
    assert actions("service_type") == ["service_type.added", "service_type.updated"]
    page = html(chair_client.get("/services/catalogue"))
    assert page.select_one(f"#type-{added.id} .capacity").text == "0 of 7"


def test_r9_a_capacity_past_the_column_range_is_a_form_error(chair_client):
    response = chair_client.post(
        "/services/catalogue",
        data={"name": "Huge", "provider": "zonefile", "capacity": str(2**31)},
    )
    assert response.status_code == 422
    assert db.session.scalar(select(ServiceType).where(ServiceType.name == "Huge")) is None


def test_r9_only_the_chair_adds_service_types(app, people, staff, dns_type):
    client = people.sign_in(app.test_client(), staff)
    response = client.post(
        "/services/catalogue", data={"name": "Other", "provider": "zonefile", "capacity": 1}
    )
    assert response.status_code == 403
    assert count(ServiceType) == 1


def test_adding_a_type_for_an_unconfigured_provider_is_refused(chair_client):
    response = chair_client.post(
        "/services/catalogue", data={"name": "VMs", "provider": "openstack", "capacity": 1}
    )
    assert response.status_code == 422
    assert count(ServiceType) == 0


# -- requests (R1) -------------------------------------------------------------------------------


def test_tenant_member_requests_a_zone_and_the_chair_is_shown_it(
    tenant, organisation, dns_type, chair_client, tenant_member
):
    response = request_zone(tenant, organisation, dns_type, dnssec="y")
    assert response.status_code == 303
    service = db.session.scalar(select(Service))
    assert (service.name, service.state) == ("docs.example.org.", ServiceState.REQUESTED)
    zone = db.session.scalar(select(DnsZone))
    assert zone.dnssec is True
    # The zonefile provider creates zones: the site's name servers are its apex NS.
    ns = db.session.scalar(select(DnsRecord).where(DnsRecord.rdtype == "NS"))
    assert ns.values == ["ns1.example.net.", "ns2.example.net."]
    assert actions() == ["service.requested"]
    assert outbox_to(tenant_member.email)[-1].subject.startswith("[Infra-WG] docs.example.org.")
    page = html(chair_client.get("/services?state=requested"))
    assert page.select_one(f"#service-{service.id} .status").text.startswith("Requested")


@pytest.mark.parametrize(
    "status", [OrganisationStatus.LAPSED, OrganisationStatus.APPLYING, OrganisationStatus.DECLINED]
)
def test_r1_ineligible_organisation_cannot_request_a_service(
    tenant, organisation, dns_type, status
):
    organisation.status = status
    db.session.commit()
    response = request_zone(tenant, organisation, dns_type)
    assert response.status_code == 403
    page = html(response)
    assert "Services go only to approved working groups" in page.text
    assert status.label.lower() in page.text
    assert count(Service) == 0 and count(DnsZone) == 0


def test_r1_the_request_page_says_why_an_organisation_cannot_ask(tenant, organisation, dns_type):
    organisation.status = OrganisationStatus.LAPSED
    db.session.commit()
    page = html(tenant.get("/services/request"))
    assert "cannot receive services" in page.select_one(".refusal").text


def test_r1_a_member_who_is_not_a_tenant_member_cannot_request(
    app, people, member, organisation, dns_type
):
    client = people.sign_in(app.test_client(), member)
    response = request_zone(client, organisation, dns_type)
    assert response.status_code == 422  # the organisation is not among their choices
    assert count(Service) == 0


def test_r1_a_former_tenant_member_cannot_request(tenant, tenant_member, organisation, dns_type):
    link = db.session.scalar(
        select(TenantMember).where(
            TenantMember.person_id == tenant_member.id,
            TenantMember.organisation_id == organisation.id,
        )
    )
    link.ended_at = link.joined_at
    db.session.commit()
    assert request_zone(tenant, organisation, dns_type).status_code == 422
    assert count(Service) == 0


@pytest.mark.parametrize(
    ("zone", "message"),
    [
        ("org", "top-level domain"),
        ("bad..name", "not a valid DNS name"),
        ("", "needs a name"),
    ],
)
def test_bad_zone_names_are_refused_clearly_and_nothing_is_written(
    tenant, organisation, dns_type, zone, message
):
    response = request_zone(tenant, organisation, dns_type, zone=zone)
    assert response.status_code == 422
    assert message in html(response).select_one("#zone-errors").text
    assert count(Service) == 0


def test_a_zone_already_hosted_cannot_be_requested_twice(tenant, organisation, dns_type):
    assert request_zone(tenant, organisation, dns_type).status_code == 303
    response = request_zone(tenant, organisation, dns_type, zone="DOCS.example.org.")
    assert response.status_code == 409
    assert "already hosted" in html(response).select_one("#zone-errors").text
    assert count(Service) == 1


# -- decisions (R9) ------------------------------------------------------------------------------


def test_approving_a_service_asks_for_the_second_factor_after_15_minutes(
    tenant, organisation, dns_type, chair_client, chair
):
    from datetime import timedelta

    import pyotp

    from infrawg.membership.models import AccountSession, TotpFactor
    from infrawg.timeutil import utcnow

    secret = pyotp.random_base32()
    db.session.add(TotpFactor(person_id=chair.id, secret=secret))
    request_zone(tenant, organisation, dns_type)
    service = db.session.scalar(select(Service))
    for record in db.session.scalars(select(AccountSession)):
        record.second_factor_at = utcnow() - timedelta(minutes=16)
    db.session.commit()
    url = f"/services/{service.id}/decide/approve"
    assert chair_client.post(url, data={"reason": "ok"}).status_code == 401
    assert db.session.get(Service, service.id).state == ServiceState.REQUESTED
    code = pyotp.TOTP(secret).now()
    approved = chair_client.post(url, data={"reason": "ok", "second_factor_code": code})
    assert approved.status_code == 303
    assert db.session.get(Service, service.id).state == ServiceState.APPROVED


def test_chair_approves_and_provisioning_is_queued(
    tenant, organisation, dns_type, chair_client, tenant_member
):
    request_zone(tenant, organisation, dns_type)
    service = db.session.scalar(select(Service))
    response = chair_client.post(f"/services/{service.id}/decide/approve", data={"reason": ""})
    assert response.status_code == 303
    assert service.state == ServiceState.APPROVED
    (job,) = db.session.scalars(select(Job)).all()
    assert (job.kind, job.args, job.state) == (
        "provision_service",
        {"service_id": service.id},
        JobState.QUEUED,
    )
    assert actions() == ["service.requested", "service.approved"]
    assert "Approved" in outbox_to(tenant_member.email)[-1].subject


def test_r9_chair_declines_with_a_reason_the_tenant_receives(
    tenant, organisation, dns_type, chair_client, tenant_member
):
    request_zone(tenant, organisation, dns_type)
    service = db.session.scalar(select(Service))
    response = chair_client.post(f"/services/{service.id}/decide/decline", data={"reason": ""})
    assert response.status_code == 422
    assert "Give the reason" in html(response).select_one("#reason-errors").text
    assert service.state == ServiceState.REQUESTED
    response = chair_client.post(
        f"/services/{service.id}/decide/decline", data={"reason": "Use the foundation's zone."}
    )
    assert response.status_code == 303
    assert (service.state, service.decision_reason) == (
        ServiceState.DECLINED,
        "Use the foundation's zone.",
    )
    assert "Use the foundation's zone." in outbox_to(tenant_member.email)[-1].body
    assert count(Job) == 0
    # A declined zone frees its name for a new request.
    assert request_zone(tenant, organisation, dns_type).status_code == 303


def test_r9_over_capacity_needs_override_with_reason(tenant, organisation, dns_type, chair_client):
    dns_type.capacity = 1
    db.session.commit()
    request_zone(tenant, organisation, dns_type, zone="one.example.org")
    request_zone(tenant, organisation, dns_type, zone="two.example.org")
    first, second = db.session.scalars(select(Service).order_by(Service.id)).all()
    assert chair_client.post(f"/services/{first.id}/decide/approve").status_code == 303

    page = html(chair_client.get(f"/services/{second.id}"))
    assert "1 of 1 in use" in page.select_one("#decision .capacity").text
    response = chair_client.post(f"/services/{second.id}/decide/approve", data={"reason": "ok"})
    assert response.status_code == 409
    assert "at capacity (1 of 1 in use)" in html(response).select_one("#reason-errors").text
    # Ticking the override is not enough: the reason is required.
    response = chair_client.post(
        f"/services/{second.id}/decide/approve", data={"override": "y", "override_reason": ""}
    )
    assert response.status_code == 409
    assert second.state == ServiceState.REQUESTED and count(Job) == 1

    response = chair_client.post(
        f"/services/{second.id}/decide/approve",
        data={"override": "y", "override_reason": "Second zone for the migration, one month."},
    )
    assert response.status_code == 303
    assert second.state == ServiceState.APPROVED
    assert second.capacity_override_reason == "Second zone for the migration, one month."
    assert "service.capacity_overridden" in actions()


def test_r9_only_the_chair_decides(app, people, staff, tenant, organisation, dns_type):
    request_zone(tenant, organisation, dns_type)
    service = db.session.scalar(select(Service))
    client = people.sign_in(app.test_client(), staff)
    assert client.post(f"/services/{service.id}/decide/approve").status_code == 403
    assert service.state == ServiceState.REQUESTED
    assert "refused" in actions(None) or count(AuditEvent, AuditEvent.action == "refused") == 1


def test_r1_approval_is_refused_when_the_organisation_lapsed_meanwhile(
    tenant, organisation, dns_type, chair_client
):
    request_zone(tenant, organisation, dns_type)
    organisation.status = OrganisationStatus.LAPSED
    db.session.commit()
    service = db.session.scalar(select(Service))
    response = chair_client.post(f"/services/{service.id}/decide/approve")
    assert response.status_code == 409
    assert service.state == ServiceState.REQUESTED and count(Job) == 0


def test_a_decided_request_cannot_be_decided_again(tenant, organisation, dns_type, chair_client):
    request_zone(tenant, organisation, dns_type)
    service = db.session.scalar(select(Service))
    chair_client.post(f"/services/{service.id}/decide/approve")
    response = chair_client.post(f"/services/{service.id}/decide/decline", data={"reason": "x"})
    assert response.status_code == 409
    assert service.state == ServiceState.APPROVED


# -- who sees what -------------------------------------------------------------------------------


def test_tenant_members_see_only_their_organisations_services(
    app, people, tenant, organisation, dns_type, member
):
    request_zone(tenant, organisation, dns_type)
    service = db.session.scalar(select(Service))
    page = html(tenant.get("/services"))
    assert page.select_one(f"#service-{service.id}")
    other = people.sign_in(app.test_client(), member)
    assert not html(other.get("/services")).select("#services tbody tr")
    # Cross-tenant lookups find nothing.
    assert other.get(f"/services/{service.id}").status_code == 404


def test_services_list_runs_a_fixed_number_of_queries(
    app, people, tenant, organisation, dns_type, staff
):
    client = people.sign_in(app.test_client(), staff)

    def queries_for_list() -> int:
        with counted_queries() as seen:
            assert client.get("/services").status_code == 200
        return len(seen)

    request_zone(tenant, organisation, dns_type, zone="a1.example.org")
    few = queries_for_list()
    for i in range(8):
        request_zone(tenant, organisation, dns_type, zone=f"b{i}.example.org")
    assert queries_for_list() == few


def test_the_chairs_queue_lists_service_requests_waiting_for_a_decision(
    tenant, organisation, dns_type, chair_client
):
    assert request_zone(tenant, organisation, dns_type).status_code == 303
    waiting = db.session.scalar(select(Service))
    page = html(chair_client.get("/chair"))
    rows = page.select("#chair-service-requests tbody tr")
    assert [row["id"] for row in rows] == [f"chair-service-{waiting.id}"]
    link = rows[0].select_one("a")
    assert link["href"] == f"/services/{waiting.id}"
    assert "docs.example.org" in link.text
    assert "Docs WG" in rows[0].text

    waiting.state = ServiceState.DECLINED
    db.session.commit()
    page = html(chair_client.get("/chair"))
    assert not page.select("#chair-service-requests")
    assert "No service request is waiting" in page.select_one("#chair-services-heading").parent.text


def test_tenant_members_see_their_organisations_services_and_a_request_link_on_its_page(
    tenant, organisation, dns_type, app, people, member
):
    assert request_zone(tenant, organisation, dns_type).status_code == 303
    waiting = db.session.scalar(select(Service))
    page = html(tenant.get(f"/organisations/{organisation.slug}"))
    rows = page.select("#organisation-services li")
    assert [row["id"] for row in rows] == [f"org-service-{waiting.id}"]
    assert rows[0].select_one(".tag").text == ServiceState.REQUESTED.label
    link = page.select_one("#request-service-link")["href"]
    assert link == f"/services/request?organisation={organisation.id}"
    form = html(tenant.get(link))
    chosen = form.select_one("select[name=organisation] option[selected]")
    assert chosen["value"] == str(organisation.id)

    # A member who is not its tenant member sees no services section at all.
    other = people.sign_in(app.test_client(), member)
    assert (
        html(other.get(f"/organisations/{organisation.slug}")).select_one("#organisation-services")
        is None
    )
