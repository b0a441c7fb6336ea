"""Accounts: signing in with a password or OpenID Connect, and password changes."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from functools import cache
from typing import Any, cast

from sqlalchemy import CursorResult, delete, select

from infrawg import audit
from infrawg.actions import Action
from infrawg.errors import Conflict, Invalid, NotAllowed, NotFound
from infrawg.extensions import db
from infrawg.membership.models import AccountSession, LinkedLogin, MembershipStatus, Person
from infrawg.membership.passwords import hash_password, verify_password
from infrawg.membership.people import normalise_email, person_by_email
from infrawg.notices.mail import send_mail
from infrawg.text import clean
from infrawg.timeutil import utcnow
from infrawg.tokens import make_token, read_token
from infrawg.web import external_url

RESET = "reset-password"
RESET_MAX_AGE = 3600
# "Last seen" is written at most this often per session: one UPDATE every few minutes,
# not one per request.
LAST_SEEN_EVERY = timedelta(minutes=5)


@cache
def _dummy_hash() -> str:
    # Verified against when there is no hash to check, so that an unknown email (or an
    # account without a password) costs the same Argon2 time as a known one.
    return hash_password(secrets.token_urlsafe(24))


def authenticate(email: str, password: str) -> Person:
    """The person with these credentials; one message for every failure (no hints).

    Every attempt runs one Argon2 verification, so the time taken does not tell whether
    the email has an account.
    """
    person = person_by_email(email.strip())
    stored = person.password_hash if person is not None else None
    matches = verify_password(stored or _dummy_hash(), password)
    if person is None or not stored or not matches:
        raise Invalid("That email and password do not match an account.", field="password")
    return person


# Server-side sessions -----------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(
    person: Person, user_agent: str, address: str | None, remember: bool = False
) -> str:
    """Start a server-side session for ``person``; the token goes in the signed cookie.

    The person object then carries the session, so ``person.get_id()`` names it.
    """
    token = secrets.token_urlsafe(32)
    record = AccountSession(
        person_id=person.id,
        token_hash=_token_hash(token),
        user_agent=(user_agent or "")[:300],
        address=(address or None) and address[:64],
        remember=remember,
    )
    db.session.add(record)
    db.session.flush()
    person.signed_in_session = record
    person._session_token = token
    return token


def person_for_session(person_id: int, token: str) -> Person | None:
    """The person a session cookie signs in, or None when the session has ended."""
    # One query for the session and its person: this runs at the start of every request.
    found = db.session.execute(
        select(AccountSession, Person)
        .join(Person, Person.id == AccountSession.person_id)
        .where(
            AccountSession.token_hash == _token_hash(token), AccountSession.person_id == person_id
        )
    ).first()
    if found is None:
        return None
    record, person = found
    person.signed_in_session = record
    person._session_token = token
    return person


def touch_session(record: AccountSession) -> bool:
    """Move "last seen" to now if it is older than LAST_SEEN_EVERY; True when it moved."""
    now = utcnow()
    if now - record.last_seen_at < LAST_SEEN_EVERY:
        return False
    record.last_seen_at = now
    return True


def sessions_of(person: Person) -> list[AccountSession]:
    """The person's sessions, the most recently seen first."""
    return list(
        db.session.scalars(
            select(AccountSession)
            .where(AccountSession.person_id == person.id)
            .order_by(AccountSession.last_seen_at.desc(), AccountSession.id.desc())
        )
    )


def get_session(person: Person, session_id: int) -> AccountSession:
    """One of the person's own sessions (another person's is not there)."""
    record = db.session.scalar(
        select(AccountSession).where(
            AccountSession.id == session_id, AccountSession.person_id == person.id
        )
    )
    if record is None:
        raise NotFound("That session has already ended, or it is not yours.")
    return record


def end_session(person: Person, record: AccountSession, action: Action) -> None:
    """End one session: its cookies, wherever they were copied, stop working."""
    audit.record(person, action, record)
    db.session.delete(record)


def end_other_sessions(person: Person) -> int:
    """End every session of the person but the one they use now; how many ended."""
    ended = _end_sessions(person, keep=person.signed_in_session)
    if ended:
        audit.record(person, Action.ACCOUNT_OTHER_SESSIONS_ENDED, person, f"{ended} session(s)")
    return ended


def _end_sessions(person: Person, keep: AccountSession | None) -> int:
    stmt = delete(AccountSession).where(AccountSession.person_id == person.id)
    if keep is not None:
        stmt = stmt.where(AccountSession.id != keep.id)
    # A DELETE statement's result is a CursorResult, which counts the rows.
    result = cast(
        "CursorResult[Any]", db.session.execute(stmt.execution_options(synchronize_session=False))
    )
    return result.rowcount


def _password_fingerprint(person: Person) -> str:
    # Part of the reset token: once the password changes, the old link stops working.
    return hashlib.sha256((person.password_hash or "none").encode()).hexdigest()[:16]


