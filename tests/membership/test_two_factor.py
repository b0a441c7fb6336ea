"""Two-factor sign-in: TOTP on a fixed clock, recovery codes, the requirement for staff,
chair and board, and the re-check of privileged acts after 15 minutes.

The tests of the rule sign in for real, through the sign-in forms (``second_factor=False``
where a fixture session is needed): none of them starts from a session the fixtures marked.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from sqlalchemy import func, select

from infrawg.actions import Action
from infrawg.audit import AuditEvent
from infrawg.errors import Invalid
from infrawg.extensions import db
from infrawg.governance.models import Role, RoleGrant
from infrawg.membership import twofactor
from infrawg.membership.models import AccountSession, Person, RecoveryCode, TotpFactor
from infrawg.timeutil import utcnow
from tests.conftest import PASSWORD, html, outbox_to

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
# A fixed clock: 2026-03-01 12:00:10 UTC, ten seconds into its 30-second step.
NOW = datetime(2026, 3, 1, 12, 0, 10)
STEP = 30


def code_at(moment: datetime, secret: str = SECRET) -> str:
    # ``moment`` is naive UTC, as the site stores time; pyotp wants it aware.
    return pyotp.TOTP(secret).at(moment.replace(tzinfo=UTC))


def enrol_totp(person: Person, secret: str = SECRET) -> TotpFactor:
    factor = TotpFactor(person_id=person.id, secret=secret, last_step=0)
    db.session.add(factor)
    db.session.commit()
    return factor


def events(action: Action, person: Person) -> int:
    return (
        db.session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == action, AuditEvent.person_id == person.id)
        )
        or 0
    )


def password_step(client, person: Person, next_url: str | None = None):
    url = "/signin" + (f"?next={next_url}" if next_url else "")
    return client.post(url, data={"email": person.email, "password": PASSWORD})


def sign_in_with_totp(client, person: Person, secret: str = SECRET):
    first = password_step(client, person)
    assert first.status_code == 303 and first.location.endswith("/signin/two-factor")
    second = client.post("/signin/two-factor", data={"code": pyotp.TOTP(secret).now()})
    assert second.status_code == 303, second.get_data(as_text=True)[-400:]
    return client


# -- TOTP on a fixed clock -----------------------------------------------------------------------


def test_totp_code_of_the_current_step_is_valid(app, member):
    enrol_totp(member)
    assert twofactor.verify(member, code=code_at(NOW), at=NOW) == "authenticator app"


def test_totp_code_of_the_previous_step_is_valid(app, member):
    enrol_totp(member)
    earlier = code_at(NOW - timedelta(seconds=STEP))
    assert twofactor.verify(member, code=earlier, at=NOW) == "authenticator app"


def test_totp_replay_refused(app, member):
    enrol_totp(member)
    code = code_at(NOW)
    twofactor.verify(member, code=code, at=NOW)
    db.session.commit()
    with pytest.raises(Invalid):
        twofactor.verify(member, code=code, at=NOW + timedelta(seconds=5))
    # A code of a step before the one used is a replay too, though inside the window.
    with pytest.raises(Invalid):
        twofactor.verify(member, code=code_at(NOW - timedelta(seconds=STEP)), at=NOW)
    # The next step's code works.
    later = NOW + timedelta(seconds=STEP)
    assert twofactor.verify(member, code=code_at(later), at=later) == "authenticator app"


def test_totp_out_of_sync_refused(app, member):
    enrol_totp(member)
    for skew in (-2 * STEP, 2 * STEP, -10 * STEP):
        with pytest.raises(Invalid):
            twofactor.verify(member, code=code_at(NOW + timedelta(seconds=skew)), at=NOW)
    assert events(Action.TWOFACTOR_FAILED, member) == 3


def test_failed_second_factor_is_audited_and_mailed_and_rate_limited(app, member):
    enrol_totp(member)
    app.config["RATELIMIT_SECOND_FACTOR"] = "3 per hour"
    for _ in range(3):
        with pytest.raises(Invalid):
            twofactor.verify(member, code="000000", at=NOW)
    assert events(Action.TWOFACTOR_FAILED, member) == 3
    mails = outbox_to(member.email)
    assert [m.subject for m in mails] == ["[Infra-WG] A wrong second-factor code was entered"] * 3
    # Beyond the limit, even the right code is not checked.
    from infrawg.errors import TooManyAttempts

    with pytest.raises(TooManyAttempts):
        twofactor.verify(member, code=code_at(NOW), at=NOW)
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "twofactor.failed"))
    assert "000000" not in (event.reason or "") and SECRET not in (event.reason or "")


# -- setting up and signing in -----------------------------------------------------------------


def test_member_adds_totp_and_receives_recovery_codes_once(app, client, people, member):
    people.sign_in(client, member, second_factor=False)
    page = html(client.get("/account/two-factor/totp"))
    secret = page.select_one("#totp-secret").text
    assert page.select_one("figure.qr svg") is not None
    wrong = client.post("/account/two-factor/totp", data={"code": "000000"})
    assert wrong.status_code == 422
    assert db.session.scalar(select(TotpFactor)) is None
    added = client.post("/account/two-factor/totp", data={"code": pyotp.TOTP(secret).now()})
    assert added.status_code == 200
    codes = [c.text for c in html(added).select("#recovery-codes code")]
    assert len(codes) == twofactor.RECOVERY_CODES
    stored = db.session.scalars(select(RecoveryCode.code_hash)).all()
    assert all(code not in stored for code in codes), "codes are stored hashed"
    assert events(Action.TWOFACTOR_TOTP_ADDED, member) == 1
    assert events(Action.TWOFACTOR_RECOVERY_CODES_GENERATED, member) == 1
    subjects = [m.subject for m in outbox_to(member.email)]
    assert "[Infra-WG] An authenticator app was added to your account" in subjects
    assert all(secret not in m.body and codes[0] not in m.body for m in outbox_to(member.email))
    trail = db.session.scalars(select(AuditEvent.reason)).all()
    assert all(secret not in (r or "") for r in trail)


def test_sign_in_asks_for_the_second_factor_before_the_session_opens(app, client, member):
    enrol_totp(member)
    first = password_step(client, member)
    assert first.location.endswith("/signin/two-factor")
    assert db.session.scalar(select(func.count()).select_from(AccountSession)) == 0
    assert client.get("/dashboard").status_code == 302
    assert client.post("/signin/two-factor", data={"code": "123456"}).status_code == 422
    ok = client.post("/signin/two-factor", data={"code": pyotp.TOTP(SECRET).now()})
    assert ok.status_code == 303
    assert client.get("/dashboard").status_code == 200
    record = db.session.scalar(select(AccountSession))
    assert record.second_factor_at is not None


def test_recovery_code_burned_once(app, member):
    enrol_totp(member)
    codes = twofactor.generate_recovery_codes(member)
    db.session.commit()
    first = app.test_client()
    password_step(first, member)
    assert first.post("/signin/two-factor", data={"code": codes[0].upper()}).status_code == 303
    assert first.get("/dashboard").status_code == 200
    assert twofactor.recovery_codes_left(member) == twofactor.RECOVERY_CODES - 1
    assert events(Action.TWOFACTOR_RECOVERY_CODE_USED, member) == 1
    assert "[Infra-WG] A recovery code was used to sign in" in [
        m.subject for m in outbox_to(member.email)
    ]

    again = app.test_client()
    password_step(again, member)
    assert again.post("/signin/two-factor", data={"code": codes[0]}).status_code == 422
    assert again.get("/dashboard").status_code == 302
    assert events(Action.TWOFACTOR_FAILED, member) == 1


def test_new_recovery_codes_end_the_old_ones(app, member):
    enrol_totp(member)
    old = twofactor.generate_recovery_codes(member)
    twofactor.generate_recovery_codes(member)
    db.session.commit()
    with pytest.raises(Invalid):
        twofactor.verify(member, code=old[1])


# -- the requirement for staff, chair and board ------------------------------------------------


def test_chair_without_a_second_factor_is_asked_to_set_one_up_and_has_no_powers(app, client, chair):
    signed_in = password_step(client, chair)
    assert signed_in.status_code == 303
    assert signed_in.location.endswith("/account/two-factor")
    page = html(client.get("/account/two-factor"))
    assert page.select_one("#second-factor-required") is not None
    assert client.get("/chair").status_code == 403
    assert (
        client.post("/chair/staff", data={"email": "x@example.org", "reason": "r"}).status_code
        == 403
    )
    assert client.get("/dashboard").status_code == 200  # a member's pages still open

    secret = html(client.get("/account/two-factor/totp")).select_one("#totp-secret").text
    added = client.post("/account/two-factor/totp", data={"code": pyotp.TOTP(secret).now()})
    assert added.status_code == 200
    assert client.get("/chair").status_code == 200


@pytest.mark.parametrize("role", [Role.STAFF, Role.BOARD])
def test_staff_and_board_powers_need_a_second_factor(app, client, people, role):
    person = people.make(roles=(role,))
    page = {Role.STAFF: "/membership/applications", Role.BOARD: "/board"}[role]
    people.sign_in(client, person, second_factor=False)
    assert client.get(page).status_code == 403
    enrol_totp(person)
    other = sign_in_with_totp(app.test_client(), person)
    assert other.get(page).status_code == 200


def test_a_role_granted_during_a_session_waits_for_the_second_factor(app, client, people, member):
    password_step(client, member)
    assert client.get("/dashboard").status_code == 200
    db.session.add(RoleGrant(person_id=member.id, role=Role.STAFF, authority="test"))
    db.session.commit()
    assert client.get("/membership/applications").status_code == 403


def test_chair_cannot_remove_the_last_second_factor(app, client, chair):
    enrol_totp(chair)
    sign_in_with_totp(client, chair)
    assert client.post("/account/two-factor/totp/remove").status_code == 409
    assert db.session.scalar(select(TotpFactor)) is not None


def test_member_removes_the_app_and_its_recovery_codes_go(app, client, member):
    enrol_totp(member)
    twofactor.generate_recovery_codes(member)
    db.session.commit()
    sign_in_with_totp(client, member)
    assert client.post("/account/two-factor/totp/remove").status_code == 303
    assert db.session.scalar(select(func.count()).select_from(RecoveryCode)) == 0
    assert events(Action.TWOFACTOR_TOTP_REMOVED, member) == 1
    assert password_step(app.test_client(), member).location.endswith("/dashboard")


# -- the re-check of privileged acts -------------------------------------------------------------


def _age_second_factor(minutes: int) -> None:
    for record in db.session.scalars(select(AccountSession)):
        record.second_factor_at = utcnow() - timedelta(minutes=minutes)
    db.session.commit()


def test_privileged_act_within_15_minutes_needs_no_recheck(app, client, chair, member):
    enrol_totp(chair)
    sign_in_with_totp(client, chair)
    _age_second_factor(14)
    granted = client.post("/chair/staff", data={"email": member.email, "reason": "Runs DNS"})
    assert granted.status_code == 303


def test_privileged_act_after_15_minutes_asks_again_and_keeps_the_form(app, client, chair, member):
    enrol_totp(chair)
    sign_in_with_totp(client, chair)
    _age_second_factor(16)
    asked = client.post("/chair/staff", data={"email": member.email, "reason": "Runs DNS"})
    assert asked.status_code == 401
    page = html(asked)
    form = page.select_one(".second-factor-recheck form")
    assert form["action"] == "/chair/staff"
    kept = {i["name"]: i["value"] for i in form.select("input[type=hidden]")}
    assert kept["email"] == member.email and kept["reason"] == "Runs DNS"
    grants = select(func.count()).select_from(RoleGrant).where(RoleGrant.person_id == member.id)
    assert db.session.scalar(grants) == 0

    wrong = client.post("/chair/staff", data={**kept, "second_factor_code": "000000"})
    assert wrong.status_code == 422
    assert db.session.scalar(grants) == 0
    assert events(Action.TWOFACTOR_FAILED, chair) == 1

    code = pyotp.TOTP(SECRET).at(time.time() + STEP)  # the next step: not a replay
    done = client.post("/chair/staff", data={**kept, "second_factor_code": code})
    assert done.status_code == 303
    assert db.session.scalar(grants) == 1
    # Checked again just now: the next act goes through.
    record = db.session.scalar(select(AccountSession))
    assert utcnow() - record.second_factor_at < timedelta(minutes=1)


def test_recheck_of_an_htmx_act_takes_the_whole_page(app, client, chair, member):
    enrol_totp(chair)
    sign_in_with_totp(client, chair)
    _age_second_factor(20)
    asked = client.post("/chair/staff", data={"email": member.email, "reason": "r"}, htmx=True)
    assert asked.status_code == 401
    assert asked.headers["HX-Retarget"] == "#main"
    assert html(asked).find("html") is None


def test_making_a_thread_public_asks_again_after_15_minutes(app, client, chair):
    from infrawg.archives.models import Thread
    from tests.archives.factories import message, store, thread_of

    store("infra", message("t@example.org", "Mirror plans", "kangaroo"))
    thread = thread_of("infra", "t@example.org")
    enrol_totp(chair)
    sign_in_with_totp(client, chair)
    _age_second_factor(30)
    url = f"/archives/infra/threads/{thread.id}/visibility"
    # Keeping it to members is no privileged act; making it public is.
    assert client.post(url, data={"level": "members", "reason": "x"}).status_code == 303
    asked = client.post(url, data={"level": "public", "reason": "Board asked"})
    assert asked.status_code == 401
    assert db.session.get(Thread, thread.id).visibility != "public"
    code = pyotp.TOTP(SECRET).at(time.time() + STEP)
    done = client.post(
        url, data={"level": "public", "reason": "Board asked", "second_factor_code": code}
    )
    assert done.status_code == 303
    assert db.session.get(Thread, thread.id).visibility == "public"


def test_board_appointing_the_chair_asks_again_after_15_minutes(app, client, board, member):
    enrol_totp(board)
    sign_in_with_totp(client, board)
    data = {
        "email": member.email,
        "resolution_ref": "2026-03-01-01",
        "resolution_date": "2026-03-01",
    }
    _age_second_factor(15 + 1)
    assert client.post("/board/chair", data=data).status_code == 401
    chairs = select(func.count()).select_from(RoleGrant).where(RoleGrant.role == Role.CHAIR)
    assert db.session.scalar(chairs) == 0
    code = pyotp.TOTP(SECRET).at(time.time() + STEP)
    assert client.post("/board/chair", data=data | {"second_factor_code": code}).status_code == 303
    assert db.session.scalar(chairs) == 1


def test_the_privileged_acts_that_ask_again():
    from infrawg.policy import RECHECK_AFTER, RECHECK_PERMISSIONS, SECOND_FACTOR_ROLES, Permission

    assert timedelta(minutes=15) == RECHECK_AFTER
    assert {Role.STAFF, Role.CHAIR, Role.BOARD} == SECOND_FACTOR_ROLES
    assert {
        Permission.STAFF_DECIDE,
        Permission.CHAIR_APPOINT,
        Permission.ARCHIVE_PUBLISH,
        Permission.SERVICE_DECIDE,
        Permission.DOMAIN_PAYMENT_DECIDE,
    } == RECHECK_PERMISSIONS


def test_removing_a_factor_asks_again_after_15_minutes(app, client, member):
    enrol_totp(member)
    sign_in_with_totp(client, member)
    _age_second_factor(16)
    asked = client.post("/account/two-factor/totp/remove")
    assert asked.status_code == 401
    assert db.session.scalar(select(TotpFactor)) is not None
    code = pyotp.TOTP(SECRET).at(time.time() + STEP)
    removed = client.post("/account/two-factor/totp/remove", data={"second_factor_code": code})
    assert removed.status_code == 303
    assert db.session.scalar(select(TotpFactor)) is None


def test_password_reset_link_does_not_skip_the_second_factor(app, client, member):
    from tests.conftest import link_in

    enrol_totp(member)
    client.post("/signin/reset", data={"email": member.email})
    link = link_in(outbox_to(member.email)[-1].body, "/signin/reset/")
    new = {"password": "brand new password", "confirm": "brand new password"}
    done = client.post(link, data=new)
    assert done.status_code == 303 and done.location.endswith("/signin/two-factor")
    assert client.get("/dashboard").status_code == 302
    assert (
        client.post("/signin/two-factor", data={"code": pyotp.TOTP(SECRET).now()}).status_code
        == 303
    )
    assert client.get("/dashboard").status_code == 200


def test_every_page_reminds_a_chair_without_a_second_factor(app, client, people, chair, member):
    people.sign_in(client, chair, second_factor=False)
    assert html(client.get("/dashboard")).select_one("#second-factor-needed") is not None
    people.sign_in(client, member, second_factor=False)
    assert html(client.get("/dashboard")).select_one("#second-factor-needed") is None


def test_second_step_expires_after_five_minutes(app, client, member):
    enrol_totp(member)
    password_step(client, member)
    with client.session_transaction() as session:
        pending = dict(session["second_factor_pending"])
        pending["at"] -= 301
        session["second_factor_pending"] = pending
    assert (
        client.post("/signin/two-factor", data={"code": pyotp.TOTP(SECRET).now()}).status_code
        == 404
    )
    assert client.get("/dashboard").status_code == 302
