"""Membership (R2): applying through the list's link, confirming, approval, leaving."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import IO

from flask import current_app
from sqlalchemy import Select, delete, func, select

from infrawg import audit, policy, signals
from infrawg.actions import Action
from infrawg.errors import Conflict, Invalid
from infrawg.extensions import db
from infrawg.governance.models import Role
from infrawg.governance.roles import people_with_roles
from infrawg.membership.drift import LIST_INVITE
from infrawg.membership.lists import follow_membership
from infrawg.membership.models import MembershipStatus, Person, RosterEntry
from infrawg.membership.passwords import hash_password
from infrawg.membership.people import normalise_email, person_by_email
from infrawg.notices.mail import send_mail
from infrawg.policy import Permission
from infrawg.text import clean
from infrawg.timeutil import utcnow
from infrawg.tokens import make_token, read_token
from infrawg.web import external_url

CONFIRM = "confirm-email"


def on_roster(email: str) -> bool:
    return db.session.get(RosterEntry, email.lower()) is not None


def check_can_apply(email: str) -> str:
    """The normalised email if it may apply now; the refusal otherwise (used live by /join)."""
    email = normalise_email(email)
    if person_by_email(email) is not None:
        raise Conflict(
            "An account with this email already exists. Sign in, or reset your password.",
            field="email",
        )
    # R2: under the roster verifier only foundation members may apply.
    if current_app.config["MEMBERSHIP_VERIFIER"] == "roster" and not on_roster(email):
        raise Invalid(
            "This email is not on the foundation's member roster. Apply with the address "
            "you are registered with as a foundation member, or write to the chair.",
            field="email",
        )
    return email


def set_status(person: Person, status: MembershipStatus, reason: str | None = None) -> None:
    person.status = status
    person.status_reason = reason
    person.status_changed_at = utcnow()


def invited_email(token: str) -> str:
    """The address a list invitation was sent to (it is confirmed: the mail reached it)."""
    email = read_token(LIST_INVITE, token).get("email")
    if not isinstance(email, str):
        raise Invalid("This link is not valid. Check that you copied all of it.")
    return email


def apply(
    name: str, email: str, password: str, foundation_member: bool, invite: str | None = None
) -> Person:
    """R2: a foundation member applies; a confirmation link goes to their email.

    With ``invite`` (the token of a list invitation) the email is the invited one and is
    already confirmed, so the verifier decides at once.
    """
    name = clean(name, "Tell us your name.", limit=200, field="name")
    if not foundation_member:
        raise Invalid(
            "Membership is open to foundation members: confirm that you are one.",
            field="foundation_member",
        )
    if invite is not None:
        email = invited_email(invite)
    email = check_can_apply(email)
    person = Person(
        name=name,
        email=email,
        password_hash=hash_password(password),
        declared_foundation_member=True,
        status=MembershipStatus.AWAITING_CONFIRMATION,
    )
    db.session.add(person)
    db.session.flush()
    audit.record(person, Action.MEMBERSHIP_APPLIED, person)
    if invite is not None:
        person.email_confirmed_at = utcnow()
        audit.record(person, Action.MEMBERSHIP_EMAIL_CONFIRMED, person, "by the list's invitation")
        _verify_eligibility(person)
    else:
        send_confirmation(person)
    return person


def send_confirmation(person: Person) -> None:
    token = make_token(CONFIRM, {"person": person.id, "email": person.email})
    link = external_url("membership.confirm", token=token)
    send_mail(person.email, "Confirm your email", "confirm_email", person=person, link=link)


def resend_confirmation(person: Person) -> None:
    if person.status != MembershipStatus.AWAITING_CONFIRMATION:
        raise Conflict("Your email is already confirmed.")
    send_confirmation(person)


class AlreadyConfirmed(Conflict):
    """The confirmation link was used before: nothing is wrong, the person signs in."""

    def __init__(self, person: Person) -> None:
        super().__init__(
            f"This link was already used: your email is confirmed. Your status: "
            f"{person.status.label}."
        )
        self.person = person


def person_for_confirmation(token: str) -> Person:
    payload = read_token(CONFIRM, token)
    person = db.session.get(Person, payload.get("person"))
    if person is None or person.email != payload.get("email"):
        raise Invalid("This link is not valid. Check that you copied all of it.")
    if person.status != MembershipStatus.AWAITING_CONFIRMATION:
        raise AlreadyConfirmed(person)
    return person


def confirm_email(token: str) -> Person:
    """Confirm the address, then let the configured verifier decide eligibility."""
    person = person_for_confirmation(token)
    person.email_confirmed_at = utcnow()
    audit.record(person, Action.MEMBERSHIP_EMAIL_CONFIRMED, person)
    _verify_eligibility(person)
    return person


def _verify_eligibility(person: Person) -> None:
    verifier = current_app.config["MEMBERSHIP_VERIFIER"]
    if verifier == "roster":
        if on_roster(person.email):
            _admit(person, actor=None, reason="On the foundation member roster")
        else:
            set_status(person, MembershipStatus.DECLINED, "Not on the foundation member roster")
            audit.record(None, Action.MEMBERSHIP_DECLINED, person, person.status_reason)
        return
    set_status(person, MembershipStatus.AWAITING_APPROVAL)
    audit.record(person, Action.MEMBERSHIP_AWAITING_APPROVAL, person)
    deciders = people_with_roles({Role.STAFF, Role.CHAIR})
    send_mail(
        [p.email for p in deciders],
        f"New application: {person.name}",
        "application_waiting",
        applicant=person,
        link=external_url("membership.applications"),
    )


def _admit(person: Person, actor: Person | None, reason: str) -> None:
    set_status(person, MembershipStatus.MEMBER, reason)
    follow_membership(person.email)
    audit.record(actor, Action.MEMBERSHIP_ADMITTED, person, reason)
    send_mail(
        person.email,
        "Welcome to the Infra-WG",
        "welcome",
        person=person,
        link=external_url("membership.dashboard"),
    )


def pending_applications():
    return (
        select(Person)
        .where(Person.status == MembershipStatus.AWAITING_APPROVAL)
        .order_by(Person.status_changed_at)
    )


def pending_applications_count() -> Select:
    """The count of applications awaiting approval, as a query (for the nav)."""
    return select(func.count()).where(Person.status == MembershipStatus.AWAITING_APPROVAL)


def count_pending_applications() -> int:
    return db.session.scalar(pending_applications_count()) or 0


def decide_application(actor: Person, person: Person, approve: bool, reason: str) -> None:
    """Staff or the chair approve or decline an application waiting for approval."""
    policy.require(actor, Permission.MEMBERSHIP_DECIDE, person)
    reason = clean(reason, field="reason")
    if person.status != MembershipStatus.AWAITING_APPROVAL:
        raise Conflict(f"This application is not waiting for a decision: {person.status.label}.")
    if approve:
        _admit(person, actor, reason or "Approved")
        return
    if not reason:
        raise Invalid("Give the applicant a reason for declining.", field="reason")
    set_status(person, MembershipStatus.DECLINED, reason)
    audit.record(actor, Action.MEMBERSHIP_DECLINED, person, reason)
    send_mail(person.email, "Your application", "declined", person=person, reason=reason)


def check_can_leave(person: Person) -> None:
    """Whether ``person`` may leave the group now, asked before the confirmation step: the
    other areas' refusals (R4: ``HandoverNeeded`` for the last tenant member) are raised,
    and nothing changes."""
    if person.status != MembershipStatus.MEMBER:
        raise Conflict("Only a member can leave the group.")
    signals.send(signals.member_leaving, person=person)


def leave(person: Person, reason: str | None = None) -> None:
    """A member leaves the group; the account and its history stay for the audit trail."""
    # Leaving twice at once (two tabs) leaves once: the second waits, then sees LEFT.
    db.session.execute(
        select(Person)
        .where(Person.id == person.id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    ).all()
    if person.status != MembershipStatus.MEMBER:
        raise Conflict("Only a member can leave the group.")
    # Other areas may refuse (tenants, R4: the last tenant member of an organisation cannot
    # leave the group either), then end what counted only for a member (tenancies, roles).
    signals.send(signals.member_leaving, person=person)
    signals.send(signals.member_left, person=person, reason="Left the group")
    set_status(person, MembershipStatus.LEFT, reason)
    follow_membership(person.email)
    audit.record(person, Action.MEMBERSHIP_LEFT, person, reason)
    # The site says goodbye (the list's own goodbye message is off, see the README).
    send_mail(person.email, "You left the Infra-WG", "goodbye", person=person)
    policy.forget_roles()


def rejoin(person: Person) -> None:
    """A former member applies again; the verifier decides as for a new applicant."""
    if person.status != MembershipStatus.LEFT:
        raise Conflict("Only someone who left the group can rejoin.")
    audit.record(person, Action.MEMBERSHIP_REJOIN, person)
    _verify_eligibility(person)


@dataclass(frozen=True)
class RosterResult:
    emails: int
    invalid_lines: tuple[int, ...]
    admitted: int


def upload_roster(actor: Person, stream: IO[bytes]) -> RosterResult:
    """Replace the foundation member roster with the emails in a CSV file.

    The file has an ``email`` column, or emails in its first column. Invalid lines are
    reported, not imported; a file without a single valid email changes nothing.
    """
    policy.require(actor, Permission.ROSTER_MANAGE)
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="replace")
    reader = csv.reader(text)
    emails: set[str] = set()
    invalid: list[int] = []
    column = 0
    try:
        for line_no, row in enumerate(reader, start=1):
            if not row or not any(cell.strip() for cell in row):
                continue
            if line_no == 1:
                lowered = [cell.strip().lower() for cell in row]
                if "email" in lowered:
                    column = lowered.index("email")
                    continue
            try:
                emails.add(normalise_email(row[column] if column < len(row) else ""))
            except Invalid:
                invalid.append(line_no)
    except csv.Error as exc:
        # A field over csv's limit (128 KiB): not a list of emails, and not our error.
        raise Invalid(
            f"The file is not a CSV list of emails ({exc}); the roster is unchanged."
        ) from exc
    if not emails:
        raise Invalid("The file holds no valid email address; the roster is unchanged.")
    db.session.execute(delete(RosterEntry))
    db.session.add_all(RosterEntry(email=email) for email in sorted(emails))
    admitted = 0
    waiting = db.session.scalars(
        select(Person).where(
            Person.status == MembershipStatus.AWAITING_APPROVAL, Person.email.in_(emails)
        )
    )
    for person in waiting:
        _admit(person, actor, "On the foundation member roster")
        admitted += 1
    audit.record(actor, Action.MEMBERSHIP_ROSTER_UPLOADED, None, f"{len(emails)} emails")
    return RosterResult(len(emails), tuple(invalid), admitted)


def roster_size() -> int:
    return db.session.scalar(select(func.count()).select_from(RosterEntry)) or 0