def request_password_reset(email: str) -> None:
    """Mail a reset link if the account exists; say nothing either way."""
    try:
        email = normalise_email(email)
    except Invalid:
        return
    person = person_by_email(email)
    if person is None:
        return
    token = make_token(RESET, {"person": person.id, "pw": _password_fingerprint(person)})
    link = external_url("auth.reset_password", token=token)
    send_mail(person.email, "Reset your password", "reset_password", person=person, link=link)


def person_for_reset(token: str) -> Person:
    payload = read_token(RESET, token, max_age=RESET_MAX_AGE)
    person = db.session.get(Person, payload.get("person"))
    if person is None:
        raise Invalid("This link is not valid. Check that you copied all of it.")
    if payload.get("pw") != _password_fingerprint(person):
        raise Conflict("This link was already used. Ask for a new one if you need it.")
    return person


def reset_password(token: str, new_password: str) -> Person:
    person = person_for_reset(token)
    _set_password(person, new_password, keep=None)
    audit.record(person, Action.ACCOUNT_PASSWORD_RESET, person)
    return person


def change_password(person: Person, current: str, new_password: str) -> None:
    if person.password_hash and not verify_password(person.password_hash, current):
        raise Invalid("Your current password is not right.", field="current")
    _set_password(person, new_password, keep=person.signed_in_session)
    audit.record(person, Action.ACCOUNT_PASSWORD_CHANGED, person)


def _set_password(person: Person, new_password: str, keep: AccountSession | None) -> None:
    person.password_hash = hash_password(new_password)
    # Every other session and remember-me cookie ends with the old password.
    _end_sessions(person, keep=keep)


def update_profile(person: Person, name: str) -> None:
    name = clean(name, "Your name cannot be empty.", limit=200, field="name")
    if name != person.name:
        person.name = name
        audit.record(person, Action.ACCOUNT_PROFILE_UPDATED, person)


def oidc_sign_in(claims: dict[str, Any], issuer: str, current: Person | None) -> Person:
    """The person an OpenID Connect identity signs in (linking or creating as needed).

    An identity links to an existing account only through a verified email that matches
    it, or when the signed-in person links it from their account page.
    """
    subject = str(claims.get("sub") or "")
    if not subject:
        raise Invalid("The identity provider did not say who you are.")
    linked = db.session.scalar(
        select(LinkedLogin).where(LinkedLogin.issuer == issuer, LinkedLogin.subject == subject)
    )
    if linked is not None:
        if current is not None and linked.person_id != current.id:
            raise Conflict("That login is already linked to another account.")
        return db.session.get_one(Person, linked.person_id)
    email_verified = claims.get("email_verified") is True
    raw_email = claims.get("email") or ""
    if current is not None:
        return _link(current, issuer, subject, raw_email or current.email)
    if not raw_email or not email_verified:
        raise NotAllowed(
            "Your identity provider has not verified your email address, so we cannot tell "
            "which account is yours. Sign in with your password and link the login from "
            "your account page, or verify your email with the provider first."
        )
    email = normalise_email(raw_email)
    person = person_by_email(email)
    if person is None:
        raise NotFound(
            "No account uses this email yet. Apply through the join page first; you can "
            "link this login afterwards."
        )
    if person.status == MembershipStatus.AWAITING_CONFIRMATION:
        raise Conflict("Confirm your email with the link we sent before signing in this way.")
    return _link(person, issuer, subject, email)


def _link(person: Person, issuer: str, subject: str, email: str) -> Person:
    login = LinkedLogin(person_id=person.id, issuer=issuer, subject=subject, email=email)
    db.session.add(login)
    db.session.flush()
    audit.record(person, Action.ACCOUNT_LOGIN_LINKED, login)
    return person


def linked_logins_of(person: Person) -> list[LinkedLogin]:
    """The OpenID Connect identities that sign ``person`` in, the first linked first."""
    return list(
        db.session.scalars(
            select(LinkedLogin)
            .where(LinkedLogin.person_id == person.id)
            .order_by(LinkedLogin.linked_at, LinkedLogin.id)
        )
    )


def unlink_login(person: Person, login_id: int) -> None:
    login = db.session.scalar(
        select(LinkedLogin).where(LinkedLogin.id == login_id, LinkedLogin.person_id == person.id)
    )
    if login is None:
        raise NotFound("There is no such linked login on your account.")
    if not person.password_hash:
        others = db.session.scalar(
            select(LinkedLogin.id).where(
                LinkedLogin.person_id == person.id, LinkedLogin.id != login_id
            )
        )
        if others is None:
            raise Conflict("Set a password first: this is the only way you can sign in.")
    audit.record(person, Action.ACCOUNT_LOGIN_UNLINKED, login)
    db.session.delete(login)
