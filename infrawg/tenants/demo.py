"""Demo data of tenants: two organisations with their tenant members, a CO application
waiting for the board, and a declined one (R8: kept, with the reasons)."""

from __future__ import annotations

from infrawg import audit
from infrawg.actions import Action
from infrawg.extensions import db
from infrawg.membership.models import Person
from infrawg.tenants.models import (
    ApplicationDecision,
    ApplicationState,
    COApplication,
    Decision,
    OrganisationKind,
    OrganisationStatus,
    Side,
    TenantMember,
    TenantOrganisation,
)
from infrawg.timeutil import utcnow


def _organisation(**fields) -> TenantOrganisation:
    organisation = TenantOrganisation(**fields)
    db.session.add(organisation)
    db.session.flush()
    audit.record(None, Action.DEMO_CREATED, organisation, "demo data")
    return organisation


def load_demo(people: dict[str, Person]) -> None:
    chair = people["chair@example.org"]
    packaging = _organisation(
        kind=OrganisationKind.WG,
        name="Packaging Working Group",
        slug="packaging-wg",
        description="Improves the tools and index for distributing packages.",
        mission="Make packaging reliable for everyone.",
        website="https://packaging.example.org",
        status=OrganisationStatus.APPROVED,
        approval_ref="Membership vote 2025-11",
        approved_at=utcnow(),
    )
    meetups = _organisation(
        kind=OrganisationKind.CO,
        name="Community Meetups",
        slug="community-meetups",
        description="Local user groups and their shared calendar.",
        mission="Help people meet and learn together.",
        status=OrganisationStatus.APPROVED,
        approval_ref="CO application (demo)",
        approved_at=utcnow(),
    )
    for organisation, email in (
        (packaging, "tenant1@example.org"),
        (meetups, "tenant2@example.org"),
    ):
        person = people[email]
        db.session.add(TenantMember(organisation_id=organisation.id, person_id=person.id))
        audit.record(None, Action.TENANT_MEMBER_ADDED, organisation, person.audit_label)

    _co_application(
        people["member2@example.org"],
        chair,
        dict(
            name="Sprint Organisers Network",
            slug="sprint-organisers",
            description="Organises development sprints at conferences.",
            mission="Bring new contributors to the core projects.",
            status=OrganisationStatus.APPLYING,
            status_reason="Applied to the chair and the board",
        ),
        services="A domain, DNS and TLS for the sprint sign-up site; one small VM.",
        mission_statement="Sprints turn users into contributors to the foundation's projects.",
        state=ApplicationState.WAITING_FOR_BOARD,
        decision=Decision.APPROVE,
        reason="Small footprint and clearly in the mission.",
    )
    # R8: a declined application is kept, with its decision and reason.
    _co_application(
        people["member1@example.org"],
        chair,
        dict(
            name="Token Mining Club",
            slug="token-mining-club",
            description="Runs mining rigs for a community token.",
            mission="Fund events with mined tokens.",
            status=OrganisationStatus.DECLINED,
            status_reason="Declined by the chair and the board",
        ),
        services="Eight VMs with GPUs, running all year.",
        mission_statement="Mined tokens would pay for meetups.",
        state=ApplicationState.DECLINED,
        decision=Decision.DECLINE,
        reason="Not in the foundation's mission, and beyond the group's capacity.",
    )


def _co_application(
    applicant: Person,
    chair: Person,
    organisation: dict,
    *,
    services: str,
    mission_statement: str,
    state: ApplicationState,
    decision: Decision,
    reason: str,
) -> None:
    """A community organisation's application with the chair's decision, as its audit trail
    would show it."""
    applying = _organisation(kind=OrganisationKind.CO, **organisation)
    db.session.add(TenantMember(organisation_id=applying.id, person_id=applicant.id))
    application = COApplication(
        organisation_id=applying.id,
        applicant_id=applicant.id,
        services=services,
        mission_statement=mission_statement,
        state=state,
    )
    application.decisions.append(
        ApplicationDecision(
            side=Side.CHAIR,
            decision=decision,
            decision_reason=reason,
            decided_at=utcnow(),
            decided_by_id=chair.id,
        )
    )
    db.session.add(application)
    db.session.flush()
    audit.record(applicant, Action.CO_APPLICATION_SUBMITTED, application, applying.name)
    chair_action = (
        Action.CO_APPLICATION_CHAIR_APPROVED
        if decision == Decision.APPROVE
        else Action.CO_APPLICATION_CHAIR_DECLINED
    )
    audit.record(chair, chair_action, application, reason)
