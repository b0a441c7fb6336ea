"""Tenant organisations (WG and CO), their tenant members, CO applications, invitations."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from infrawg.enums import LabelledEnum
from infrawg.extensions import Model, enum_type
from infrawg.mixins import Decided, Ended, HasStatus
from infrawg.timeutil import utcnow

if TYPE_CHECKING:
    from infrawg.membership.models import Person


class OrganisationKind(LabelledEnum):
    WG = "wg", "Working group"
    CO = "co", "Community organisation"


class OrganisationStatus(LabelledEnum):
    # R1: eligible for services
    APPROVED = "approved", "Eligible for services"
    # R7: a WG whose charter lapsed or was revoked; services wait
    LAPSED = "lapsed", "Charter lapsed or revoked: services suspended"
    # R8: a CO whose application waits for the chair and the board
    APPLYING = "applying", "Applying: waiting for the chair and the board"
    # R8: a CO whose application was declined (kept, not deleted)
    DECLINED = "declined", "Application declined"


# R4: organisations that receive (or wait for) services keep at least one tenant member.
KEEPS_A_TENANT_MEMBER = (
    OrganisationStatus.APPROVED,
    OrganisationStatus.LAPSED,
    OrganisationStatus.APPLYING,
)


class TenantOrganisation(HasStatus, Model):
    """A working group or community organisation that receives (or asks for) services."""

    __tablename__ = "tenant_organisation"
    __table_args__ = (Index("ix_tenant_organisation_status_name", "status", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[OrganisationKind] = mapped_column(enum_type(OrganisationKind))
    name: Mapped[str] = mapped_column(String(200), unique=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    mission: Mapped[str] = mapped_column(Text, default="")
    website: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[OrganisationStatus] = mapped_column(enum_type(OrganisationStatus))
    # R7: the membership's approval of a WG, or the CO application that recognised it.
    approval_ref: Mapped[str | None] = mapped_column(String(200))
    approved_at: Mapped[datetime | None]
    # R7: services wait while the organisation is not eligible (read by provisioning).
    services_suspended: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    tenant_members: Mapped[list[TenantMember]] = relationship(
        lazy="raise",
        primaryjoin="and_(TenantMember.organisation_id == TenantOrganisation.id, "
        "TenantMember.ended_at.is_(None))",
        order_by="TenantMember.joined_at",
        viewonly=True,
    )

    @property
    def eligible(self) -> bool:
        """R1: services go only to approved WGs and COs the board recognised."""
        return self.status == OrganisationStatus.APPROVED

    @property
    def keeps_a_tenant_member(self) -> bool:
        """R4: an organisation that receives (or waits for) services keeps a tenant member."""
        return self.status in KEEPS_A_TENANT_MEMBER

    @property
    def charter_may_end(self) -> bool:
        """R7: only the charter of an eligible working group can lapse."""
        return self.kind == OrganisationKind.WG and self.status == OrganisationStatus.APPROVED

    @property
    def may_apply_to_become_co(self) -> bool:
        """R7/R8: a lapsed WG, or an organisation whose application was declined."""
        return self.status in (OrganisationStatus.LAPSED, OrganisationStatus.DECLINED)

    @property
    def audit_label(self) -> str:
        return f"{self.name} ({self.kind.value.upper()})"


class TenantMember(Ended, Model):
    """R4/R5: a person who is the liaison of one organisation; ended, never deleted."""

    __tablename__ = "tenant_member"
    __table_args__ = (
        Index("ix_tenant_member_org_current", "organisation_id", "ended_at"),
        Index("ix_tenant_member_person_current", "person_id", "ended_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("tenant_organisation.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    joined_at: Mapped[datetime] = mapped_column(default=utcnow)
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))

    organisation: Mapped[TenantOrganisation] = relationship(lazy="raise")
    person: Mapped[Person] = relationship(foreign_keys=[person_id], lazy="raise")

    @property
    def audit_label(self) -> str:
        return f"tenant member #{self.id} of organisation #{self.organisation_id}"


class ApplicationState(LabelledEnum):
    """Whose move it is on a CO application."""

    WAITING_FOR_BOTH = "waiting_for_both", "Waiting for the chair and the board"
    WAITING_FOR_CHAIR = "waiting_for_chair", "Waiting for the chair"
    WAITING_FOR_BOARD = "waiting_for_board", "Waiting for the board"
    APPROVED = "approved", "Approved by the chair and the board"
    DECLINED = "declined", "Declined"

    @property
    def open(self) -> bool:
        return self.value.startswith("waiting")


class Decision(LabelledEnum):
    # The label is the decision as recorded: "approved 1 May 2026 by ...".
    APPROVE = "approve", "approved"
    DECLINE = "decline", "declined"


class Side(LabelledEnum):
    """R8: who decides on a CO application; both must approve."""

    CHAIR = "chair", "The chair"
    BOARD = "board", "The board"


# R8: the states in which an application waits for each side's decision.
WAITING_FOR: dict[str, tuple[ApplicationState, ...]] = {
    Side.CHAIR: (ApplicationState.WAITING_FOR_BOTH, ApplicationState.WAITING_FOR_CHAIR),
    Side.BOARD: (ApplicationState.WAITING_FOR_BOTH, ApplicationState.WAITING_FOR_BOARD),
}


class COApplication(Model):
    """R8: a CO (or a lapsed WG, R7) asks the chair and the board to recognise it."""

    __tablename__ = "co_application"
    __table_args__ = (
        Index("ix_co_application_state_created", "state", "created_at"),
        Index("ix_co_application_org", "organisation_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("tenant_organisation.id"))
    applicant_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    services: Mapped[str] = mapped_column(Text)
    mission_statement: Mapped[str] = mapped_column(Text)
    state: Mapped[ApplicationState] = mapped_column(
        enum_type(ApplicationState), default=ApplicationState.WAITING_FOR_BOTH
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]

    organisation: Mapped[TenantOrganisation] = relationship(lazy="raise")
    applicant: Mapped[Person] = relationship(foreign_keys=[applicant_id], lazy="raise")
    # At most two rows, needed wherever an application is shown: always loaded with it.
    decisions: Mapped[list[ApplicationDecision]] = relationship(
        back_populates="application", lazy="selectin", order_by="ApplicationDecision.id"
    )

    def decision_of(self, side: str) -> ApplicationDecision | None:
        """The chair's or the board's decision, if recorded."""
        return next((d for d in self.decisions if d.side == side), None)

    def decisions_by_side(self) -> list[tuple[Side, ApplicationDecision | None]]:
        """Each side with its decision (None: not yet, or not needed)."""
        return [(side, self.decision_of(side)) for side in Side]

    def waits_for(self, side: str) -> bool:
        """R8: whether the application waits for ``side``'s decision."""
        return self.state in WAITING_FOR[side]

    @property
    def audit_label(self) -> str:
        return f"CO application #{self.id}"


