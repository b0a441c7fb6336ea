"""Governance: staff status (R3), the chair and the board (R6), roles and their history."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from flask import Flask
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import selectinload

from infrawg import audit, policy, signals
from infrawg.actions import Action
from infrawg.errors import Conflict, Invalid, NotAllowed, NotFound
from infrawg.extensions import db
from infrawg.governance.models import Role, RoleGrant, StaffRequest, StaffRequestState
from infrawg.governance.roles import people_with_roles
from infrawg.locks import lock_name, lock_rows
from infrawg.membership.lists import follow_membership
from infrawg.membership.models import MembershipStatus, Person
from infrawg.membership.people import normalise_email, person_by_email
from infrawg.notices.mail import send_mail
from infrawg.policy import Permission
from infrawg.text import clean
from infrawg.timeutil import utcnow
from infrawg.transitions import transition
from infrawg.web import external_url

CHAIRS_DECISION = "chair's decision"
BOARD_RESOLUTION = "board resolution"


# Reading (who holds a role now: governance/roles.py) ----------------------------------


def role_history(person: Person) -> list[RoleGrant]:
    """Every grant the person ever held, newest first, with who granted and ended it."""
    return list(
        db.session.scalars(
            select(RoleGrant)
            .where(RoleGrant.person_id == person.id)
            .options(selectinload(RoleGrant.granted_by), selectinload(RoleGrant.ended_by))
            .order_by(RoleGrant.granted_at.desc(), RoleGrant.id.desc())
        )
    )


def _current_grant(person: Person, role: Role) -> RoleGrant | None:
    return db.session.scalar(
        select(RoleGrant).where(
            RoleGrant.person_id == person.id, RoleGrant.role == role, RoleGrant.ended_at.is_(None)
        )
    )


def directory(search: str = ""):
    """Members of the group, by name; ``search`` matches name or email."""
    stmt = select(Person).where(Person.status == MembershipStatus.MEMBER)
    search = search.strip().lower()
    if search:
        pattern = f"%{search.replace('%', '').replace('_', '')}%"
        stmt = stmt.where(
            or_(func.lower(Person.name).like(pattern), func.lower(Person.email).like(pattern))
        )
    return stmt.order_by(Person.name, Person.id)


def current_roles_by_person(person_ids: Iterable[int]) -> dict[int, list[Role]]:
    """Current granted roles of many people in one query (for the directory)."""
    ids = list(person_ids)
    roles: dict[int, list[Role]] = {pid: [] for pid in ids}
    if not ids:
        return roles
    rows = db.session.execute(
        select(RoleGrant.person_id, RoleGrant.role)
        .where(RoleGrant.person_id.in_(ids), RoleGrant.ended_at.is_(None))
        .order_by(RoleGrant.role)
    )
    for person_id, role in rows:
        roles[person_id].append(role)
    return roles


def open_staff_requests():
    return (
        select(StaffRequest)
        .where(StaffRequest.state == StaffRequestState.OPEN)
        .options(selectinload(StaffRequest.person))
        .order_by(StaffRequest.created_at, StaffRequest.id)
    )


def open_staff_requests_count() -> Select:
    """The count of open staff requests, as a query (the nav runs it with the others)."""
    return select(func.count()).where(StaffRequest.state == StaffRequestState.OPEN)


def count_open_staff_requests() -> int:
    return db.session.scalar(open_staff_requests_count()) or 0


def staff_requests_of(person: Person) -> list[StaffRequest]:
    return list(
        db.session.scalars(
            select(StaffRequest)
            .where(StaffRequest.person_id == person.id)
            .options(selectinload(StaffRequest.decided_by))
            .order_by(StaffRequest.created_at.desc(), StaffRequest.id.desc())
        )
    )


def get_staff_request(request_id: int) -> StaffRequest:
    staff_request = db.session.scalar(
        select(StaffRequest)
        .where(StaffRequest.id == request_id)
        .options(selectinload(StaffRequest.person), selectinload(StaffRequest.decided_by))
    )
    if staff_request is None:
        raise NotFound("There is no such staff request.")
    return staff_request


def get_grant(grant_id: int) -> RoleGrant:
    grant = db.session.scalar(
        select(RoleGrant).where(RoleGrant.id == grant_id).options(selectinload(RoleGrant.person))
    )
    if grant is None:
        raise NotFound("There is no such role grant.")
    return grant


# Staff (R3) ----------------------------------------------------------------------------


def ask_for_staff(person: Person, motivation: str) -> StaffRequest:
    """R3: any member may ask the chair for staff status, with a short motivation."""
    policy.require(person, Permission.STAFF_REQUEST)
    motivation = clean(
        motivation, "Say in a few words why you ask for staff status.", field="motivation"
    )
    if Role.STAFF in policy.roles_of(person):
        raise Conflict("You are already staff.")
    # One open request per person, even when two arrive at once: lock, then look.
    lock_rows(Person, [person.id])
    open_request = db.session.scalar(
        select(StaffRequest.id).where(
            StaffRequest.person_id == person.id, StaffRequest.state == StaffRequestState.OPEN
        )
    )
    if open_request is not None:
        raise Conflict("You already asked; your request waits for the chair.")
    staff_request = StaffRequest(person_id=person.id, motivation=motivation)
    db.session.add(staff_request)
    db.session.flush()
    audit.record(person, Action.STAFF_REQUESTED, staff_request, motivation)
    chairs = people_with_roles({Role.CHAIR})
    send_mail(
        [p.email for p in chairs],
        f"{person.name} asks for staff status",
        "staff_request_waiting",
        person=person,
        motivation=motivation,
        link=external_url("governance.chair_queue"),
    )
    return staff_request


def withdraw_staff_request(person: Person, staff_request: StaffRequest) -> None:
    if staff_request.person_id != person.id:
        raise NotFound("There is no such staff request.")
    if staff_request.state != StaffRequestState.OPEN:
        raise Conflict(f"This request is no longer open: {staff_request.state.label}.")
    # Withdrawn by the member, not decided by anyone.
    transition(
        staff_request,
        StaffRequestState.WITHDRAWN,
        actor=person,
        by=None,
        action=Action.STAFF_REQUEST_WITHDRAWN,
    )


def _refuse_own_staff_status(actor: Person, person: Person) -> None:
    # R3: staff status is the chair's discretion over *others*. Raised as NotAllowed so the
    # refusal reaches the audited handler.
    if actor.id == person.id:
        raise NotAllowed(
            "Staff status is the chair's decision about other members (R3): you cannot "
            "grant or keep it for yourself."
        )


def _grant_staff(actor: Person, person: Person, reason: str) -> RoleGrant:
    _refuse_own_staff_status(actor, person)
    # One current staff grant per person, even when the chair's two clicks race.
    lock_rows(Person, [person.id])
    if not person.is_member:
        raise Conflict(
            f"{person.name} is not a member of the Infra-WG ({person.status.label.lower()}): "
            "staff status is only for members."
        )
    if _current_grant(person, Role.STAFF) is not None:
        raise Conflict(f"{person.name} is already staff.")
    grant = RoleGrant(
        person_id=person.id,
        role=Role.STAFF,
        granted_by_id=actor.id,
        authority=CHAIRS_DECISION,
        reason=reason,
    )
    db.session.add(grant)
    db.session.flush()
    audit.record(actor, Action.STAFF_GRANTED, person, reason)
    policy.forget_roles()
    return grant


def grant_staff_request(actor: Person, staff_request: StaffRequest, reason: str) -> None:
    """R3: the chair grants a request; the grant records the chair's decision."""
    policy.require(actor, Permission.STAFF_DECIDE, staff_request)
    reason = clean(reason, field="reason") or "Granted"
    if staff_request.state != StaffRequestState.OPEN:
        raise Conflict(f"This request is no longer open: {staff_request.state.label}.")
    grant = _grant_staff(actor, staff_request.person, reason)
    # The audit event is the grant's (in _grant_staff).
    transition(staff_request, StaffRequestState.GRANTED, actor=actor, reason=reason)
    staff_request.grant_id = grant.id
    _mail_decision(staff_request)


