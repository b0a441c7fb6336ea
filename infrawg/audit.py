"""The audit trail: every state change records who did what to whom, and why."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ForeignKey, Index, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from infrawg.extensions import db
from infrawg.timeutil import utcnow

if TYPE_CHECKING:
    from infrawg.membership.models import Person


class AuditEvent(db.Model):
    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_subject", "subject_type", "subject_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), index=True)
    action: Mapped[str] = mapped_column(String(80), index=True)
    subject_type: Mapped[str | None] = mapped_column(String(40))
    subject_id: Mapped[int | None]
    subject_label: Mapped[str | None] = mapped_column(String(300))
    reason: Mapped[str | None] = mapped_column(Text)

    actor: Mapped[Person | None] = relationship(lazy="raise")


def _subject_fields(subject: Any) -> tuple[str | None, int | None, str | None]:
    if subject is None:
        return None, None, None
    label = getattr(subject, "audit_label", None) or str(subject)
    return subject.__tablename__, subject.id, label[:300]


def record(
    actor: Person | None, action: str, subject: Any = None, reason: str | None = None
) -> AuditEvent:
    """Add an audit event to the current transaction (the caller commits with its change).

    ``subject`` is any model with ``id`` and ``__tablename__``; its ``audit_label`` (or
    ``str``) is kept so the trail stays readable after the subject changes.
    """
    subject_type, subject_id, label = _subject_fields(subject)
    event = AuditEvent(
        actor_id=actor.id if actor is not None else None,
        action=action,
        subject_type=subject_type,
        subject_id=subject_id,
        subject_label=label,
        reason=reason,
    )
    db.session.add(event)
    return event


def events_query(action: str | None = None, person_id: int | None = None):
    """Newest first; ``person_id`` matches the actor or a person who is the subject."""
    stmt = select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    if person_id is not None:
        stmt = stmt.where(
            (AuditEvent.actor_id == person_id)
            | ((AuditEvent.subject_type == "person") & (AuditEvent.subject_id == person_id))
        )
    return stmt


def known_actions() -> list[str]:
    return list(
        db.session.scalars(select(AuditEvent.action).distinct().order_by(AuditEvent.action))
    )
