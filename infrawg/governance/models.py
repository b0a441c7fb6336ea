"""Roles and the authority each grant rests on."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from infrawg.enums import LabelledEnum
from infrawg.extensions import Model, enum_type
from infrawg.mixins import Decided, Ended
from infrawg.timeutil import utcnow

if TYPE_CHECKING:
    from infrawg.membership.models import Person


class Role(StrEnum):
    MEMBER = "member"
    STAFF = "staff"
    CHAIR = "chair"
    BOARD = "board"


class RoleGrant(Ended, Model):
    """One grant of staff, chair or board; ended, never deleted, so history stays.

    Membership itself is the person's status, not a grant.
    """

    __tablename__ = "role_grant"
    __table_args__ = (
        Index("ix_role_grant_person_current", "person_id", "ended_at"),
        Index("ix_role_grant_role_current", "role", "ended_at"),
        # R6: at most one current chair, whatever the code above the database does.
        Index(
            "uq_role_grant_one_chair",
            "role",
            unique=True,
            sqlite_where=text("role = 'chair' AND ended_at IS NULL"),
            postgresql_where=text("role = 'chair' AND ended_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    role: Mapped[Role] = mapped_column(enum_type(Role))
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)
    granted_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    # What the grant rests on: "board resolution", "chair's decision", "bootstrap".
    authority: Mapped[str] = mapped_column(String(200))
    resolution_ref: Mapped[str | None] = mapped_column(String(200))
    resolution_date: Mapped[date | None]
    reason: Mapped[str | None] = mapped_column(Text)
    ended_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    # R3: a staff grant rests on the chair's discretion. When a new chair takes office the
    # grant stays, and waits for the new chair's review until they keep (or revoke) it.
    reviewed_at: Mapped[datetime | None]
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))

    person: Mapped[Person] = relationship(foreign_keys=[person_id], lazy="raise")
    granted_by: Mapped[Person | None] = relationship(foreign_keys=[granted_by_id], lazy="raise")
    ended_by: Mapped[Person | None] = relationship(foreign_keys=[ended_by_id], lazy="raise")

    @property
    def audit_label(self) -> str:
        return f"{self.role} grant #{self.id}"


class StaffRequestState(LabelledEnum):
    OPEN = "open", "Waiting for the chair"
    GRANTED = "granted", "Granted"
    DECLINED = "declined", "Declined"
    WITHDRAWN = "withdrawn", "Withdrawn"


class StaffRequest(Decided, Model):
    """R3: a member asks for staff status; the chair alone decides."""

    __tablename__ = "staff_request"
    __table_args__ = (
        Index("ix_staff_request_state_created", "state", "created_at"),
        Index("ix_staff_request_person_state", "person_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    motivation: Mapped[str] = mapped_column(Text)
    state: Mapped[StaffRequestState] = mapped_column(
        enum_type(StaffRequestState), default=StaffRequestState.OPEN
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    grant_id: Mapped[int | None] = mapped_column(ForeignKey("role_grant.id"))

    person: Mapped[Person] = relationship(foreign_keys=[person_id], lazy="raise")
    decided_by: Mapped[Person | None] = relationship(
        foreign_keys="StaffRequest.decided_by_id", lazy="raise"
    )

    @property
    def is_open(self) -> bool:
        return self.state == StaffRequestState.OPEN

    @property
    def audit_label(self) -> str:
        return f"staff request #{self.id}"