def decline_staff_request(actor: Person, staff_request: StaffRequest, reason: str) -> None:
    """R3: the chair declines a request, with a reason the member is sent."""
    policy.require(actor, Permission.STAFF_DECIDE, staff_request)
    reason = clean(reason, "Give the member a reason for declining.", field="reason")
    if staff_request.state != StaffRequestState.OPEN:
        raise Conflict(f"This request is no longer open: {staff_request.state.label}.")
    transition(
        staff_request,
        StaffRequestState.DECLINED,
        actor=actor,
        reason=reason,
        action=Action.STAFF_DECLINED,
        subject=staff_request.person,
    )
    _mail_decision(staff_request)


def _mail_decision(staff_request: StaffRequest) -> None:
    person = staff_request.person
    verb = "granted" if staff_request.state == StaffRequestState.GRANTED else "declined"
    send_mail(
        person.email,
        f"Your request for staff status was {verb}",
        "staff_request_decided",
        person=person,
        staff_request=staff_request,
        granted=staff_request.state == StaffRequestState.GRANTED,
        link=external_url("governance.my_roles"),
    )


def grant_staff(actor: Person, email: str, reason: str) -> RoleGrant:
    """R3: the chair makes a member staff without a request."""
    policy.require(actor, Permission.STAFF_DECIDE)
    reason = clean(reason, "Say why: the grant records the chair's decision.", field="reason")
    person = person_by_email(normalise_email(email))
    if person is None:
        raise Invalid("No account uses that email. Staff must first join the group.", field="email")
    grant = _grant_staff(actor, person, reason)
    send_mail(
        person.email,
        "You are now Infra-WG staff",
        "staff_granted",
        person=person,
        reason=reason,
        link=external_url("governance.my_roles"),
    )
    return grant


