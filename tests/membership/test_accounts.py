"""Accounts: sign-in, rate limits, remember me, password reset and changes."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from infrawg.audit import AuditEvent
from infrawg.extensions import db
from tests.conftest import PASSWORD, html, link_in, outbox_to


def sign_in(client, email, password=PASSWORD, **extra):
    return client.post("/signin", data={"email": email, "password": password, **extra})


def test_sign_in_with_password_reaches_dashboard(client, member):
    response = sign_in(client, member.email)
    assert response.status_code == 303
    assert response.headers["Location"] == "/dashboard"
    page = html(client.get("/dashboard"))
    assert page.select_one("h1").text == f"Hello, {member.name}"


def test_sign_in_follows_only_local_next_links(client, member):
    response = client.post(
        "/signin?next=https://evil.example/steal",
        data={"email": member.email, "password": PASSWORD},
    )
    assert response.headers["Location"] == "/dashboard"


def test_wrong_password_gets_one_message_for_every_failure(client, member):
    wrong = html(sign_in(client, member.email, "not the password"))
    unknown = html(sign_in(client, "nobody@example.org"))
    message = "That email and password do not match an account."
    assert wrong.select_one("#password-errors").text.strip() == message
    assert unknown.select_one("#password-errors").text.strip() == message
    assert client.get("/dashboard").status_code == 302


def test_sign_in_is_rate_limited_with_a_clear_page(client, app, member):
    app.config["RATELIMIT_SIGNIN"] = "3 per minute"
    for _ in range(3):
        assert sign_in(client, member.email, "wrong password!").status_code == 422
    response = sign_in(client, member.email)
    assert response.status_code == 429
    assert "Too many attempts" in html(response).select_one("h1").text
    assert client.get("/dashboard").status_code == 302


def test_remember_me_sets_a_lasting_cookie_with_secure_flags(client, member):
    response = sign_in(client, member.email, remember="y")
    cookies = response.headers.getlist("Set-Cookie")
    remember = next(c for c in cookies if c.startswith("remember_token="))
    assert "HttpOnly" in remember
    assert "SameSite=Lax" in remember
    session = next(c for c in cookies if c.startswith("session="))
    assert "HttpOnly" in session


def test_sign_out_ends_the_session(client, member):
    sign_in(client, member.email)
    assert client.post("/signout").status_code == 303
    assert client.get("/dashboard").status_code == 302


def test_password_change_signs_out_other_sessions(app, people, member):
    laptop = people.sign_in(app.test_client(), member)
    phone = app.test_client()
    sign_in(phone, member.email)
    response = laptop.post(
        "/account/password",
        data={
            "current": PASSWORD,
            "password": "a new long password",
            "confirm": "a new long password",
        },
    )
    assert response.status_code == 303
    assert laptop.get("/account").status_code == 200
    assert phone.get("/account").status_code == 302
    assert sign_in(app.test_client(), member.email, "a new long password").status_code == 303


def test_password_change_with_wrong_current_password_changes_nothing(client, people, member):
    people.sign_in(client, member)
    before = member.password_hash
    response = client.post(
        "/account/password",
        data={
            "current": "wrong",
            "password": "a new long password",
            "confirm": "a new long password",
        },
    )
    assert response.status_code == 422
    assert "current password is not right" in html(response).select_one("#current-errors").text
    db.session.refresh(member)
    assert member.password_hash == before


def request_reset(client, email):
    return client.post("/signin/reset", data={"email": email})


def test_password_reset_by_mailed_link_works_once(client, member):
    response = request_reset(client, member.email)
    assert "a link to set a new password is on its way" in html(response).select_one("main").text
    link = link_in(outbox_to(member.email)[-1].body, "/signin/reset/")
    new = {"password": "brand new password", "confirm": "brand new password"}
    assert client.post(link, data=new).status_code == 303
    assert (
        sign_in(client.application.test_client(), member.email, "brand new password").status_code
        == 303
    )

    reused = client.post(link, data={"password": "third password!!", "confirm": "third password!!"})
    assert reused.status_code == 409
    assert "already used" in html(reused).select_one(".message").text
    assert (
        sign_in(client.application.test_client(), member.email, "brand new password").status_code
        == 303
    )


def test_password_reset_for_unknown_email_says_the_same_and_sends_nothing(client):
    response = request_reset(client, "nobody@example.org")
    assert "is on its way" in html(response).select_one("main").text
    assert outbox_to("nobody@example.org") == []


def test_password_reset_with_tampered_or_expired_link_changes_nothing(client, member):
    request_reset(client, member.email)
    link = link_in(outbox_to(member.email)[-1].body, "/signin/reset/")
    before = member.password_hash
    new = {"password": "brand new password", "confirm": "brand new password"}
    tampered = client.post(link[:-4] + "abcd", data=new)
    assert tampered.status_code == 400
    assert "not valid" in html(tampered).select_one(".message").text
    from infrawg.membership import accounts

    original = accounts.RESET_MAX_AGE
    accounts.RESET_MAX_AGE = -1
    try:
        expired = client.post(link, data=new)
    finally:
        accounts.RESET_MAX_AGE = original
    assert expired.status_code == 400
    assert "expired" in html(expired).select_one(".message").text
    db.session.refresh(member)
    assert member.password_hash == before


def test_password_reset_is_rate_limited(client, app, member):
    app.config["RATELIMIT_RESET"] = "2 per hour"
    request_reset(client, member.email)
    request_reset(client, member.email)
    assert request_reset(client, member.email).status_code == 429
    assert len(outbox_to(member.email)) == 2


# The development outbox is refused on an https site unless forced (tests/notices).
@pytest.mark.parametrize(
    "app_config", [{"BASE_URL": "https://infra.example.org", "ALLOW_OUTBOX": True}]
)
def test_cookies_are_secure_when_the_site_is_served_over_https(client, member, app_config):
    response = sign_in(client, member.email, remember="y")
    for cookie in response.headers.getlist("Set-Cookie"):
        assert "Secure" in cookie, cookie


def test_profile_name_change_is_audited(client, people, member):
    people.sign_in(client, member)
    assert client.post("/account/profile", data={"name": "Mia M. Member"}).status_code == 303
    assert member.name == "Mia M. Member"
    event = db.session.scalar(
        select(AuditEvent).where(AuditEvent.action == "account.profile_updated")
    )
    assert event.actor_id == member.id
