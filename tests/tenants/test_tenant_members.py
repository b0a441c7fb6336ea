"""R4, R5: tenant members, invitations, hand-over, and who is told about impacts."""

from __future__ import annotations

from sqlalchemy import select

from infrawg.extensions import db
from infrawg.membership.models import MembershipStatus
from infrawg.tenants.models import TenantInvitation, TenantMember, TenantOrganisation
from infrawg.tenants.service import contacts_for
from tests.conftest import html, link_in, outbox_to
from tests.queries import count

SLUG = "tenant-fixture-wg"


def wg() -> TenantOrganisation:
    return db.session.scalar(select(TenantOrganisation).where(TenantOrganisation.slug == SLUG))


def current_tenants() -> list[int]:
    return db.session.scalars(
        select(TenantMember.person_id).where(TenantMember.ended_at.is_(None))
    ).all()


def invite(app, people, inviter, email, path="invite"):
    client = people.sign_in(app.test_client(), inviter)
    response = client.post(f"/organisations/{SLUG}/{path}", data={"email": email})
    assert response.status_code == 303, response.get_data(as_text=True)[-600:]
    return link_in(outbox_to(email)[-1].body, "/invitations/")


def test_r4_last_tenant_member_cannot_leave(client, people, tenant_member):
    people.sign_in(client, tenant_member)
    page = html(client.get(f"/organisations/{SLUG}"))
    assert "only tenant member" in page.select_one("#leave-section .r4").text
    response = client.post(f"/organisations/{SLUG}/leave", data={"confirmed": "1"})
    assert response.status_code == 409
    assert "last tenant member" in html(response).select_one("#leave-section .error").text
    assert current_tenants() == [tenant_member.id]


def test_r4_last_tenant_member_leaving_the_group_is_offered_the_hand_over_form(
    client, people, tenant_member, member
):
    people.sign_in(client, tenant_member)
    for confirmed in ("", "1"):
        response = client.post("/account/leave", data={"reason": "", "confirmed": confirmed})
        assert response.status_code == 409
        page = html(response)
        assert page.select_one(".error-page") is None
        assert "last tenant member" in page.select_one("#handover-needed .error").text
        form = page.select_one("#handover-needed form")
        assert form["action"] == "/organisations/tenant-fixture-wg/handover"
        assert page.select_one("form[action='/account/leave']") is None
    assert tenant_member.status == MembershipStatus.MEMBER
    assert current_tenants() == [tenant_member.id]

    response = client.post(form["action"], data={"email": member.email})
    assert response.status_code == 303
    assert "taking over" in outbox_to(member.email)[-1].body


def test_r4_hand_over_then_leave(app, client, people, tenant_member, member):
    link = invite(app, people, tenant_member, member.email, path="handover")
    assert "taking over" in outbox_to(member.email)[-1].body
    successor = people.sign_in(app.test_client(), member)
    assert successor.post(link + "/accept").status_code == 303
    assert outbox_to(tenant_member.email)[-1].subject == (
        f"[Infra-WG] {member.name} accepted the hand-over of Tenant Fixture WG"
    )
    people.sign_in(client, tenant_member)
    step = client.post(f"/organisations/{SLUG}/leave", data={"reason": "New job"})
    assert "Stop being a tenant member" in html(step).select_one("#leave-section .confirm").text
    response = client.post(
        f"/organisations/{SLUG}/leave", data={"reason": "New job", "confirmed": "1"}
    )
    assert response.status_code == 303
    assert current_tenants() == [member.id]


def test_r5_contacts_are_the_current_tenant_members_who_are_members(
    app, people, tenant_member, chair, member
):
    link = invite(app, people, chair, member.email)
    people.sign_in(app.test_client(), member).post(link + "/accept")
    assert contacts_for(wg()) == [tenant_member, member]
    member.status = MembershipStatus.LEFT  # not a member of the group: not a contact
    db.session.commit()
    assert contacts_for(wg()) == [tenant_member]
    page = html(people.sign_in(app.test_client(), chair).get(f"/organisations/{SLUG}"))
    assert [li.text for li in page.select("#contacts li")] == [
        f"{tenant_member.name} <{tenant_member.email}>"
    ]


def test_accepting_an_invitation_twice_is_refused(app, people, tenant_member, member):
    link = invite(app, people, tenant_member, member.email)
    invitee = people.sign_in(app.test_client(), member)
    assert invitee.post(link + "/accept").status_code == 303
    before = count(TenantMember)
    response = invitee.post(link + "/accept")
    assert response.status_code == 409
    assert "already accepted" in html(response).select_one(".message").text
    assert count(TenantMember) == before


def test_an_invitation_with_a_tampered_token_is_refused(app, people, tenant_member, member):
    link = invite(app, people, tenant_member, member.email)
    invitee = people.sign_in(app.test_client(), member)
    response = invitee.post(link[:-3] + "xyz/accept")
    assert response.status_code == 400
    assert "not valid" in html(response).select_one(".message").text
    assert current_tenants() == [tenant_member.id]
    assert db.session.scalar(select(TenantInvitation.accepted_at)) is None


def test_an_invitee_must_be_a_member_of_the_group(app, people, tenant_member, applicant):
    link = invite(app, people, tenant_member, applicant.email)
    response = people.sign_in(app.test_client(), applicant).post(link + "/accept")
    assert response.status_code == 403
    assert "join the group first" in html(response).select_one(".message").text
    assert current_tenants() == [tenant_member.id]


def test_only_the_chair_or_a_tenant_member_invites(app, people, member, tenant_member):
    client = people.sign_in(app.test_client(), member)
    response = client.post(f"/organisations/{SLUG}/invite", data={"email": "x@example.org"})
    assert response.status_code == 403
    assert count(TenantInvitation) == 0