def revoke_staff(actor: Person, grant: RoleGrant, reason: str) -> None:
    """R3: the chair ends a staff grant, with a reason."""
    policy.require(actor, Permission.STAFF_DECIDE, grant)
    reason = clean(reason, "Give a reason for revoking staff status.", field="reason")
    if grant.role != Role.STAFF or grant.ended_at is not None:
        raise Conflict("This is not a current staff grant.")
    _end(grant, actor, reason)
    audit.record(actor, Action.STAFF_REVOKED, grant.person, reason)
    send_mail(
        grant.person.email,
        "Your staff status was revoked",
        "staff_revoked",
        person=grant.person,
        reason=reason,
    )


# A staff grant rests on the chair's discretion (R3: "Staff membership is at the sole
# discretion of the Chair"). When the board appoints a new chair (R6), the grants the previous
# chair made do not end: the infrastructure keeps its hands (R13: servers stay backed up and
# monitored), and the new chair's discretion is exercised by reviewing them. Until the new
# chair keeps or revokes a grant, it is listed on the chair's queue as waiting for review.
# A chair's own staff grant is not theirs to review (R3 again); it stays as it was.


def staff_grants_to_review(chair: Person) -> list[RoleGrant]:
    """R3: current staff grants made under a previous chair's office, not yet kept by ``chair``."""
    office = _current_grant(chair, Role.CHAIR)
    if office is None:
        return []
    return list(
        db.session.scalars(
            select(RoleGrant)
            .join(Person, Person.id == RoleGrant.person_id)
            .where(
                RoleGrant.role == Role.STAFF,
                RoleGrant.ended_at.is_(None),
                RoleGrant.authority == CHAIRS_DECISION,
                RoleGrant.granted_at < office.granted_at,
                RoleGrant.person_id != chair.id,
                Person.status == MembershipStatus.MEMBER,
                or_(RoleGrant.reviewed_at.is_(None), RoleGrant.reviewed_at < office.granted_at),
            )
            .options(selectinload(RoleGrant.person), selectinload(RoleGrant.granted_by))
            .order_by(RoleGrant.granted_at, RoleGrant.id)
        )
    )


def keep_staff(actor: Person, grant: RoleGrant, reason: str = "") -> Person:
    """R3: the new chair keeps a staff grant a previous chair made; the staff member."""
    policy.require(actor, Permission.STAFF_DECIDE, grant)
    if grant.role != Role.STAFF or grant.ended_at is not None:
        raise Conflict("This is not a current staff grant.")
    person = db.session.get_one(Person, grant.person_id)
    _refuse_own_staff_status(actor, person)
    grant.reviewed_at = utcnow()
    grant.reviewed_by_id = actor.id
    reason = clean(reason) or "Kept as staff by the new chair"
    audit.record(actor, Action.STAFF_KEPT, person, reason)
    return person


def check_can_step_down(person: Person) -> RoleGrant:
    """R3: the person's staff grant, or a Conflict when they are not staff."""
    grant = _current_grant(person, Role.STAFF)
    if grant is None:
        raise Conflict("You are not staff, so there is nothing to step down from.")
    return grant


def step_down(person: Person, reason: str | None = None) -> None:
    """R3: a staff member steps down to member at any time."""
    grant = check_can_step_down(person)
    reason = clean(reason, field="reason") or "Stepped down"
    _end(grant, person, reason)
    audit.record(person, Action.STAFF_STEPPED_DOWN, person, reason)


def _end(grant: RoleGrant, actor: Person | None, reason: str) -> None:
    grant.end(reason)
    grant.ended_by_id = actor.id if actor is not None else None
    policy.forget_roles()


def end_group_roles(person: Person, reason: str) -> None:
    """Staff and chair count only for members: end them when the person leaves."""
    # Connected to signals.member_left (membership.leave sends it).
    for role in sorted(policy.MEMBER_ONLY_ROLES):
        grant = _current_grant(person, role)
        if grant is not None:
            _end(grant, person, reason)
            audit.record(person, Action(f"{role.value}.ended"), person, reason)


# The chair (R6) ------------------------------------------------------------------------


