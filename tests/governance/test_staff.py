"""R3: staff status is at the chair's sole discretion; members ask; staff step down."""

from __future__ import annotations

from sqlalchemy import select

from infrawg.audit import AuditEvent
from infrawg.extensions import db
from infrawg.governance.models import Role, RoleGrant, StaffRequest, StaffRequestState
from infrawg.membership.models import MembershipStatus
from tests.conftest import html, outbox_to
from tests.queries import count


def staff_grants(person) -> list[RoleGrant]:
    return db.session.scalars(
        select(RoleGrant).where(
            RoleGrant.person_id == person.id,
            RoleGrant.role == Role.STAFF,
            RoleGrant.ended_at.is_(None),
        )
    ).all()


def ask(client, people, person, motivation="I run DNS at work.") -> StaffRequest:
    people.sign_in(client, person)
    response = client.post("/account/roles/staff-request", data={"motivation": motivation})
    assert response.status_code == 303, response.get_data(as_text=True)[-800:]
    return db.session.scalar(select(StaffRequest).where(StaffRequest.person_id == person.id))


def test_r3_member_asks_and_the_chair_grants_inline(app, client, people, member, chair):
    staff_request = ask(client, people, member)
    assert staff_request.state == StaffRequestState.OPEN
    assert outbox_to(chair.email)[-1].subject == f"[Infra-WG] {member.name} asks for staff status"

    decider = people.sign_in(app.test_client(), chair)
    queue = html(decider.get("/chair"))
    assert queue.select_one("#nav-chair-queue .count").text == "1"
    assert member.name in queue.select_one(f"#staff-request-{staff_request.id}").text

    response = decider.post(
        f"/chair/staff-requests/{staff_request.id}/grant", data={"reason": "Welcome"}, htmx=True
    )
    row = html(response)
    assert response.status_code == 200
    assert row.select_one("html") is None  # only the row comes back
    assert row.select_one(f"tr#staff-request-{staff_request.id} .status").text == "Granted"
    (grant,) = staff_grants(member)
    assert grant.authority == "chair's decision"
    assert grant.granted_by_id == chair.id
    assert staff_request.state == StaffRequestState.GRANTED
    assert staff_request.grant_id == grant.id
    mail = outbox_to(member.email)[-1]
    assert mail.subject == "[Infra-WG] Your request for staff status was granted"
    assert "Reason: Welcome" in mail.body
    assert db.session.scalar(
        select(AuditEvent).where(
            AuditEvent.action == "staff.granted", AuditEvent.subject_id == member.id
        )
    )


def test_r3_chair_declines_after_confirming_and_the_member_is_emailed(
    app, client, people, member, chair
):
    staff_request = ask(client, people, member)
    decider = people.sign_in(app.test_client(), chair)
    url = f"/chair/staff-requests/{staff_request.id}/decline"

    step = decider.post(url, data={"reason": "Not yet"}, htmx=True)
    assert "Decline the request" in html(step).select_one(".confirm").text
    assert staff_request.state == StaffRequestState.OPEN  # nothing happens before confirming

    response = decider.post(url, data={"reason": "Not yet", "confirmed": "1"})
    assert response.status_code == 303
    assert staff_request.state == StaffRequestState.DECLINED
    assert staff_request.decision_reason == "Not yet"
    assert staff_grants(member) == []
    assert outbox_to(member.email)[-1].subject == (
        "[Infra-WG] Your request for staff status was declined"
    )


def test_r3_declining_without_a_reason_explains_and_changes_nothing(
    app, client, people, member, chair
):
    staff_request = ask(client, people, member)
    decider = people.sign_in(app.test_client(), chair)
    response = decider.post(
        f"/chair/staff-requests/{staff_request.id}/decline",
        data={"reason": "", "confirmed": "1"},
        htmx=True,
    )
    assert response.status_code == 422
    assert "reason for declining" in html(response).select_one(".error").text
    assert staff_request.state == StaffRequestState.OPEN


def test_r3_only_the_chair_decides_on_staff_requests(app, client, people, member, staff):
    staff_request = ask(client, people, member)
    other = people.sign_in(app.test_client(), staff)
    response = other.post(f"/chair/staff-requests/{staff_request.id}/grant", data={"reason": "x"})
    assert response.status_code == 403
    assert staff_request.state == StaffRequestState.OPEN
    assert staff_grants(member) == []


