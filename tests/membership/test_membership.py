"""Membership after joining: deciding applications, leaving, the roster, the list."""

from __future__ import annotations

import io

from sqlalchemy import func, select

from infrawg.audit import AuditEvent
from infrawg.extensions import db
from infrawg.membership.lists import list_backend
from infrawg.membership.models import MembershipStatus, RosterEntry
from tests.conftest import html, outbox_to


def test_declining_without_a_reason_is_refused_and_changes_nothing(
    client, people, staff, applicant
):
    people.sign_in(client, staff)
    response = client.post(f"/membership/applications/{applicant.id}/decline", data={"reason": " "})
    assert response.status_code == 422
    assert "Give the applicant a reason" in html(response).select_one(".error").text
    assert applicant.status == MembershipStatus.AWAITING_APPROVAL


def test_declining_inline_returns_the_updated_row_and_mails_the_reason(
    client, people, staff, applicant
):
    people.sign_in(client, staff)
    response = client.post(
        f"/membership/applications/{applicant.id}/decline",
        data={"reason": "Not a foundation member"},
        htmx=True,
    )
    row = html(response)
    assert row.select_one("html") is None
    assert row.select_one(f"tr#application-{applicant.id} .status").text == "Declined"
    assert applicant.status == MembershipStatus.DECLINED
    assert "Not a foundation member" in outbox_to(applicant.email)[-1].body


def test_a_member_cannot_decide_applications(client, people, member, applicant):
    people.sign_in(client, member)
    response = client.post(f"/membership/applications/{applicant.id}/approve", data={})
    assert response.status_code == 403
    assert applicant.status == MembershipStatus.AWAITING_APPROVAL
    refused = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "refused"))
    assert refused.actor_id == member.id


def test_applications_queue_shows_count_in_nav_and_empty_state(client, people, staff, applicant):
    people.sign_in(client, staff)
    page = html(client.get("/membership/applications"))
    assert page.select_one("nav .count").text == "1"
    assert page.select_one(f"#application-{applicant.id}")
    applicant.status = MembershipStatus.MEMBER
    db.session.commit()
    page = html(client.get("/membership/applications"))
    assert page.select_one("nav .count") is None
    assert "No application is waiting" in page.select_one(".empty").text


def test_member_leaves_keeps_data_and_is_unsubscribed(client, people, member):
    list_backend().subscribe(member.email)
    people.sign_in(client, member)
    response = client.post(
        "/account/leave", data={"reason": "Moving on", "confirmed": "1"}, follow_redirects=True
    )
    assert html(response).select_one("#membership-status .status").text == "Left the group"
    assert member.status == MembershipStatus.LEFT
    assert member.email not in list_backend().members()
    assert client.get("/audit").status_code == 403
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "membership.left"))
    assert (event.subject_id, event.reason) == (member.id, "Moving on")


def test_leaving_the_group_asks_to_confirm_first_and_changes_nothing_until_then(
    client, people, member
):
    list_backend().subscribe(member.email)
    people.sign_in(client, member)
    response = client.post("/account/leave", data={"reason": "Moving on"})
    assert response.status_code == 200
    page = html(response)
    form = page.select_one("#leave-confirm form")
    assert form.select_one("input[name=confirmed]")["value"] == "1"
    assert form.select_one("input[name=reason]")["value"] == "Moving on"
    assert form.select_one("button.danger").text == "Yes, leave the Infra-WG"
    assert member.status == MembershipStatus.MEMBER
    assert member.email in list_backend().members()

    response = client.post("/account/leave", data={"reason": "Moving on", "confirmed": "1"})
    assert response.status_code == 303
    assert member.status == MembershipStatus.LEFT


def test_former_member_rejoins_through_the_verifier(client, people, former_member):
    people.sign_in(client, former_member)
    client.post("/account/rejoin")
    assert former_member.status == MembershipStatus.AWAITING_APPROVAL


def roster_file(text: str):
    return (io.BytesIO(text.encode()), "roster.csv")


def test_chair_uploads_roster_which_admits_waiting_applicants(client, people, chair, applicant):
    people.sign_in(client, chair)
    csv = f"name,email\nAda,{applicant.email}\nBob,bob@example.org\nBad,not-an-email\n"
    response = client.post(
        "/membership/roster", data={"roster": roster_file(csv)}, content_type="multipart/form-data"
    )
    result = html(response).select_one(".result").text
    assert "holds 2 emails" in result
    assert "1 waiting applicant admitted" in result
    assert "Lines not imported (not a valid email): 4" in result
    assert applicant.status == MembershipStatus.MEMBER
    assert db.session.scalar(select(func.count()).select_from(RosterEntry)) == 2


def test_roster_without_valid_emails_changes_nothing(client, people, chair):
    db.session.add(RosterEntry(email="kept@example.org"))
    db.session.commit()
    people.sign_in(client, chair)
    response = client.post(
        "/membership/roster",
        data={"roster": roster_file("email\nnope\n")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert "no valid email" in html(response).select_one("#roster-errors").text
    assert db.session.scalars(select(RosterEntry.email)).all() == ["kept@example.org"]


def test_staff_cannot_upload_the_roster(client, people, staff):
    people.sign_in(client, staff)
    response = client.post(
        "/membership/roster",
        data={"roster": roster_file("a@example.org\n")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 403


def test_drift_report_lists_both_directions(client, people, staff, member):
    list_backend().subscribe("stranger@example.org")
    db.session.commit()
    people.sign_in(client, staff)
    page = html(client.get("/membership/drift"))
    on_list = [td.text for td in page.select("#on-list-not-members td.email")]
    assert on_list == ["stranger@example.org"]
    assert member.email in [td.text for td in page.select("#members-not-on-list td.email")]
