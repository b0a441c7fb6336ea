"""Project milestones (R15), internal to the group (R16), with a private .ics feed."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import date
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import selectinload

from infrawg import audit, policy
from infrawg.actions import Action
from infrawg.errors import Conflict, Invalid, NotFound
from infrawg.extensions import db
from infrawg.membership.models import MembershipStatus, Person
from infrawg.policy import Permission
from infrawg.surveys.models import (
    CalendarToken,
    Milestone,
    MilestoneStatus,
    Project,
    ProjectKind,
)
from infrawg.tenants.models import TenantOrganisation
from infrawg.timeutil import utcnow

SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,78}[a-z0-9])?$")


def projects():
    return select(Project).options(selectinload(Project.organisation)).order_by(Project.name)


def get_project(slug: str) -> Project:
    project = db.session.scalar(
        select(Project)
        .where(Project.slug == slug)
        .options(
            selectinload(Project.organisation),
            selectinload(Project.milestones).selectinload(Milestone.owner),
        )
    )
    if project is None:
        raise NotFound("There is no such project.")
    return project


def get_milestone(project: Project, milestone_id: int) -> Milestone:
    milestone = db.session.get(Milestone, milestone_id)
    if milestone is None or milestone.project_id != project.id:
        raise NotFound("There is no such milestone in this project.")
    return milestone


def create_project(
    actor: Person,
    name: str,
    slug: str,
    description: str,
    kind: ProjectKind,
    organisation_id: int | None,
) -> Project:
    """A project of the group, or planning help for another working group (R15)."""
    policy.require(actor, Permission.MILESTONE_MANAGE)
    name, slug = name.strip(), slug.strip().lower()
    if not name:
        raise Invalid("Give the project a name.")
    if not SLUG.match(slug):
        raise Invalid("The short name takes lowercase letters, digits and hyphens.")
    if db.session.scalar(select(Project.id).where(Project.slug == slug)) is not None:
        raise Conflict(f"A project called {slug} already exists.")
    if kind == ProjectKind.HELP:
        if organisation_id is None or db.session.get(TenantOrganisation, organisation_id) is None:
            raise Invalid("Name the working group the planning help is for.")
    else:
        organisation_id = None
    project = Project(
        name=name,
        slug=slug,
        description=description.strip(),
        kind=kind,
        organisation_id=organisation_id,
        created_by_id=actor.id,
    )
    db.session.add(project)
    db.session.flush()
    audit.record(actor, Action.PROJECT_CREATED, project)
    return project


@dataclass
class MilestoneInput:
    title: str
    due_on: date
    owner_id: int | None
    status: MilestoneStatus
    notes: str


def _check(data: MilestoneInput) -> None:
    if not data.title.strip():
        raise Invalid("Give the milestone a title.")
    if data.owner_id is not None:
        owner = db.session.get(Person, data.owner_id)
        if owner is None or owner.status != MembershipStatus.MEMBER:
            raise Invalid("The owner must be a member of the group.")


def add_milestone(actor: Person, project: Project, data: MilestoneInput) -> Milestone:
    """R15: chair and staff plan milestones, for the group or for another working group."""
    policy.require(actor, Permission.MILESTONE_MANAGE)
    _check(data)
    milestone = Milestone(
        project_id=project.id,
        title=data.title.strip(),
        due_on=data.due_on,
        owner_id=data.owner_id,
        status=data.status,
        notes=data.notes.strip(),
    )
    db.session.add(milestone)
    db.session.flush()
    audit.record(actor, Action.MILESTONE_ADDED, milestone)
    return milestone


def update_milestone(actor: Person, milestone: Milestone, data: MilestoneInput) -> None:
    policy.require(actor, Permission.MILESTONE_MANAGE)
    _check(data)
    milestone.title = data.title.strip()
    milestone.due_on = data.due_on
    milestone.owner_id = data.owner_id
    milestone.status = data.status
    milestone.notes = data.notes.strip()
    milestone.updated_at = utcnow()
    audit.record(actor, Action.MILESTONE_UPDATED, milestone, data.status.label)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def active_calendar_token(person: Person, project: Project) -> CalendarToken | None:
    return db.session.scalar(
        select(CalendarToken).where(
            CalendarToken.project_id == project.id,
            CalendarToken.person_id == person.id,
            CalendarToken.revoked_at.is_(None),
        )
    )


def _revoke(person: Person, project: Project) -> int:
    # An UPDATE's result is a cursor result, which counts the rows it changed.
    revoked = cast(
        CursorResult[Any],
        db.session.execute(
            update(CalendarToken)
            .where(
                CalendarToken.project_id == project.id,
                CalendarToken.person_id == person.id,
                CalendarToken.revoked_at.is_(None),
            )
            .values(revoked_at=utcnow())
        ),
    )
    return revoked.rowcount


def issue_calendar_link(actor: Person, project: Project) -> str:
    """A new secret for the member's .ics link (any earlier one stops working).

    Returns the secret, shown once; only its hash is stored.
    """
    policy.require(actor, Permission.MILESTONE_READ)
    _revoke(actor, project)
    secret = secrets.token_urlsafe(32)
    token = CalendarToken(project_id=project.id, person_id=actor.id, token_hash=_hash(secret))
    db.session.add(token)
    db.session.flush()
    audit.record(actor, Action.PROJECT_CALENDAR_LINK_ISSUED, token)
    return secret


def revoke_calendar_link(actor: Person, project: Project) -> None:
    policy.require(actor, Permission.MILESTONE_READ)
    if not _revoke(actor, project):
        raise Conflict("You have no calendar link for this project.")
    audit.record(actor, Action.PROJECT_CALENDAR_LINK_REVOKED, project)


def project_for_calendar(slug: str, secret: str) -> Project:
    """The project whose feed ``secret`` opens; R16: only while its holder is a member."""
    token = db.session.scalar(
        select(CalendarToken).where(CalendarToken.token_hash == _hash(secret))
    )
    project = get_project(slug) if token is not None else None
    if (
        token is None
        or token.revoked_at is not None
        or project is None
        or token.project_id != project.id
        or not policy.can(db.session.get(Person, token.person_id), Permission.MILESTONE_READ)
    ):
        raise NotFound("This calendar link does not exist or was revoked.")
    return project


def members() -> list[Person]:
    return list(
        db.session.scalars(
            select(Person).where(Person.status == MembershipStatus.MEMBER).order_by(Person.name)
        )
    )
