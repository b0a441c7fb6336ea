"""R1, R7, R8: organisations, their eligibility, and CO applications."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from infrawg.audit import AuditEvent
from infrawg.extensions import db
from infrawg.tenants.models import (
    ApplicationState,
    COApplication,
    OrganisationKind,
    OrganisationStatus,
    Side,
    TenantMember,
    TenantOrganisation,
)
from infrawg.tenants.service import contacts_for
from tests.conftest import html, outbox_to
from tests.queries import count, counted_queries

WG = {
    "name": "Packaging WG",
    "slug": "packaging-wg",
    "approval_ref": "Membership vote 2026-03",
    "description": "Packaging tools",
    "mission": "",
    "website": "",
}
CO = {
    "name": "Sprint Organisers",
    "slug": "sprints",
    "description": "Sprints at conferences",
    "website": "https://sprints.example.org",
    "services": "DNS and a small VM",
    "mission_statement": "Sprints bring new contributors to the foundation's projects.",
}


def organisation(slug: str) -> TenantOrganisation:
    return db.session.scalar(select(TenantOrganisation).where(TenantOrganisation.slug == slug))


def fixture_wg() -> TenantOrganisation:
    return organisation("tenant-fixture-wg")


@pytest.fixture
def applied(client, people, member) -> COApplication:
    people.sign_in(client, member)
    response = client.post("/organisations/apply", data=CO)
    assert response.status_code == 303, response.get_data(as_text=True)[-600:]
    return db.session.scalar(select(COApplication))


def decide(client, application, side, decision, reason="Fits the mission.", **extra):
    data = {"reason": reason} | ({"confirmed": "1"} if decision == "decline" else {}) | extra
    return client.post(f"/applications/{application.id}/{side}/{decision}", data=data)


def test_r1_only_approved_organisations_are_eligible(client, people, chair, applied):
    assert not organisation("sprints").eligible
    people.sign_in(client, chair)
    client.post("/organisations/new-wg", data=WG)
    assert organisation("packaging-wg").eligible
    page = html(client.get("/organisations"))
    statuses = {
        row.select_one("a").text: row.select_one(".status").text
        for row in page.select("tr.organisation")
    }
    assert statuses["Packaging WG"] == "Eligible for services"
    assert statuses["Sprint Organisers"].startswith("Applying")


def test_r7_a_wg_approved_by_the_membership_is_eligible_at_once(client, people, chair):
    people.sign_in(client, chair)
    response = client.post("/organisations/new-wg", data=WG)
    assert response.status_code == 303
    wg = organisation("packaging-wg")
    assert wg.kind == OrganisationKind.WG
    assert wg.status == OrganisationStatus.APPROVED
    assert wg.approval_ref == "Membership vote 2026-03"
    page = html(client.get("/organisations/packaging-wg"))
    assert "Membership vote 2026-03" in page.select_one(".approval").text


def test_r7_a_wg_without_its_approval_reference_is_refused(client, people, chair):
    people.sign_in(client, chair)
    response = client.post("/organisations/new-wg", data=WG | {"approval_ref": ""})
    assert response.status_code == 422
    assert "membership's approval" in html(response).select_one("#approval_ref-errors").text
    assert organisation("packaging-wg") is None


def test_r7_when_the_charter_ends_services_are_suspended_and_it_applies_as_co(
    app, client, people, chair, board, tenant_member
):
    wg = fixture_wg()
    people.sign_in(client, chair)
    step = client.post("/organisations/tenant-fixture-wg/end-charter", data={"reason": "x"})
    assert "End the charter" in html(step).select_one("#charter-section .confirm").text
    assert wg.status == OrganisationStatus.APPROVED
    client.post(
        "/organisations/tenant-fixture-wg/end-charter",
        data={"reason": "Not renewed in 2026", "confirmed": "1"},
    )
    assert wg.status == OrganisationStatus.LAPSED
    assert wg.services_suspended and not wg.eligible
    # R5: its tenant members are told.
    assert outbox_to(tenant_member.email)[-1].subject == (
        "[Infra-WG] Tenant Fixture WG: services suspended"
    )

    liaison = people.sign_in(app.test_client(), tenant_member)
    response = liaison.post(
        "/organisations/tenant-fixture-wg/apply-co",
        data={"services": "DNS", "mission_statement": "We keep the docs online."},
    )
    assert response.status_code == 303
    application = db.session.scalar(select(COApplication))
    assert application.state == ApplicationState.WAITING_FOR_BOTH
    assert wg.services_suspended  # R7: services wait on the decision

    decide(people.sign_in(app.test_client(), chair), application, "chair", "approve")
    assert wg.services_suspended
    decide(people.sign_in(app.test_client(), board), application, "board", "approve")
    assert application.state == ApplicationState.APPROVED
    assert wg.kind == OrganisationKind.CO
    assert wg.eligible and not wg.services_suspended


def test_r8_a_co_is_eligible_when_both_the_chair_and_the_board_approve(
    app, client, people, member, chair, board, applied
):
    assert {m.subject for m in outbox_to(chair.email)} >= {
        "[Infra-WG] Sprint Organisers applies for services"
    }
    assert outbox_to(board.email)
    assert contacts_for(organisation("sprints")) == [member]  # the applicant is its liaison

    board_client = people.sign_in(app.test_client(), board)
    assert html(board_client.get("/board")).select_one("#nav-board-queue .count").text == "1"
    response = board_client.post(
        f"/applications/{applied.id}/board/approve",
        data={"reason": "Recognised at the May meeting"},
        headers={"HX-Request": "true"},
    )
    row = html(response)
    assert row.select_one("html") is None
    assert row.select_one(".state").text == "Waiting for the chair"
    assert organisation("sprints").status == OrganisationStatus.APPLYING

    chair_client = people.sign_in(app.test_client(), chair)
    assert html(chair_client.get("/chair")).select_one("#nav-chair-queue .count").text == "1"
    decide(chair_client, applied, "chair", "approve", reason="Small and useful")
    assert applied.state == ApplicationState.APPROVED
    assert applied.decision_of(Side.CHAIR).decision_reason == "Small and useful"
    assert applied.decision_of(Side.BOARD).decision_reason == "Recognised at the May meeting"
    assert organisation("sprints").eligible
    assert outbox_to(member.email)[-1].subject == (
        "[Infra-WG] Sprint Organisers: application approved"
    )


def test_r8_a_declined_application_is_kept_with_its_reasons(
    app, client, people, member, chair, applied
):
    chair_client = people.sign_in(app.test_client(), chair)
    step = chair_client.post(
        f"/applications/{applied.id}/chair/decline", data={"reason": "Out of scope"}, htmx=True
    )
    assert "Decline the application" in html(step).select_one(".confirm").text
    assert applied.state.open
    decide(chair_client, applied, "chair", "decline", reason="Out of scope")
    assert applied.state == ApplicationState.DECLINED
    assert organisation("sprints").status == OrganisationStatus.DECLINED
    assert count(COApplication) == 1
    page = html(client.get("/organisations/sprints"))
    row = page.select_one(f"#application-{applied.id}")
    assert "Declined" in row.select_one(".state").text
    assert "Out of scope" in row.select_one(".decision-chair").text


def test_r8_a_board_decision_by_a_non_board_person_is_refused(app, people, chair, applied):
    chair_client = people.sign_in(app.test_client(), chair)
    response = decide(chair_client, applied, "board", "approve")
    assert response.status_code == 403
    assert "Only the board" in html(response).select_one(".message").text
    db.session.refresh(applied)
    assert applied.decision_of(Side.BOARD) is None
    assert applied.state == ApplicationState.WAITING_FOR_BOTH
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "refused"))


def test_r8_a_decision_without_a_reason_is_refused(app, people, board, applied):
    response = decide(people.sign_in(app.test_client(), board), applied, "board", "approve", "")
    assert response.status_code == 422
    assert "reason" in html(response).select_one(".error").text
    db.session.refresh(applied)
    assert applied.decision_of(Side.BOARD) is None


def test_r8_a_co_application_without_a_mission_statement_is_refused(client, people, member):
    people.sign_in(client, member)
    before = (count(TenantOrganisation), count(COApplication), count(TenantMember))
    response = client.post("/organisations/apply", data=CO | {"mission_statement": "  "})
    assert response.status_code == 422
    assert "further the foundation's mission" in (
        html(response).select_one("#mission_statement-errors").text
    )
    assert (count(TenantOrganisation), count(COApplication), count(TenantMember)) == before


def test_organisations_list_has_no_n_plus_one(client, people, member, chair):
    people.sign_in(client, member)
    db.session.expire_all()
    with counted_queries() as few:
        client.get("/organisations")
    for n in range(8):
        org = TenantOrganisation(
            kind=OrganisationKind.WG, name=f"WG {n}", slug=f"wg-{n}", status="approved"
        )
        db.session.add(org)
        db.session.flush()
        db.session.add(TenantMember(organisation_id=org.id, person_id=people.make().id))
    db.session.commit()
    db.session.expire_all()
    with counted_queries() as many:
        page = html(client.get("/organisations"))
    assert len(page.select("tr.organisation")) == 8
    assert len(many) == len(few) + 2  # the contacts and their people, once each
