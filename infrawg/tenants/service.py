"""Tenant organisations (R1, R7, R8) and their tenant members (R4, R5)."""

from __future__ import annotations

import re

from flask import Flask
from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload

from infrawg import audit, policy, signals
from infrawg.actions import Action
from infrawg.errors import Conflict, HandoverNeeded, Invalid, NotAllowed, NotFound
from infrawg.extensions import db
from infrawg.locks import lock_rows
from infrawg.membership.models import MembershipStatus, Person
from infrawg.membership.people import normalise_email, person_by_email
from infrawg.notices.mail import send_mail
from infrawg.policy import Permission
from infrawg.tenants.models import (
    OrganisationKind,
    OrganisationStatus,
    TenantInvitation,
    TenantMember,
    TenantOrganisation,
)
from infrawg.text import clean
from infrawg.timeutil import utcnow
from infrawg.tokens import make_token, read_token
from infrawg.transitions import transition
from infrawg.web import external_url

INVITE = "tenant-invitation"
MAX_TEXT = 4000
SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,78}[a-z0-9])?$")


def contacts_for(organisation: TenantOrganisation) -> list[Person]:
    """R5: who must be told when the organisation's services will be impacted.

    The current tenant members of the organisation who are members of the group, oldest
    liaison first.
    """
    return list(
        db.session.scalars(
            select(Person)
            .join(TenantMember, TenantMember.person_id == Person.id)
            .where(
                TenantMember.organisation_id == organisation.id,
                TenantMember.ended_at.is_(None),
                Person.status == MembershipStatus.MEMBER,
            )
            .order_by(TenantMember.joined_at, TenantMember.id)
        )
    )


# Reading -------------------------------------------------------------------------------


def organisations(search: str = ""):
    """Every organisation by name, with its current tenant members loaded (no N+1)."""
    stmt = select(TenantOrganisation).options(
        selectinload(TenantOrganisation.tenant_members).selectinload(TenantMember.person)
    )
    search = search.strip().lower()
    if search:
        pattern = f"%{search.replace('%', '').replace('_', '')}%"
        stmt = stmt.where(
            or_(
                func.lower(TenantOrganisation.name).like(pattern),
                TenantOrganisation.slug.like(pattern),
            )
        )
    return stmt.order_by(TenantOrganisation.name, TenantOrganisation.id)


def get_organisation(slug: str) -> TenantOrganisation:
    organisation = db.session.scalar(
        select(TenantOrganisation)
        .where(TenantOrganisation.slug == slug)
        .options(selectinload(TenantOrganisation.tenant_members).selectinload(TenantMember.person))
    )
    if organisation is None:
        raise NotFound("There is no such organisation.")
    return organisation


def tenancies_of(person: Person) -> list[TenantMember]:
    """The person's current tenant memberships with their organisations."""
    return list(
        db.session.scalars(
            select(TenantMember)
            .where(TenantMember.person_id == person.id, TenantMember.ended_at.is_(None))
            .options(selectinload(TenantMember.organisation))
            .order_by(TenantMember.joined_at)
        )
    )


def _tenancy(person: Person, organisation: TenantOrganisation) -> TenantMember | None:
    return db.session.scalar(
        select(TenantMember).where(
            TenantMember.organisation_id == organisation.id,
            TenantMember.person_id == person.id,
            TenantMember.ended_at.is_(None),
        )
    )


def open_invitations(organisation: TenantOrganisation) -> list[TenantInvitation]:
    return list(
        db.session.scalars(
            select(TenantInvitation)
            .where(
                TenantInvitation.organisation_id == organisation.id,
                TenantInvitation.accepted_at.is_(None),
            )
            .options(selectinload(TenantInvitation.invited_by))
            .order_by(TenantInvitation.created_at)
        )
    )


# Organisations (R1, R7) ----------------------------------------------------------------


def check_new_organisation(name: str, slug: str) -> tuple[str, str]:
    name = clean(name, "Give the organisation's name.", limit=200, field="name")
    slug = (slug or "").strip().lower()
    if not SLUG.match(slug):
        raise Invalid(
            "The short name (slug) uses lower-case letters, digits and dashes, e.g. packaging-wg.",
            field="slug",
        )
    taken = db.session.scalar(
        select(TenantOrganisation).where(
            or_(
                func.lower(TenantOrganisation.name) == name.lower(),
                TenantOrganisation.slug == slug,
            )
        )
    )
    if taken is not None:
        raise Conflict(f"An organisation with that name or short name exists: {taken.name}.")
    return name, slug


