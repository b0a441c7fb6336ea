"""Two-factor sign-in under races: one recovery code (or one TOTP code) sent by two browsers
at the same moment signs in one of them only (real concurrent requests, both databases)."""

from __future__ import annotations

import pyotp
from sqlalchemy import func, select

from infrawg.extensions import db
from infrawg.membership.models import AccountSession, TotpFactor
from tests.concurrency import PASSWORD, Visitor, at_once, live_site, make_person, recovery_code

ROUNDS = 3


def _at_the_second_step(url: str, email: str) -> Visitor:
    visitor = Visitor(url)
    visitor.get("/signin")
    first = visitor.post("/signin", {"email": email, "password": PASSWORD})
    assert first.headers["Location"].endswith("/signin/two-factor")
    visitor.get("/signin/two-factor")
    return visitor


def test_one_recovery_code_sent_twice_at_once_signs_in_once(tmp_path):
    with live_site(tmp_path) as site:
        for round_no in range(ROUNDS):
            email = f"racer{round_no}@example.org"
            with site.app.app_context():
                make_person(f"Racer {round_no}", email)
                db.session.commit()
            code = recovery_code(email, 0)
            tabs = [_at_the_second_step(site.url, email) for _ in range(2)]
            responses = at_once(
                [lambda t=t, c=code: t.post("/signin/two-factor", {"code": c}) for t in tabs]
            )
            assert sorted(r.status_code for r in responses) == [303, 422], round_no


def test_one_totp_code_sent_twice_at_once_signs_in_once(tmp_path):
    with live_site(tmp_path) as site:
        for round_no in range(ROUNDS):
            email = f"timer{round_no}@example.org"
            with site.app.app_context():
                person = make_person(f"Timer {round_no}", email)
                secret = db.session.scalar(
                    select(TotpFactor.secret).where(TotpFactor.person_id == person.id)
                )
                db.session.commit()
                person_id = person.id
            tabs = [_at_the_second_step(site.url, email) for _ in range(2)]
            code = pyotp.TOTP(secret).now()
            responses = at_once(
                [lambda t=t, c=code: t.post("/signin/two-factor", {"code": c}) for t in tabs]
            )
            assert sorted(r.status_code for r in responses) == [303, 422], round_no
            with site.app.app_context():
                sessions = db.session.scalar(
                    select(func.count())
                    .select_from(AccountSession)
                    .where(AccountSession.person_id == person_id)
                )
                assert sessions == 1