class ApplicationDecision(Decided, Model):
    """R8: the chair's or the board's decision on a CO application, kept with its reason."""

    __tablename__ = "co_application_decision"
    __table_args__ = (
        # One decision per side: the second of two at once fails here if not before.
        UniqueConstraint("application_id", "side", name="uq_co_application_decision_side"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("co_application.id"))
    side: Mapped[Side] = mapped_column(enum_type(Side))
    decision: Mapped[Decision] = mapped_column(enum_type(Decision))

    application: Mapped[COApplication] = relationship(back_populates="decisions", lazy="raise")
    decided_by: Mapped[Person | None] = relationship(
        foreign_keys="ApplicationDecision.decided_by_id", lazy="raise"
    )


class TenantInvitation(Model):
    """An invitation to become a tenant member, sent by email with a signed link.

    With ``handover_from_id`` it is a hand-over (R4): the tenant member who nominated the
    successor may leave once the successor accepts.
    """

    __tablename__ = "tenant_invitation"
    __table_args__ = (Index("ix_tenant_invitation_org_open", "organisation_id", "accepted_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("tenant_organisation.id"))
    email: Mapped[str] = mapped_column(String(320), index=True)
    invited_by_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    handover_from_id: Mapped[int | None] = mapped_column(ForeignKey("tenant_member.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    accepted_at: Mapped[datetime | None]
    accepted_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))

    organisation: Mapped[TenantOrganisation] = relationship(lazy="raise")
    invited_by: Mapped[Person] = relationship(foreign_keys=[invited_by_id], lazy="raise")

    @property
    def audit_label(self) -> str:
        return f"invitation #{self.id} of {self.email}"
