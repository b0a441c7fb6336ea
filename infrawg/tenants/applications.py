"""Community organisations' applications (R8): to the chair and the board, naming the
services and how they further the mission; both decisions recorded with reasons, and a
declined application kept, not deleted. The organisations themselves are in service.py.
"""

from __future__ import annotations

from sqlalchemy import Select, func, select
from sqlalchemy.orm import selectinload

from infrawg import audit, policy, signals
from infrawg.actions import Action
from infrawg.errors import Conflict, NotAllowed, NotFound
from infrawg.extensions import db
from infrawg.governance.models import Role
from infrawg.governance.roles import board_members, people_with_roles
from infrawg.membership.models import Person
from infrawg.notices.mail import send_mail
from infrawg.policy import Permission
from infrawg.tenants.models import (
    WAITING_FOR,
    ApplicationDecision,
    ApplicationState,
    COApplication,
    Decision,
    OrganisationKind,
    OrganisationStatus,
    Side,
    TenantOrganisation,
)
from infrawg.tenants.service import (
    MAX_TEXT,
    add_tenant_member,
    check_new_organisation,
    contacts_for,
    lock_organisation,
    set_status,
)
from infrawg.text import clean
from infrawg.timeutil import utcnow
from infrawg.transitions import transition
from infrawg.web import external_url

# Reading -------------------------------------------------------------------------------


def applications_of(organisation: TenantOrganisation) -> list[COApplication]:
    """Every application of the organisation, declined ones too (R8: kept, not deleted)."""
    return list(
        db.session.scalars(
            _with_people(select(COApplication))
            .where(COApplication.organisation_id == organisation.id)
            .order_by(COApplication.created_at.desc(), COApplication.id.desc())
        )
    )


def _with_people(stmt):
    return stmt.options(
        selectinload(COApplication.organisation),
        selectinload(COApplication.applicant),
        selectinload(COApplication.decisions).selectinload(ApplicationDecision.decided_by),
    )


def get_application(application_id: int) -> COApplication:
    application = db.session.scalar(
        _with_people(select(COApplication)).where(COApplication.id == application_id)
    )
    if application is None:
        raise NotFound("There is no such application.")
    return application


def applications_waiting_for(side: str):
    return (
        _with_people(select(COApplication))
        .where(COApplication.state.in_(WAITING_FOR[side]))
        .order_by(COApplication.created_at, COApplication.id)
    )


def applications_waiting_count(side: str) -> Select:
    """The count of CO applications waiting for ``side``, as a query (for the nav)."""
    return select(func.count()).where(COApplication.state.in_(WAITING_FOR[side]))


def count_applications_waiting_for(side: str) -> int:
    return db.session.scalar(applications_waiting_count(side)) or 0


def applications_waiting_for_others(side: str) -> list[COApplication]:
    """Open applications whose next move is the other side's ("waiting for others")."""
    state = (
        ApplicationState.WAITING_FOR_BOARD
        if side == "chair"
        else ApplicationState.WAITING_FOR_CHAIR
    )
    return list(
        db.session.scalars(
            _with_people(select(COApplication))
            .where(COApplication.state == state)
            .order_by(COApplication.created_at, COApplication.id)
        )
    )


# Applying and deciding -------------------------------------------------------------------


def _application_texts(services: str, mission_statement: str) -> tuple[str, str]:
    services = clean(
        services, "Name the services the organisation asks for.", limit=MAX_TEXT, field="services"
    )
    mission_statement = clean(
        mission_statement,
        "Say how these services further the foundation's mission: the chair and the board "
        "decide on it.",
        limit=MAX_TEXT,
        field="mission_statement",
    )
    return services, mission_statement


def apply_as_co(
    actor: Person,
    name: str,
    slug: str,
    description: str,
    website: str,
    services: str,
    mission_statement: str,
) -> COApplication:
    """R8: a community organisation applies to the chair and the board.

    The member who applies becomes its first tenant member (R4: its liaison).
    """
    policy.require(actor, Permission.APPLICATION_CREATE)
    services, mission_statement = _application_texts(services, mission_statement)
    name, slug = check_new_organisation(name, slug)
    organisation = TenantOrganisation(
        kind=OrganisationKind.CO,
        name=name,
        slug=slug,
        description=clean(description, limit=MAX_TEXT, field="description"),
        mission=mission_statement,
        website=clean(website, limit=500, field="website") or None,
        status=OrganisationStatus.APPLYING,
        status_reason="Applied to the chair and the board",
    )
    db.session.add(organisation)
    db.session.flush()
    audit.record(actor, Action.ORGANISATION_CO_CREATED, organisation)
    add_tenant_member(actor, organisation, invited_by=None)
    return _open_application(actor, organisation, services, mission_statement)