def appoint_chair(
    actor: Person,
    email: str,
    resolution_ref: str,
    resolution_date: date | None,
    reason: str = "",
) -> RoleGrant:
    """R6: the board appoints the chair; the previous appointment ends in the same act."""
    policy.require(actor, Permission.CHAIR_APPOINT)
    resolution_ref = clean(
        resolution_ref,
        "Give the reference of the board's resolution (e.g. 2026-05-12-03).",
        field="resolution_ref",
    )[:200]
    if resolution_date is None:
        raise Invalid("Give the date of the board's resolution.", field="resolution_date")
    if resolution_date > utcnow().date():
        raise Invalid("The resolution's date cannot be in the future.", field="resolution_date")
    person = person_by_email(normalise_email(email))
    if person is None:
        raise Invalid(
            "No account uses that email. The chair must first join the group.", field="email"
        )
    return _appoint(actor, person, resolution_ref, resolution_date, clean(reason, field="reason"))


def _appoint(
    actor: Person | None,
    person: Person,
    ref: str,
    when: date,
    reason: str,
    authority: str = "",
    notify: bool = True,
) -> RoleGrant:
    if not person.is_member:
        raise Conflict(
            f"{person.name} is not a member of the Infra-WG: the chair must be a member."
        )
    # R6: two appointments at once must not both find no chair (or the same one).
    lock_name("chair")
    previous = db.session.scalar(
        select(RoleGrant)
        .where(RoleGrant.role == Role.CHAIR, RoleGrant.ended_at.is_(None))
        .options(selectinload(RoleGrant.person))
    )
    if previous is not None and previous.person_id == person.id:
        raise Conflict(f"{person.name} is already the chair.")
    if previous is not None:
        # R6: there is at most one chair; the new appointment replaces the old one.
        _end(previous, actor, f"Replaced by board resolution {ref}")
        audit.record(actor, Action.CHAIR_REPLACED, previous.person, f"Board resolution {ref}")
        db.session.flush()
    grant = RoleGrant(
        person_id=person.id,
        role=Role.CHAIR,
        granted_by_id=actor.id if actor is not None else None,
        authority=authority or BOARD_RESOLUTION,
        resolution_ref=ref,
        resolution_date=when,
        reason=reason or None,
    )
    db.session.add(grant)
    db.session.flush()
    audit.record(actor, Action.CHAIR_APPOINTED, person, f"Board resolution {ref} of {when}")
    policy.forget_roles()
    if not notify:
        return grant
    recipients = [person.email] + ([previous.person.email] if previous is not None else [])
    send_mail(
        recipients,
        f"{person.name} is appointed chair",
        "chair_appointed",
        person=person,
        previous=previous.person if previous is not None else None,
        grant=grant,
    )
    return grant


def bootstrap(chair_email: str, board_emails: list[str]) -> tuple[Person, list[Person]]:
    """A new installation's first chair and board; accounts are made where missing.

    Refused once a chair exists: after that the board appoints (R6).
    """
    if db.session.scalar(
        select(RoleGrant.id).where(RoleGrant.role == Role.CHAIR, RoleGrant.ended_at.is_(None))
    ):
        raise Conflict(
            "This installation already has a chair. The board appoints a new one from the "
            "board's queue (R6)."
        )
    if not board_emails:
        raise Invalid("Name at least one board member with --board.")
    chair = _bootstrap_person(chair_email)
    board = []
    for email in dict.fromkeys(normalise_email(e) for e in board_emails):
        person = _bootstrap_person(email)
        if _current_grant(person, Role.BOARD) is None:
            db.session.add(RoleGrant(person_id=person.id, role=Role.BOARD, authority="bootstrap"))
            audit.record(None, Action.BOARD_GRANTED, person, "bootstrap of a new installation")
        board.append(person)
    # No mail: the command runs outside a request, and the people are the ones running it.
    _appoint(None, chair, "bootstrap", utcnow().date(), "First chair", "bootstrap", notify=False)
    return chair, board


def _bootstrap_person(email: str) -> Person:
    email = normalise_email(email)
    person = person_by_email(email)
    if person is None:
        # No password: the person sets one through "Forgot your password?".
        person = Person(
            name=email.split("@")[0],
            email=email,
            status=MembershipStatus.MEMBER,
            status_reason="Bootstrap of a new installation",
            declared_foundation_member=True,
            email_confirmed_at=utcnow(),
        )
        db.session.add(person)
        db.session.flush()
        follow_membership(email)
        audit.record(None, Action.MEMBERSHIP_ADMITTED, person, "bootstrap of a new installation")
    return person


def _end_roles_of_leaver(sender: object, person: Person, reason: str, **_: object) -> None:
    end_group_roles(person, reason)


def init_signals(app: Flask) -> None:
    signals.connect(app, signals.member_left, _end_roles_of_leaver)