def record_working_group(
    actor: Person,
    name: str,
    slug: str,
    description: str,
    mission: str,
    website: str,
    approval_ref: str,
) -> TenantOrganisation:
    """R7: a WG the membership approved is recorded with its approval and is eligible at once."""
    policy.require(actor, Permission.ORGANISATION_MANAGE)
    name, slug = check_new_organisation(name, slug)
    approval_ref = clean(
        approval_ref,
        "Give the reference of the membership's approval of the WG.",
        limit=200,
        field="approval_ref",
    )
    organisation = TenantOrganisation(
        kind=OrganisationKind.WG,
        name=name,
        slug=slug,
        description=clean(description, limit=MAX_TEXT, field="description"),
        mission=clean(mission, limit=MAX_TEXT, field="mission"),
        website=clean(website, limit=500, field="website") or None,
        status=OrganisationStatus.APPROVED,
        approval_ref=approval_ref,
        approved_at=utcnow(),
        status_reason=f"Approved by the membership ({approval_ref})",
    )
    db.session.add(organisation)
    db.session.flush()
    audit.record(actor, Action.ORGANISATION_WG_RECORDED, organisation, approval_ref)
    return organisation


def end_charter(actor: Person, organisation: TenantOrganisation, reason: str) -> None:
    """R7: a WG's charter lapsed or was revoked: not eligible, its services suspended."""
    policy.require(actor, Permission.ORGANISATION_MANAGE, organisation)
    reason = clean(
        reason, "Say why the charter ended (lapsed, revoked, when).", limit=MAX_TEXT, field="reason"
    )
    if not organisation.charter_may_end:
        raise Conflict("Only the charter of an eligible working group can lapse.")
    transition(
        organisation,
        OrganisationStatus.LAPSED,
        actor=actor,
        reason=reason,
        action=Action.ORGANISATION_CHARTER_ENDED,
        attribute="status",
    )
    organisation.services_suspended = True
    # R7: the service layer suspends its services (provisioning connects to this).
    signals.send(signals.charter_ended, organisation=organisation, actor=actor, reason=reason)
    send_mail(
        [p.email for p in contacts_for(organisation)],
        f"{organisation.name}: services suspended",
        "charter_ended",
        organisation=organisation,
        reason=reason,
        link=external_url("tenants.organisation", slug=organisation.slug),
    )


def set_status(organisation: TenantOrganisation, status: OrganisationStatus, reason: str) -> None:
    transition(organisation, status, actor=None, reason=reason, attribute="status")


# Tenant members (R4, R5) ---------------------------------------------------------------


def add_tenant_member(
    person: Person, organisation: TenantOrganisation, invited_by: Person | None
) -> TenantMember:
    tenancy = TenantMember(
        organisation=organisation,
        person_id=person.id,
        invited_by_id=invited_by.id if invited_by is not None else None,
    )
    db.session.add(tenancy)
    db.session.flush()
    audit.record(invited_by or person, Action.TENANT_MEMBER_ADDED, organisation, person.audit_label)
    return tenancy


def invite(
    actor: Person, organisation: TenantOrganisation, email: str, handover: bool = False
) -> TenantInvitation:
    """The chair or a tenant member invites a person by email (a signed link).

    With ``handover`` the inviting tenant member nominates a successor (R4).
    """
    policy.require(actor, Permission.TENANT_INVITE, organisation)
    email = normalise_email(email)
    handover_from = None
    if handover:
        # R4: the nominating tenant member must still be one (not leaving at this moment).
        lock_organisation(organisation)
        handover_from = _tenancy(actor, organisation)
        if handover_from is None:
            raise NotAllowed("Only a tenant member of the organisation can hand over.")
    existing = person_by_email(email)
    if existing is not None and _tenancy(existing, organisation) is not None:
        raise Conflict(f"{existing.name} is already a tenant member of {organisation.name}.")
    invitation = TenantInvitation(
        organisation_id=organisation.id,
        email=email,
        invited_by_id=actor.id,
        handover_from_id=handover_from.id if handover_from is not None else None,
    )
    db.session.add(invitation)
    db.session.flush()
    action = Action.TENANT_MEMBER_SUCCESSOR_NOMINATED if handover else Action.TENANT_MEMBER_INVITED
    audit.record(actor, action, organisation, email)
    token = make_token(INVITE, {"invitation": invitation.id, "email": email})
    send_mail(
        email,
        f"Become a tenant member of {organisation.name}",
        "tenant_invitation",
        organisation=organisation,
        inviter=actor,
        handover=handover,
        link=external_url("tenants.invitation", token=token),
    )
    return invitation


def invitation_for_token(token: str) -> TenantInvitation:
    """The invitation a link names; Invalid when tampered, Conflict when already used."""
    payload = read_token(INVITE, token)
    invitation = db.session.scalar(
        select(TenantInvitation)
        .where(TenantInvitation.id == payload.get("invitation"))
        .options(
            selectinload(TenantInvitation.organisation), selectinload(TenantInvitation.invited_by)
        )
    )
    if invitation is None or invitation.email != payload.get("email"):
        raise Invalid("This link is not valid. Check that you copied all of it.")
    if invitation.accepted_at is not None:
        raise Conflict("This invitation was already accepted.")
    return invitation