def test_r3_asking_twice_or_without_motivation_is_refused(client, people, member):
    ask(client, people, member)
    again = client.post("/account/roles/staff-request", data={"motivation": "Again"})
    assert again.status_code == 409
    assert "already asked" in html(again).select_one("#motivation-errors").text
    empty = client.post("/account/roles/staff-request", data={"motivation": " "})
    assert empty.status_code == 422
    assert "why you ask" in html(empty).select_one("#motivation-errors").text
    assert count(StaffRequest) == 1


def test_r3_granting_staff_to_a_non_member_is_refused_and_changes_nothing(
    client, people, chair, former_member
):
    people.sign_in(client, chair)
    before = count(RoleGrant)
    response = client.post(
        "/chair/staff", data={"email": former_member.email, "reason": "Good work"}
    )
    assert response.status_code == 409
    assert "not a member of the Infra-WG" in html(response).select_one("#email-errors").text
    assert count(RoleGrant) == before
    assert staff_grants(former_member) == []


def test_r3_a_request_is_not_granted_once_its_member_left(app, client, people, member, chair):
    staff_request = ask(client, people, member)
    member.status = MembershipStatus.LEFT
    db.session.commit()
    decider = people.sign_in(app.test_client(), chair)
    response = decider.post(
        f"/chair/staff-requests/{staff_request.id}/grant", data={"reason": ""}, htmx=True
    )
    assert response.status_code == 409
    assert "not a member" in html(response).select_one(".error").text
    assert staff_request.state == StaffRequestState.OPEN
    assert staff_grants(member) == []


def test_r3_staff_steps_down_to_member_from_the_roles_page_after_confirming(client, people, staff):
    people.sign_in(client, staff)
    page = html(client.get("/account/roles"))
    assert "staff" in page.select_one(".current-roles").text
    asked = html(client.post("/account/roles/step-down", data={"reason": "Less time"}))
    form = asked.select_one("#step-down-confirm form")
    assert form.select_one("input[name=confirmed]")["value"] == "1"
    assert form.select_one("input[name=reason]")["value"] == "Less time"
    assert staff_grants(staff) != []
    response = client.post(
        "/account/roles/step-down", data={"reason": "Less time", "confirmed": "1"}
    )
    assert response.status_code == 303
    assert staff_grants(staff) == []
    page = html(client.get("/account/roles"))
    assert page.select_one(".current-roles").text == "member"
    ended = page.select_one("tr.grant-staff")
    assert "Less time" in ended.text


def test_r3_chair_revokes_staff_after_confirming(app, client, people, chair, staff):
    (grant,) = staff_grants(staff)
    people.sign_in(client, chair)
    step = client.post(f"/chair/staff/{grant.id}/revoke", data={})
    assert step.status_code == 200
    assert "Revoke the staff status" in html(step).select_one(".confirm").text
    assert grant.ended_at is None
    response = client.post(
        f"/chair/staff/{grant.id}/revoke",
        data={"reason": "Inactive for a year", "confirmed": "1"},
        htmx=True,
    )
    assert html(response).select_one(f"#staff-grant-{grant.id} .status").text == "Revoked"
    assert grant.ended_by_id == chair.id
    assert outbox_to(staff.email)[-1].subject == "[Infra-WG] Your staff status was revoked"


def test_r3_leaving_the_group_ends_staff_status(client, people, staff):
    people.sign_in(client, staff)
    response = client.post("/account/leave", data={"reason": "", "confirmed": "1"})
    assert response.status_code == 303
    assert staff_grants(staff) == []


def refusals() -> list[AuditEvent]:
    return db.session.scalars(select(AuditEvent).where(AuditEvent.action == "refused")).all()


def test_r3_chair_cannot_grant_themselves_staff_status_and_the_refusal_is_audited(
    client, people, chair
):
    people.sign_in(client, chair)
    response = client.post("/chair/staff", data={"email": chair.email, "reason": "I am able"})
    assert response.status_code == 403
    message = html(response).select_one(".message").text
    assert "cannot grant or keep it for yourself" in message
    assert staff_grants(chair) == []
    (refusal,) = refusals()
    assert refusal.actor_id == chair.id
    assert "POST /chair/staff" in refusal.reason
    assert "yourself" in refusal.reason


