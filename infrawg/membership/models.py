"""People, their accounts and their membership of the group."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from flask_login import UserMixin
from sqlalchemy import Boolean, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from infrawg.extensions import db, enum_type
from infrawg.timeutil import utcnow


class MembershipStatus(StrEnum):
    AWAITING_CONFIRMATION = "awaiting_confirmation"
    AWAITING_APPROVAL = "awaiting_approval"
    MEMBER = "member"
    DECLINED = "declined"
    LEFT = "left"

    @property
    def label(self) -> str:
        return {
            "awaiting_confirmation": "Awaiting email confirmation",
            "awaiting_approval": "Awaiting approval",
            "member": "Member",
            "declined": "Declined",
            "left": "Left the group",
        }[self.value]


class Person(UserMixin, db.Model):
    """An account; a foundation member who applied, is a member, or once was."""

    __tablename__ = "person"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[MembershipStatus] = mapped_column(
        enum_type(MembershipStatus), default=MembershipStatus.AWAITING_CONFIRMATION, index=True
    )
    status_reason: Mapped[str | None]
    status_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    declared_foundation_member: Mapped[bool] = mapped_column(Boolean, default=False)
    email_confirmed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Bumped when the password changes: every session and remember-me cookie carries the
    # version it was made with and stops working when it no longer matches.
    session_version: Mapped[int] = mapped_column(default=0)

    linked_logins: Mapped[list[LinkedLogin]] = relationship(
        back_populates="person", lazy="raise", order_by="LinkedLogin.linked_at"
    )

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"

    @property
    def is_member(self) -> bool:
        return self.status == MembershipStatus.MEMBER

    @property
    def audit_label(self) -> str:
        return f"{self.name} <{self.email}>"

    def __repr__(self) -> str:
        return f"<Person {self.id} {self.email} {self.status}>"


class LinkedLogin(db.Model):
    """An OpenID Connect identity that signs a person in."""

    __tablename__ = "linked_login"
    __table_args__ = (UniqueConstraint("issuer", "subject", name="uq_linked_login_identity"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    issuer: Mapped[str] = mapped_column(String(300))
    subject: Mapped[str] = mapped_column(String(300))
    email: Mapped[str] = mapped_column(String(320))
    linked_at: Mapped[datetime] = mapped_column(default=utcnow)

    person: Mapped[Person] = relationship(back_populates="linked_logins", lazy="raise")

    @property
    def audit_label(self) -> str:
        return f"{self.issuer} {self.email}"


class RosterEntry(db.Model):
    """An email on the foundation's member roster, as last uploaded by the chair."""

    __tablename__ = "roster_entry"

    email: Mapped[str] = mapped_column(String(320), primary_key=True)
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)


class ListCall(db.Model):
    """One call the `log` list backend received: the record the drift report reads."""

    __tablename__ = "list_call"

    id: Mapped[int] = mapped_column(primary_key=True)
    list_address: Mapped[str] = mapped_column(String(320), index=True)
    email: Mapped[str] = mapped_column(String(320), index=True)
    action: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class ListException(db.Model):
    """A known exception to "members are on the list, others are not", with staff's reason:
    an address kept on the list though not a member (`on_list`), or a member kept off it."""

    __tablename__ = "list_exception"
    __table_args__ = (UniqueConstraint("list_address", "email", name="uq_list_exception_email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    list_address: Mapped[str] = mapped_column(String(320))
    email: Mapped[str] = mapped_column(String(320))
    on_list: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(Text)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def audit_label(self) -> str:
        where = "kept on the list" if self.on_list else "kept off the list"
        return f"{self.email} ({where})"


class ListRosterEntry(db.Model):
    """The list's roster as the last `flask infrawg list sync` saw it (to notice who
    subscribed or unsubscribed on the list itself since)."""

    __tablename__ = "list_roster_entry"

    list_address: Mapped[str] = mapped_column(String(320), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(default=utcnow)


class ListDriftSeen(db.Model):
    """A drift row already reported to staff, so the sync mails only new ones."""

    __tablename__ = "list_drift_seen"

    list_address: Mapped[str] = mapped_column(String(320), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), primary_key=True)
    on_list: Mapped[bool] = mapped_column(Boolean)  # True: on the list but not a member
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
