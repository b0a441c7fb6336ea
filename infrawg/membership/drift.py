"""Drift between the mailing list's real roster and the membership, and its repair.

Two kinds of row: an address on the list that is not a member, and a member who is not on
the list. Staff resolve each row with one audited action: subscribe, unsubscribe, invite to
join, or record a known exception with a reason (an exception takes the row out of the
report, and the list-sync job leaves that address as it is).

`sync` is what the `membership.list_poll` job runs every 15 minutes on its schedule (and
`flask infrawg list sync` by hand): it reads the roster, invites whoever subscribed on the
list directly, asks whoever unsubscribed on the list whether they meant to leave the group,
and mails staff the drift rows it has not reported before.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import delete, select

from infrawg import audit, policy
from infrawg.actions import Action
from infrawg.enums import LabelledEnum
from infrawg.errors import Conflict, Invalid
from infrawg.extensions import db
from infrawg.governance.models import Role
from infrawg.governance.roles import people_with_roles
from infrawg.membership.lists import (
    ListUnavailable,
    follow_membership,
    list_backend,
)
from infrawg.membership.models import (
    ListDriftSeen,
    ListException,
    ListRosterEntry,
    MembershipStatus,
    Person,
)
from infrawg.notices.mail import send_mail
from infrawg.policy import Permission
from infrawg.text import clean
from infrawg.tokens import make_token
from infrawg.web import external_url


class DriftAction(LabelledEnum):
    SUBSCRIBE = "subscribe", "Subscribe to the list"
    UNSUBSCRIBE = "unsubscribe", "Unsubscribe from the list"
    INVITE = "invite", "Invite to join"
    EXCEPTION = "exception", "Mark as a known exception"


# The signed link inviting a list subscriber to join (read by membership.service.apply).
LIST_INVITE = "list-invite"

# The audit actions of this module (listed for the policy's audit visibility).

AUDIT_ACTIONS = {
    DriftAction.SUBSCRIBE: Action.MEMBERSHIP_LIST_SUBSCRIBED,
    DriftAction.UNSUBSCRIBE: Action.MEMBERSHIP_LIST_UNSUBSCRIBED,
    DriftAction.INVITE: Action.MEMBERSHIP_LIST_INVITED,
    DriftAction.EXCEPTION: Action.MEMBERSHIP_LIST_EXCEPTION_RECORDED,
}

# Which actions fit which row: a non-member on the list, or a member off it.
ON_LIST_ACTIONS: tuple[DriftAction, ...] = (
    DriftAction.UNSUBSCRIBE,
    DriftAction.INVITE,
    DriftAction.EXCEPTION,
)
OFF_LIST_ACTIONS: tuple[DriftAction, ...] = (DriftAction.SUBSCRIBE, DriftAction.EXCEPTION)


@dataclass(frozen=True)
class Drift:
    on_list_not_members: list[str]
    members_not_on_list: list[str]
    exceptions: list[ListException] = field(default_factory=list)
    error: str | None = None

    @property
    def rows(self) -> set[tuple[str, bool]]:
        return {(e, True) for e in self.on_list_not_members} | {
            (e, False) for e in self.members_not_on_list
        }


def _address() -> str:
    return list_backend().list_address


def member_emails() -> set[str]:
    return set(
        db.session.scalars(select(Person.email).where(Person.status == MembershipStatus.MEMBER))
    )


def exceptions() -> list[ListException]:
    return list(
        db.session.scalars(
            select(ListException)
            .where(ListException.list_address == _address())
            .order_by(ListException.email)
        )
    )


def compare(roster: set[str]) -> Drift:
    """The drift between `roster` (the list's real members) and the membership."""
    members = member_emails()
    known = exceptions()
    excepted = {e.email for e in known}
    return Drift(sorted(roster - members - excepted), sorted(members - roster - excepted), known)


def report() -> Drift:
    """The drift now, read from the list server; an unreachable server is said, not raised."""
    try:
        roster = list_backend().members()
    except ListUnavailable as error:
        return Drift([], [], exceptions(), error=str(error))
    return compare(roster)


def _person(email: str) -> Person | None:
    return db.session.scalar(select(Person).where(Person.email == email))


def resolve(actor: Person, email: str, action: DriftAction, reason: str = "") -> None:
    """Staff resolve one drift row. The list call itself runs as a job after commit."""
    policy.require(actor, Permission.MEMBERSHIP_DRIFT_REPAIR)
    email = email.strip().lower()
    reason = clean(reason, field="reason")
    current = report()
    if current.error:
        raise Conflict(f"The list cannot be read now, so nothing was changed: {current.error}")
    if email in current.on_list_not_members:
        on_list, allowed = True, ON_LIST_ACTIONS
    elif email in current.members_not_on_list:
        on_list, allowed = False, OFF_LIST_ACTIONS
    else:
        raise Conflict(f"{email} is no longer in the drift report; nothing was changed.")
    if action not in allowed:
        raise Invalid(f"{action.label} does not fit {email}.", field="reason")
    person = _person(email)
    if action == DriftAction.EXCEPTION:
        if not reason:
            raise Invalid("Say why this address is a known exception.", field="reason")
        exception = ListException(
            list_address=_address(), email=email, on_list=on_list, reason=reason, actor_id=actor.id
        )
        db.session.add(exception)
        db.session.flush()
        audit.record(actor, AUDIT_ACTIONS[action], exception, reason)
        return
    if action == DriftAction.INVITE:
        send_invitation(email)
    else:
        # Membership decides: a member is subscribed, anyone else unsubscribed.
        follow_membership(email)
    audit.record(actor, AUDIT_ACTIONS[action], person, f"{email}: {reason}" if reason else email)


def remove_exception(actor: Person, exception_id: int) -> None:
    policy.require(actor, Permission.MEMBERSHIP_DRIFT_REPAIR)
    exception = db.session.get(ListException, exception_id)
    if exception is None:
        raise Conflict("That exception was already removed.")
    audit.record(actor, Action.MEMBERSHIP_LIST_EXCEPTION_REMOVED, exception, exception.reason)
    db.session.delete(exception)


def send_invitation(email: str) -> None:
    """Invite a list subscriber to complete their membership on the site (R2)."""
    person = _person(email)
    if person is None:
        token = make_token(LIST_INVITE, {"email": email})
        link = external_url("membership.join", invite=token)
    else:
        link = external_url("auth.signin")
    send_mail(
        email, "Complete your Infra-WG membership", "list_invitation", person=person, link=link
    )


def ask_if_leaving(person: Person) -> None:
    send_mail(
        person.email,
        "Did you mean to leave the Infra-WG?",
        "list_left",
        person=person,
        link=external_url("membership.account"),
    )
    audit.record(
        None, Action.MEMBERSHIP_LIST_ASKED_IF_LEAVING, person, "unsubscribed on the list itself"
    )


@dataclass(frozen=True)
class SyncResult:
    roster: int
    invited: list[str]
    asked: list[str]
    new_drift: list[tuple[str, bool]]
    first_run: bool


def sync() -> SyncResult:
    """Poll the roster and act on what changed since the last poll (see the module doc).

    The first run only records the roster it sees (and reports the drift to staff): it
    cannot tell who subscribed on the list directly from who was always there.
    Raises ListUnavailable when the list cannot be read; nothing is changed then.
    """
    address = _address()
    roster = list_backend().members()
    # Under moderated subscription someone who subscribes on the list waits for a
    # moderator: they are invited as soon as they ask, not only once approved.
    seen_now = roster | list_backend().waiting()
    last = set(
        db.session.scalars(
            select(ListRosterEntry.email).where(ListRosterEntry.list_address == address)
        )
    )
    first_run = (
        not last
        and db.session.scalar(
            select(ListDriftSeen.email).where(ListDriftSeen.list_address == address).limit(1)
        )
        is None
    )
    invited: list[str] = []
    asked: list[str] = []
    excepted = {e.email for e in exceptions()}
    if not first_run:
        members = member_emails()
        for email in sorted(seen_now - last - members - excepted):
            send_invitation(email)
            audit.record(None, AUDIT_ACTIONS[DriftAction.INVITE], _person(email), email)
            invited.append(email)
        for email in sorted((last - seen_now) & members - excepted):
            person = _person(email)
            assert person is not None
            ask_if_leaving(person)
            asked.append(email)
    db.session.execute(delete(ListRosterEntry).where(ListRosterEntry.list_address == address))
    db.session.add_all(ListRosterEntry(list_address=address, email=e) for e in sorted(seen_now))

    drift = compare(roster)
    seen = {
        (row.email, row.on_list): row
        for row in db.session.scalars(
            select(ListDriftSeen).where(ListDriftSeen.list_address == address)
        )
    }
    new_drift = sorted(drift.rows - set(seen))
    for key, row in seen.items():
        if key not in drift.rows:
            db.session.delete(row)
    db.session.add_all(
        ListDriftSeen(list_address=address, email=email, on_list=on_list)
        for email, on_list in new_drift
    )
    if new_drift:
        _report_to_staff(new_drift)
    return SyncResult(len(roster), invited, asked, new_drift, first_run)


def _report_to_staff(rows: list[tuple[str, bool]]) -> None:
    staff = people_with_roles({Role.STAFF, Role.CHAIR})
    if not staff:
        return
    send_mail(
        [p.email for p in staff],
        f"Mailing list drift: {len(rows)} new",
        "list_drift",
        on_list=[e for e, on in rows if on],
        off_list=[e for e, on in rows if not on],
        link=external_url("membership.drift"),
    )
