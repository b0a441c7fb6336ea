"""R4 under races: real concurrent requests against a live site (SQLite and PostgreSQL).

Before the organisation row was locked, two tenant members leaving at the same moment
both read "another one remains" and both left (5 of 7 rounds on PostgreSQL).
"""

from __future__ import annotations

from bs4 import BeautifulSoup
from sqlalchemy import func, select

from infrawg.extensions import db
from infrawg.governance.models import Role, RoleGrant
from infrawg.membership.models import MembershipStatus, Person
from infrawg.tenants.models import (
    ApplicationState,
    COApplication,
    OrganisationKind,
    OrganisationStatus,
    TenantInvitation,
    TenantMember,
    TenantOrganisation,
)
from infrawg.tenants.service import INVITE
from infrawg.tokens import make_token
from tests.concurrency import Visitor, at_once, live_site, make_person
from tests.conftest import make_organisation

ROUNDS = 5


def current_tenant_members(organisation_id: int) -> int:
    db.session.remove()
    return db.session.scalar(
        select(func.count())
        .select_from(TenantMember)
        .where(TenantMember.organisation_id == organisation_id, TenantMember.ended_at.is_(None))
    )


def two_tenant_members(site, round_no: int):
    """An approved WG whose two tenant members are signed in on their own visitors."""
    with site.app.app_context():
        first = make_person(f"First {round_no}", f"first{round_no}@example.org")
        second = make_person(f"Second {round_no}", f"second{round_no}@example.org")
        organisation = make_organisation(f"Race WG {round_no}", first, second)
        emails, slug, org_id = (first.email, second.email), organisation.slug, organisation.id
    visitors = [Visitor(site.url).sign_in(email) for email in emails]
    return visitors, slug, org_id


def refusal(response) -> str:
    page = BeautifulSoup(response.text, "html.parser")
    error = page.select_one("#leave-section .error") or page.select_one(".error-page .message")
    return error.text if error else response.text[-400:]


def test_r4_concurrent_leave_keeps_one_tenant_member(tmp_path):
    with live_site(tmp_path) as site:
        for round_no in range(ROUNDS):
            visitors, slug, org_id = two_tenant_members(site, round_no)
            for visitor in visitors:
                visitor.get(f"/organisations/{slug}")
            responses = at_once(
                [
                    lambda v=v, path=f"/organisations/{slug}/leave": v.post(
                        path, {"reason": "Leaving at once", "confirmed": "1"}
                    )
                    for v in visitors
                ]
            )
            statuses = sorted(r.status_code for r in responses)
            assert statuses == [303, 409], f"round {round_no}: {statuses}"
            refused = next(r for r in responses if r.status_code == 409)
            assert "last tenant member" in refusal(refused)
            with site.app.app_context():
                assert current_tenant_members(org_id) == 1, f"round {round_no}"


def test_r4_concurrent_leaving_the_group_keeps_one_tenant_member(tmp_path):
    with live_site(tmp_path) as site:
        for round_no in range(ROUNDS):
            visitors, _slug, org_id = two_tenant_members(site, round_no)
            responses = at_once(
                [
                    lambda v=v: v.post("/account/leave", {"reason": "Moving on", "confirmed": "1"})
                    for v in visitors
                ]
            )
            statuses = sorted(r.status_code for r in responses)
            assert statuses == [303, 409], f"round {round_no}: {statuses}"
            refused = next(r for r in responses if r.status_code == 409)
            assert "last tenant member" in refusal(refused)
            with site.app.app_context():
                assert current_tenant_members(org_id) == 1, f"round {round_no}"
                left = db.session.scalar(
                    select(func.count())
                    .select_from(Person)
                    .where(
                        Person.status == MembershipStatus.LEFT,
                        Person.email.like(f"%{round_no}@example.org"),
                    )
                )
                assert left == 1, f"round {round_no}: the refused member stays a member"


def test_r4_one_invitation_accepted_twice_at_once_makes_one_tenant_member(tmp_path):
    with live_site(tmp_path) as site:
        for round_no in range(ROUNDS):
            with site.app.app_context():
                liaison = make_person(f"Liaison {round_no}", f"liaison{round_no}@example.org")
                invitee = make_person(f"Invitee {round_no}", f"invitee{round_no}@example.org")
                organisation = make_organisation(f"Hand-over WG {round_no}", liaison)
                invitation = TenantInvitation(
                    organisation_id=organisation.id,
                    email=invitee.email,
                    invited_by_id=liaison.id,
                )
                db.session.add(invitation)
                db.session.commit()
                token = make_token(INVITE, {"invitation": invitation.id, "email": invitee.email})
                email, org_id = invitee.email, organisation.id
            # The invitee clicks "Accept" in two tabs at the same moment.
            tabs = [Visitor(site.url).sign_in(email) for _ in range(2)]
            for tab in tabs:
                tab.get(f"/invitations/{token}")
            responses = at_once(
                [lambda t=t, path=f"/invitations/{token}/accept": t.post(path, {}) for t in tabs]
            )
            statuses = sorted(r.status_code for r in responses)
            assert statuses == [303, 409], f"round {round_no}: {statuses}"
            with site.app.app_context():
                assert current_tenant_members(org_id) == 2, f"round {round_no}"


def test_r8_chair_and_board_approving_at_once_both_count(tmp_path):
    with live_site(tmp_path) as site:
        with site.app.app_context():
            chair = make_person("Cleo Chair", "chair@example.org")
            board = make_person("Bo Board", "board@example.org")
            board.status = MembershipStatus.LEFT  # the board is outside the group
            db.session.add_all(
                [
                    RoleGrant(person_id=chair.id, role=Role.CHAIR, authority="t"),
                    RoleGrant(person_id=board.id, role=Role.BOARD, authority="t"),
                ]
            )
            applicant = make_person("Ada Applicant", "ada@example.org")
            db.session.commit()
            emails, applicant_id = (chair.email, board.email), applicant.id
        deciders = [Visitor(site.url).sign_in(email) for email in emails]
        for round_no in range(ROUNDS):
            with site.app.app_context():
                organisation = TenantOrganisation(
                    kind=OrganisationKind.CO,
                    name=f"Meetups {round_no}",
                    slug=f"meetups-{round_no}",
                    status=OrganisationStatus.APPLYING,
                )
                db.session.add(organisation)
                db.session.flush()
                db.session.add(
                    TenantMember(organisation_id=organisation.id, person_id=applicant_id)
                )
                application = COApplication(
                    organisation_id=organisation.id,
                    applicant_id=applicant_id,
                    services="DNS",
                    mission_statement="Local meetups",
                    state=ApplicationState.WAITING_FOR_BOTH,
                )
                db.session.add(application)
                db.session.commit()
                application_id = application.id
            for decider in deciders:
                decider.get("/")
            responses = at_once(
                [
                    lambda d=d, path=f"/applications/{application_id}/{side}/approve": d.post(
                        path, {"reason": "Furthers the mission"}
                    )
                    for d, side in zip(deciders, ("chair", "board"), strict=True)
                ]
            )
            assert [r.status_code for r in responses] == [303, 303], f"round {round_no}"
            with site.app.app_context():
                db.session.remove()
                decided = db.session.get(COApplication, application_id)
                assert decided.state == ApplicationState.APPROVED, f"round {round_no}"
                organisation = db.session.get(TenantOrganisation, decided.organisation_id)
                assert organisation.status == OrganisationStatus.APPROVED