def test_r3_chair_cannot_grant_their_own_staff_request(app, client, people, chair):
    staff_request = ask(client, people, chair, "Let me work the queue too.")
    response = client.post(
        f"/chair/staff-requests/{staff_request.id}/grant", data={"reason": "Sure"}
    )
    assert response.status_code == 403
    db.session.expire_all()
    assert staff_request.state == StaffRequestState.OPEN
    assert staff_grants(chair) == []
    assert len(refusals()) == 1


def appoint_new_chair(app, people, board, person):
    from tests.governance.test_chair import appoint

    response = appoint(people.sign_in(app.test_client(), board), person.email)
    assert response.status_code == 303


def test_r3_r6_staff_of_a_previous_chair_stay_and_wait_for_the_new_chairs_review(
    app, client, people, chair, board, member
):
    engineer = people.make("Eve Engineer")
    people.sign_in(client, chair)
    assert (
        client.post(
            "/chair/staff", data={"email": engineer.email, "reason": "Runs our DNS"}
        ).status_code
        == 303
    )
    assert html(client.get("/chair")).select_one("#staff-review") is None  # their own grant

    appoint_new_chair(app, people, board, member)
    (grant,) = staff_grants(engineer)  # the grant did not end with the office
    new_chair = people.sign_in(app.test_client(), member)
    queue = html(new_chair.get("/chair"))
    item = queue.select_one(f"#staff-review-{grant.id}")
    assert "Eve Engineer" in item.text
    assert f"granted by {chair.name}" in item.text
    assert item.select_one("button").text == "Keep Eve Engineer as staff"

    assert new_chair.post(f"/chair/staff/{grant.id}/keep").status_code == 303
    db.session.expire_all()
    assert grant.reviewed_by_id == member.id
    assert grant.ended_at is None
    assert html(new_chair.get("/chair")).select_one("#staff-review") is None
    kept = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "staff.kept"))
    assert (kept.actor_id, kept.subject_id) == (member.id, engineer.id)


def test_r3_the_new_chairs_dashboard_leads_with_the_staff_to_review(
    app, client, people, chair, board, member
):
    engineer = people.make("Eve Engineer")
    people.sign_in(client, chair)
    client.post("/chair/staff", data={"email": engineer.email, "reason": "Runs our DNS"})
    assert html(client.get("/dashboard")).select_one("#waiting-reviews") is None

    appoint_new_chair(app, people, board, member)
    new_chair = people.sign_in(app.test_client(), member)
    page = html(new_chair.get("/dashboard"))
    item = page.select_one("#waiting #waiting-reviews")
    assert item.text.strip() == "1 staff member of a previous chair to keep or revoke."
    assert item.select_one("a")["href"] == "/chair#staff-review-heading"


def test_r3_r6_a_later_chair_reviews_again_what_an_earlier_chair_kept(
    app, people, chair, board, member
):
    engineer = people.make("Eve Engineer")
    third = people.make("Tia Third")
    decider = people.sign_in(app.test_client(), chair)
    decider.post("/chair/staff", data={"email": engineer.email, "reason": "Runs our DNS"})
    appoint_new_chair(app, people, board, member)
    (grant,) = staff_grants(engineer)
    assert (
        people.sign_in(app.test_client(), member).post(f"/chair/staff/{grant.id}/keep").status_code
        == 303
    )

    appoint_new_chair(app, people, board, third)
    queue = html(people.sign_in(app.test_client(), third).get("/chair"))
    assert queue.select_one(f"#staff-review-{grant.id}") is not None


def test_r3_a_new_chair_who_is_staff_does_not_review_their_own_grant(
    app, people, chair, board, member
):
    decider = people.sign_in(app.test_client(), chair)
    decider.post("/chair/staff", data={"email": member.email, "reason": "Runs our DNS"})
    appoint_new_chair(app, people, board, member)
    (grant,) = staff_grants(member)
    new_chair = people.sign_in(app.test_client(), member)
    assert html(new_chair.get("/chair")).select_one("#staff-review") is None
    assert new_chair.post(f"/chair/staff/{grant.id}/keep").status_code == 403
    db.session.expire_all()
    assert grant.reviewed_at is None
    assert len(refusals()) == 1
