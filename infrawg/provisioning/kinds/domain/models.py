"""The domain kind's rows (R10): one registration per domain service, the reminders sent for
it (one per expiry and lead time, so a job that runs twice sends once) and its history."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, ForeignKey, String, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from infrawg.enums import LabelledEnum
from infrawg.extensions import Model, db, enum_type
from infrawg.provisioning.models import Service
from infrawg.timeutil import utcnow


class DomainMode(LabelledEnum):
    REGISTER = "register", "Register a new domain"
    TRANSFER = "transfer", "Transfer a domain in"
    TRACK = "track", "Track a domain registered elsewhere"


class Payer(LabelledEnum):
    TENANT = "tenant", "The tenant arranges payment"
    FOUNDATION = "foundation", "The foundation pays (board decision)"


class BoardState(LabelledEnum):
    """R10: the foundation pays only after the board decided so."""

    NONE = "none", "Not asked"
    ASKED = "asked", "Waiting for the board"
    APPROVED = "approved", "Approved by the board"
    DECLINED = "declined", "Declined by the board"


def registration_of(service: Service) -> DomainRegistration | None:
    """The registration of a domain service (None for a service of another kind)."""
    return db.session.scalar(
        select(DomainRegistration).where(DomainRegistration.service_id == service.id)
    )


class DomainRegistration(Model):
    """R10: a domain registration: registrar, expiry, auto-renew, who pays, contacts, and the
    hosted zone (a DNS service of the same organisation) when there is one."""

    __tablename__ = "domain_registration"

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("service.id"), unique=True)
    domain: Mapped[str] = mapped_column(String(255), index=True)  # lower case, no final dot
    mode: Mapped[DomainMode] = mapped_column(enum_type(DomainMode), default=DomainMode.REGISTER)
    registrar: Mapped[str] = mapped_column(String(200), default="")
    expires_on: Mapped[date | None]
    auto_renew: Mapped[bool] = mapped_column(Boolean, default=False)
    contacts: Mapped[str] = mapped_column(Text, default="")
    zone_service_id: Mapped[int | None] = mapped_column(ForeignKey("service.id"))
    # R10: the tenant arranges payment unless the board approved the foundation paying.
    payer: Mapped[Payer] = mapped_column(enum_type(Payer), default=Payer.TENANT)
    paid_by: Mapped[str] = mapped_column(String(200), default="")
    payment_method: Mapped[str] = mapped_column(String(200), default="")
    payment_reference: Mapped[str] = mapped_column(String(200), default="")
    board_state: Mapped[BoardState] = mapped_column(enum_type(BoardState), default=BoardState.NONE)
    board_reason: Mapped[str] = mapped_column(Text, default="")
    board_resolution: Mapped[str | None] = mapped_column(String(200))
    board_decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    board_decided_at: Mapped[datetime | None]
    # The manual registrar: staff do the task at the registrar's site and record it here.
    task_open: Mapped[bool] = mapped_column(Boolean, default=False)
    task_done_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    task_done_at: Mapped[datetime | None]
    expired_at: Mapped[datetime | None]

    service: Mapped[Service] = relationship(foreign_keys=[service_id], lazy="raise")
    zone_service: Mapped[Service | None] = relationship(
        foreign_keys=[zone_service_id], lazy="raise"
    )
    history: Mapped[list[DomainEvent]] = relationship(
        back_populates="registration",
        lazy="raise",
        order_by="DomainEvent.id",
        cascade="all, delete-orphan",
    )

    @property
    def foundation_pays(self) -> bool:
        """R10: only once the board approved, with its resolution recorded."""
        return (
            self.payer is Payer.FOUNDATION
            and self.board_state is BoardState.APPROVED
            and bool(self.board_resolution)
        )

    @property
    def audit_label(self) -> str:
        return f"domain {self.domain}"


class DomainReminder(Model):
    """A renewal reminder sent: one per (registration, expiry, days before)."""

    __tablename__ = "domain_reminder"
    __table_args__ = (UniqueConstraint("registration_id", "expires_on", "days"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("domain_registration.id"))
    expires_on: Mapped[date]
    days: Mapped[int]
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)


class DomainEvent(Model):
    """The registration's history: each payment, decision, task, renewal and expiry."""

    __tablename__ = "domain_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("domain_registration.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    what: Mapped[str] = mapped_column(Text)

    registration: Mapped[DomainRegistration] = relationship(back_populates="history", lazy="raise")
