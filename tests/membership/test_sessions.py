"""Server-side sessions: signing out ends them, the account page lists and ends them."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from infrawg.audit import AuditEvent
from infrawg.extensions import db
from infrawg.membership.models import AccountSession
from infrawg.timeutil import utcnow
from tests.conftest import PASSWORD, html, link_in, outbox_to

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
PHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)


def browser(app, user_agent=FIREFOX, address="192.0.2.10"):
    client = app.test_client()
    client.environ_base.update({"HTTP_USER_AGENT": user_agent, "REMOTE_ADDR": address})
    return client


def sign_in(client, person, **extra):
    response = client.post("/signin", data={"email": person.email, "password": PASSWORD, **extra})
    assert response.status_code == 303
    return client


def sessions_of(person) -> list[AccountSession]:
    db.session.expire_all()
    return db.session.scalars(
        select(AccountSession).where(AccountSession.person_id == person.id)
    ).all()


def actions() -> list[str]:
    return list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def test_sign_out_ends_the_session_on_the_server_so_a_copied_cookie_stops_working(app, member):
    laptop = sign_in(browser(app), member)
    thief = browser(app, address="198.51.100.66")
    thief.set_cookie("session", laptop.get_cookie("session").value)
    assert thief.get("/dashboard").status_code == 200

    assert laptop.post("/signout").status_code == 303
    assert thief.get("/dashboard").status_code == 302
    assert sessions_of(member) == []
    assert "account.signed_out" in actions()


def test_sign_out_ends_a_copied_remember_me_cookie_too(app, member):
    laptop = sign_in(browser(app), member, remember="y")
    remember = laptop.get_cookie("remember_token").value
    copy = browser(app)
    copy.set_cookie("remember_token", remember)
    assert copy.get("/dashboard").status_code == 200  # the cookie alone signs in

    assert laptop.post("/signout").status_code == 303
    later = browser(app)
    later.set_cookie("remember_token", remember)
    assert later.get("/dashboard").status_code == 302


def test_account_page_lists_each_session_with_browser_address_and_times(app, member):
    laptop = sign_in(browser(app), member)
    sign_in(browser(app, PHONE, "203.0.113.7"), member)

    page = html(laptop.get("/account"))
    rows = page.select("#sessions tbody tr.session")
    assert len(rows) == 2
    by_device = {row.select_one("td").get_text(" ", strip=True): row for row in rows}
    assert set(by_device) == {"Firefox on Linux (this browser)", "Safari on iOS"}
    phone = by_device["Safari on iOS"]
    cells = [td.get_text(strip=True) for td in phone.select("td")]
    assert cells[1] == "203.0.113.7"
    assert cells[2].endswith("UTC") and cells[3].endswith("UTC")
    assert phone.select_one("a").get_text(strip=True) == "End this session"
    assert page.select_one("#end-other-sessions").get_text(strip=True) == "End all other sessions"


def test_last_seen_is_written_at_most_once_every_few_minutes(app, member):
    laptop = sign_in(browser(app), member)
    (record,) = sessions_of(member)
    long_ago = utcnow() - timedelta(minutes=30)
    record.last_seen_at = long_ago
    db.session.commit()

    laptop.get("/dashboard")
    (record,) = sessions_of(member)
    assert record.last_seen_at > long_ago + timedelta(minutes=29)

    # Seen a minute ago: the next requests write nothing.
    a_minute_ago = utcnow() - timedelta(minutes=1)
    record.last_seen_at = a_minute_ago
    db.session.commit()
    laptop.get("/dashboard")
    laptop.get("/account")
    (record,) = sessions_of(member)
    assert record.last_seen_at == a_minute_ago


def test_ending_one_session_asks_first_then_signs_that_browser_out_and_is_audited(app, member):
    laptop = sign_in(browser(app), member)
    phone = sign_in(browser(app, PHONE, "203.0.113.7"), member)
    phone_session = next(s for s in sessions_of(member) if "iPhone" in s.user_agent)

    confirm = html(laptop.get(f"/account/sessions/{phone_session.id}/end"))
    assert "Safari on iOS" in confirm.select_one("p.confirm").text
    assert confirm.select_one("main form button").text == "Yes, end this session"
    assert len(sessions_of(member)) == 2  # asking changes nothing

    # A POST without the confirmation page's "confirmed" asks again, and changes nothing.
    unconfirmed = html(laptop.post(f"/account/sessions/{phone_session.id}/end"))
    assert unconfirmed.select_one("main form button").text == "Yes, end this session"
    assert len(sessions_of(member)) == 2

    response = laptop.post(f"/account/sessions/{phone_session.id}/end", data={"confirmed": "1"})
    assert response.status_code == 303
    assert phone.get("/dashboard").status_code == 302
    assert laptop.get("/dashboard").status_code == 200
    assert [s.user_agent for s in sessions_of(member)] == [FIREFOX]
    event = db.session.scalar(
        select(AuditEvent).where(AuditEvent.action == "account.session_ended")
    )
    assert event.actor_id == member.id
    assert event.subject_id == phone_session.id


def test_ending_all_other_sessions_keeps_only_this_browser(app, member):
    laptop = sign_in(browser(app), member)
    phone = sign_in(browser(app, PHONE), member)
    kept = sign_in(browser(app, "curl/8.5.0"), member, remember="y")
    remember = kept.get_cookie("remember_token").value

    assert (
        "This browser stays signed in"
        in html(laptop.get("/account/sessions/end-others")).select_one("p.confirm").text
    )
    assert laptop.post("/account/sessions/end-others").status_code == 200  # asks first
    assert len(sessions_of(member)) == 3
    assert laptop.post("/account/sessions/end-others", data={"confirmed": "1"}).status_code == 303

    assert laptop.get("/dashboard").status_code == 200
    assert phone.get("/dashboard").status_code == 302
    copy = browser(app)
    copy.set_cookie("remember_token", remember)
    assert copy.get("/dashboard").status_code == 302
    assert [s.user_agent for s in sessions_of(member)] == [FIREFOX]
    event = db.session.scalar(
        select(AuditEvent).where(AuditEvent.action == "account.other_sessions_ended")
    )
    assert event.actor_id == member.id
    assert event.reason == "2 session(s)"


def test_nobody_can_end_someone_elses_session(app, people, member):
    other = people.make("Oli Other")
    sign_in(browser(app), other)
    (theirs,) = sessions_of(other)
    mine = sign_in(browser(app), member)
    assert mine.get(f"/account/sessions/{theirs.id}/end").status_code == 404
    assert mine.post(f"/account/sessions/{theirs.id}/end").status_code == 404
    assert len(sessions_of(other)) == 1


def test_password_reset_ends_every_session_and_starts_a_new_one(app, member):
    laptop = sign_in(browser(app), member, remember="y")
    reset = browser(app, PHONE)
    reset.post("/signin/reset", data={"email": member.email})
    link = link_in(outbox_to(member.email)[-1].body, "/signin/reset/")
    new = {"password": "brand new password", "confirm": "brand new password"}
    assert reset.post(link, data=new).status_code == 303

    assert laptop.get("/dashboard").status_code == 302
    assert reset.get("/dashboard").status_code == 200
    assert [s.user_agent for s in sessions_of(member)] == [PHONE]
    assert db.session.scalar(select(func.count()).select_from(AccountSession)) == 1
