"""Impact notices (R5): planned maintenance or an incident on services, its updates, and
who was told (with their acknowledgement)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from infrawg.enums import LabelledEnum
from infrawg.extensions import Model, enum_type
from infrawg.timeutil import utcnow

if TYPE_CHECKING:
    from infrawg.membership.models import Person
    from infrawg.provisioning.models import Service


class NoticeKind(LabelledEnum):
    MAINTENANCE = "maintenance", "Planned maintenance"
    INCIDENT = "incident", "Incident"


class NoticeState(LabelledEnum):
    OPEN = "open", "Open"
    RESOLVED = "resolved", "Resolved: all clear"


class ImpactNotice(Model):
    """R5: what will be (or is) impacted, when, and what the tenants should expect.

    ``public_summary`` is the only text shown to people who are not told: it names no
    organisation and no service. ``sequence`` is the iCalendar SEQUENCE of the notice's
    event: each update and the all-clear raise it, so calendars replace the event.
    """

    __tablename__ = "impact_notice"
    __table_args__ = (Index("ix_impact_notice_state_starts", "state", "starts_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[NoticeKind] = mapped_column(enum_type(NoticeKind))
    title: Mapped[str] = mapped_column(String(200))
    what: Mapped[str] = mapped_column(Text)
    expected_impact: Mapped[str] = mapped_column(Text)
    public_summary: Mapped[str] = mapped_column(String(300))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime | None]
    state: Mapped[NoticeState] = mapped_column(enum_type(NoticeState), default=NoticeState.OPEN)
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # None: opened by the monitoring's alert webhook (R13), not by a person.
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None]
    # R13: a notice opened by the monitoring's alert webhook carries the alert's incident key,
    # so a repeated notification finds it again (and its resolution resolves it).
    incident_key: Mapped[str | None] = mapped_column(String(200), unique=True)

    created_by: Mapped[Person | None] = relationship(lazy="raise")
    services: Mapped[list[NoticeService]] = relationship(
        back_populates="notice", lazy="raise", order_by="NoticeService.service_id"
    )
    updates: Mapped[list[NoticeUpdate]] = relationship(
        back_populates="notice", lazy="raise", order_by="NoticeUpdate.id"
    )
    recipients: Mapped[list[NoticeRecipient]] = relationship(
        back_populates="notice", lazy="raise", order_by="NoticeRecipient.id"
    )

    @property
    def audit_label(self) -> str:
        # The trail names the notice by number only: its title may name a service.
        return f"impact notice #{self.id}"

    @property
    def is_open(self) -> bool:
        return self.state is NoticeState.OPEN


class NoticeService(Model):
    """One service a notice is about (the organisation is the service's)."""

    __tablename__ = "impact_notice_service"

    notice_id: Mapped[int] = mapped_column(ForeignKey("impact_notice.id"), primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("service.id"), primary_key=True)

    notice: Mapped[ImpactNotice] = relationship(back_populates="services", lazy="raise")
    service: Mapped[Service] = relationship(lazy="raise")


class NoticeUpdate(Model):
    """A dated update of a notice; the all-clear is the one that resolves it."""

    __tablename__ = "impact_notice_update"

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("impact_notice.id"), index=True)
    body: Mapped[str] = mapped_column(Text)
    all_clear: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))  # None: an alert

    notice: Mapped[ImpactNotice] = relationship(back_populates="updates", lazy="raise")
    author: Mapped[Person | None] = relationship(lazy="raise")


class NoticeRecipient(Model):
    """R5: a tenant member who was told of the notice, and when they acknowledged it."""

    __tablename__ = "impact_notice_recipient"
    __table_args__ = (
        UniqueConstraint("notice_id", "person_id"),
        Index("ix_impact_notice_recipient_person", "person_id", "acknowledged_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("impact_notice.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    notified_at: Mapped[datetime] = mapped_column(default=utcnow)
    acknowledged_at: Mapped[datetime | None]

    notice: Mapped[ImpactNotice] = relationship(back_populates="recipients", lazy="raise")
    person: Mapped[Person] = relationship(lazy="raise")

    @property
    def audit_label(self) -> str:
        return f"impact notice #{self.notice_id}"