def apply_to_become_co(
    actor: Person, organisation: TenantOrganisation, services: str, mission_statement: str
) -> COApplication:
    """R7: a WG whose charter lapsed applies to become a CO; its services wait on it."""
    policy.require(actor, Permission.TENANT_ACT_FOR, organisation)
    services, mission_statement = _application_texts(services, mission_statement)
    # One open application at a time, also when two tenant members apply at once.
    lock_organisation(organisation)
    db.session.refresh(organisation, ["status"])
    if not organisation.may_apply_to_become_co:
        raise Conflict(
            f"{organisation.name} cannot apply now: {organisation.status.label.lower()}."
        )
    waiting = db.session.scalar(
        select(COApplication.id).where(
            COApplication.organisation_id == organisation.id,
            COApplication.state.in_(WAITING_FOR["chair"] + WAITING_FOR["board"]),
        )
    )
    if waiting is not None:
        raise Conflict("An application of this organisation already waits for a decision.")
    if organisation.status == OrganisationStatus.DECLINED:
        set_status(organisation, OrganisationStatus.APPLYING, "Applied again")
    return _open_application(actor, organisation, services, mission_statement)


def _open_application(
    actor: Person, organisation: TenantOrganisation, services: str, mission_statement: str
) -> COApplication:
    application = COApplication(
        organisation=organisation,
        applicant_id=actor.id,
        services=services,
        mission_statement=mission_statement,
        state=ApplicationState.WAITING_FOR_BOTH,
    )
    db.session.add(application)
    db.session.flush()
    audit.record(actor, Action.CO_APPLICATION_SUBMITTED, application, organisation.name)
    deciders = people_with_roles({Role.CHAIR}) + board_members()
    send_mail(
        [p.email for p in deciders],
        f"{organisation.name} applies for services",
        "co_application_waiting",
        organisation=organisation,
        application=application,
        applicant=actor,
        link=external_url("tenants.organisation", slug=organisation.slug),
    )
    return application


def require_decider(actor: Person, side: str) -> None:
    """R8: only the chair records the chair's decision, only the board the board's."""
    permission = (
        Permission.APPLICATION_DECIDE_CHAIR
        if side == "chair"
        else Permission.APPLICATION_DECIDE_BOARD
    )
    if not policy.can(actor, permission):
        who = "the chair" if side == "chair" else "the board"
        raise NotAllowed(f"Only {who} may record {who}'s decision on an application.")


def decide_application(
    actor: Person, application: COApplication, side: str, decision: Decision, reason: str
) -> None:
    """R8: the chair's or the board's decision, with its reason; both must approve."""
    require_decider(actor, side)
    who = "the chair" if side == "chair" else "the board"
    reason = clean(
        reason, f"Give the reason for {who}'s decision: it is kept with it.", limit=MAX_TEXT
    )
    # R8: the chair and the board deciding at the same moment must both count: the second
    # waits for the first and reads the state it left (else the application is lost
    # between "waiting for the board" and "waiting for the chair").
    lock_organisation(application.organisation)
    db.session.refresh(application, ["state"])
    if application.state not in WAITING_FOR[side]:
        raise Conflict(
            f"This application does not wait for {who}: {application.state.label.lower()}."
        )
    now = utcnow()
    row = ApplicationDecision(application=application, side=Side(side))
    transition(
        row,
        decision,
        actor=actor,
        reason=reason,
        at=now,
        action=Action(f"co_application.{side}_{decision.value}d"),
        subject=application,
        attribute="decision",
    )
    db.session.add(row)
    organisation = application.organisation
    if decision == Decision.DECLINE:
        # R8: a declined application is kept with its reasons, never deleted.
        application.state = ApplicationState.DECLINED
        application.closed_at = now
        if organisation.status == OrganisationStatus.APPLYING:
            set_status(organisation, OrganisationStatus.DECLINED, f"Declined by {who}: {reason}")
    elif application.state == ApplicationState.WAITING_FOR_BOTH:
        application.state = (
            ApplicationState.WAITING_FOR_BOARD
            if side == "chair"
            else ApplicationState.WAITING_FOR_CHAIR
        )
    else:
        application.state = ApplicationState.APPROVED
        application.closed_at = now
        # R1: recognised by the board (and the chair): eligible; R7: services resume.
        organisation.kind = OrganisationKind.CO
        organisation.approval_ref = f"CO application #{application.id}"
        organisation.approved_at = now
        organisation.services_suspended = False
        transition(
            organisation,
            OrganisationStatus.APPROVED,
            actor=actor,
            reason="Recognised as a CO",
            action=Action.ORGANISATION_RECOGNISED,
            audit_reason=organisation.approval_ref,
            attribute="status",
        )
        # R7: the service layer resumes its services (provisioning connects to this).
        signals.send(
            signals.organisation_recognised,
            organisation=organisation,
            actor=actor,
            reason=organisation.approval_ref,
        )
    if not application.state.open:
        send_mail(
            [p.email for p in contacts_for(organisation)] + [application.applicant.email],
            f"{organisation.name}: application {application.state.value}",
            "co_application_decided",
            organisation=organisation,
            application=application,
            link=external_url("tenants.organisation", slug=organisation.slug),
        )