def accept_invitation(person: Person, token: str) -> TenantMember:
    """The invitee, a member of the group, becomes a tenant member."""
    invitation = invitation_for_token(token)
    organisation = invitation.organisation
    # Two clicks on the link at once make one tenant member: the second waits, then sees
    # the invitation accepted.
    lock_organisation(organisation)
    db.session.refresh(invitation, ["accepted_at"])
    if invitation.accepted_at is not None:
        raise Conflict("This invitation was already accepted.")
    if person.email != invitation.email:
        raise NotAllowed(
            f"This invitation was sent to {invitation.email}. Sign in with that account to "
            "accept it."
        )
    if not person.is_member:
        raise NotAllowed(
            "Tenant members are members of the Infra-WG: join the group first "
            f"(your status: {person.status.label.lower()}), then open this link again."
        )
    if _tenancy(person, organisation) is not None:
        raise Conflict(f"You are already a tenant member of {organisation.name}.")
    invitation.accepted_at = utcnow()
    invitation.accepted_by_id = person.id
    tenancy = add_tenant_member(person, organisation, invited_by=None)
    audit.record(person, Action.TENANT_MEMBER_INVITATION_ACCEPTED, invitation)
    if invitation.handover_from_id is not None:
        predecessor = db.session.scalar(
            select(TenantMember)
            .where(TenantMember.id == invitation.handover_from_id)
            .options(selectinload(TenantMember.person))
        )
        if predecessor is not None and predecessor.ended_at is None:
            send_mail(
                predecessor.person.email,
                f"{person.name} accepted the hand-over of {organisation.name}",
                "handover_accepted",
                organisation=organisation,
                successor=person,
                predecessor=predecessor.person,
                link=external_url("tenants.organisation", slug=organisation.slug),
            )
    return tenancy


def lock_organisation(organisation: TenantOrganisation) -> None:
    """R4: hold the organisation's row until the transaction ends.

    Every change of its tenant members takes this lock first, so two members leaving at
    once are checked one after the other and the second sees the first gone.
    """
    lock_rows(TenantOrganisation, [organisation.id])


def _others_remaining(person: Person, organisation: TenantOrganisation) -> int:
    return sum(1 for p in contacts_for(organisation) if p.id != person.id)


def check_can_leave(person: Person, organisation: TenantOrganisation) -> None:
    """R4: refuse (with why) when the person is the organisation's last tenant member."""
    if organisation.keeps_a_tenant_member and not _others_remaining(person, organisation):
        raise HandoverNeeded(
            f"You are the last tenant member of {organisation.name}, and an organisation that "
            "receives services keeps at least one (R4). Nominate a successor: once they "
            "accept, you can leave.",
            [(organisation.name, organisation.slug)],
        )


def leave(person: Person, organisation: TenantOrganisation, reason: str | None = None) -> None:
    """R4: a tenant member leaves while another tenant member remains."""
    policy.require(person, Permission.TENANT_ACT_FOR, organisation)
    # R4: lock before reading who remains, so a concurrent leave waits for this one.
    lock_organisation(organisation)
    tenancy = _tenancy(person, organisation)
    if tenancy is None:
        raise Conflict(f"You are not a tenant member of {organisation.name}.")
    # R4: an organisation keeps at least one tenant member.
    check_can_leave(person, organisation)
    tenancy.end(clean(reason, limit=MAX_TEXT, field="reason") or "Left")
    audit.record(person, Action.TENANT_MEMBER_LEFT, organisation, tenancy.end_reason)


def check_can_leave_group(person: Person) -> None:
    """R4: leaving the group ends every tenancy, so each must be allowed to end.

    Connected to ``signals.member_leaving``: its Conflict refuses the leaving.

    Locks each of the person's organisations (in id order) before checking it.
    """
    tenancies = tenancies_of(person)
    lock_rows(TenantOrganisation, [tenancy.organisation_id for tenancy in tenancies])
    for tenancy in tenancies:
        check_can_leave(person, tenancy.organisation)


def end_tenancies(person: Person, reason: str) -> None:
    """Connected to ``signals.member_left``: a tenant member must be a member (R4, R5)."""
    for tenancy in tenancies_of(person):
        tenancy.ended_at = utcnow()
        tenancy.end_reason = reason
        audit.record(person, Action.TENANT_MEMBER_LEFT, tenancy.organisation, reason)


def _refuse_leaving_group(sender: object, person: Person, **_: object) -> None:
    # R4: the last tenant member of an organisation cannot leave the group either.
    check_can_leave_group(person)


def _end_tenancies_of_leaver(sender: object, person: Person, reason: str, **_: object) -> None:
    end_tenancies(person, reason)


def init_signals(app: Flask) -> None:
    signals.connect(app, signals.member_leaving, _refuse_leaving_group)
    signals.connect(app, signals.member_left, _end_tenancies_of_leaver)
