"""R2: joining through the list's link, confirming the email, and the verifiers."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from infrawg.audit import AuditEvent
from infrawg.extensions import db
from infrawg.membership.lists import list_backend
from infrawg.membership.models import MembershipStatus, Person, RosterEntry
from tests.conftest import PASSWORD, html, link_in, outbox_to
from tests.queries import count

JOIN = {
    "name": "Grace Hopper",
    "email": "grace@example.org",
    "password": PASSWORD,
    "foundation_member": "y",
}


def person(email: str) -> Person | None:
    return db.session.scalar(select(Person).where(Person.email == email))


def test_join_page_explains_the_group_and_labels_every_input(client):
    page = html(client.get("/join"))
    assert "Any foundation member may join" in page.select_one("p.lead").text
    for field in page.select("form#join-form input:not([type=hidden])"):
        assert page.select_one(f"label[for={field['id']}]"), field["id"]


def test_r2_foundation_member_joins_confirms_and_is_approved(client, people, staff):
    response = client.post("/join", data=JOIN)
    assert response.status_code == 200
    assert html(response).select_one(".status").text == "Awaiting email confirmation"
    applicant = person("grace@example.org")
    assert applicant.status == MembershipStatus.AWAITING_CONFIRMATION

    (mail,) = outbox_to("grace@example.org")
    confirm = link_in(mail.body, "/join/confirm/")
    assert client.get(confirm).status_code == 200
    response = client.post(confirm, follow_redirects=True)
    assert html(response).select_one("#membership-status .status").text == "Awaiting approval"
    assert applicant.status == MembershipStatus.AWAITING_APPROVAL
    assert outbox_to(staff.email)[-1].subject == "[Infra-WG] New application: Grace Hopper"

    decider = people.sign_in(client.application.test_client(), staff)
    response = decider.post(f"/membership/applications/{applicant.id}/approve", data={"reason": ""})
    assert response.status_code == 303, response.get_data(as_text=True)[-1500:]
    assert applicant.status == MembershipStatus.MEMBER
    assert "grace@example.org" in list_backend().members()
    assert outbox_to("grace@example.org")[-1].subject == "[Infra-WG] Welcome to the Infra-WG"
    actions = db.session.scalars(
        select(AuditEvent.action)
        .where(AuditEvent.subject_id == applicant.id)
        .order_by(AuditEvent.id)
    ).all()
    assert actions == [
        "membership.applied",
        "membership.email_confirmed",
        "membership.awaiting_approval",
        "membership.admitted",
    ]


@pytest.fixture
def roster_app_config():
    return {"MEMBERSHIP_VERIFIER": "roster"}


@pytest.mark.parametrize("app_config", [{"MEMBERSHIP_VERIFIER": "roster"}])
def test_r2_roster_member_becomes_member_on_confirmation(client, app_config):
    db.session.add(RosterEntry(email="grace@example.org"))
    db.session.commit()
    client.post("/join", data=JOIN)
    confirm = link_in(outbox_to("grace@example.org")[0].body, "/join/confirm/")
    response = client.post(confirm, follow_redirects=True)
    assert html(response).select_one("#membership-status .status").text == "Member"
    assert "grace@example.org" in list_backend().members()


@pytest.mark.parametrize("app_config", [{"MEMBERSHIP_VERIFIER": "roster"}])
def test_r2_non_member_applying_under_roster_is_refused_and_nothing_is_created(client, app_config):
    response = client.post("/join", data=JOIN)
    assert response.status_code == 422
    assert (
        "not on the foundation's member roster" in html(response).select_one("#email-errors").text
    )
    assert count(Person) == 0
    assert count(AuditEvent) == 0


def test_join_with_duplicate_email_explains_and_changes_nothing(client, member):
    before = count(Person)
    response = client.post("/join", data=JOIN | {"email": member.email.upper()})
    assert response.status_code == 422
    assert "already exists" in html(response).select_one("#email-errors").text
    assert count(Person) == before


def test_join_with_malformed_email_explains_and_changes_nothing(client):
    response = client.post("/join", data=JOIN | {"email": "grace@@example"})
    assert response.status_code == 422
    assert "not valid" in html(response).select_one("#email-errors").text
    assert count(Person) == 0


def test_join_without_declaring_foundation_membership_is_refused(client):
    data = dict(JOIN)
    del data["foundation_member"]
    response = client.post("/join", data=data)
    assert response.status_code == 422
    assert (
        "open to foundation members" in html(response).select_one("#foundation_member-errors").text
    )
    assert count(Person) == 0


def test_join_without_csrf_token_is_refused_and_changes_nothing(client):
    response = client.post("/join", data=JOIN, csrf=False)
    assert response.status_code == 400
    assert "Reload the page" in html(response).select_one(".message").text
    assert count(Person) == 0


def test_inline_email_check_returns_only_the_error_fragment(client, member):
    response = client.post("/join/check-email", data={"email": member.email}, htmx=True)
    fragment = html(response)
    assert fragment.select_one("html") is None
    assert "already exists" in fragment.select_one("#email-errors").text


def test_confirm_with_tampered_token_explains_and_changes_nothing(client):
    client.post("/join", data=JOIN)
    confirm = link_in(outbox_to("grace@example.org")[0].body, "/join/confirm/")
    response = client.post(confirm[:-3] + "xyz")
    assert response.status_code == 400
    assert "not valid" in html(response).select_one(".message").text
    assert person("grace@example.org").status == MembershipStatus.AWAITING_CONFIRMATION


def test_confirm_with_expired_token_explains_and_changes_nothing(client, app):
    client.post("/join", data=JOIN)
    confirm = link_in(outbox_to("grace@example.org")[0].body, "/join/confirm/")
    app.config["TOKEN_MAX_AGE"] = -1
    response = client.post(confirm)
    assert response.status_code == 400
    assert "expired" in html(response).select_one(".message").text
    assert person("grace@example.org").status == MembershipStatus.AWAITING_CONFIRMATION


def test_confirm_link_reused_says_already_confirmed_and_offers_sign_in(client):
    client.post("/join", data=JOIN)
    confirm = link_in(outbox_to("grace@example.org")[0].body, "/join/confirm/")
    client.post(confirm)
    for response in (client.post(confirm), client.get(confirm)):
        assert response.status_code == 200
        page = html(response)
        assert page.select_one("h1").text == "Already confirmed"
        assert "already used" in page.select_one(".message").text
        assert page.select_one("#already-confirmed a.button")["href"] == "/dashboard"

    # In another browser (signed out), the way onward is to sign in.
    fresh = html(client.application.test_client().get(confirm))
    assert "conflicts" not in fresh.select_one("main").text
    assert fresh.select_one("#already-confirmed a.button").text == "Sign in"
