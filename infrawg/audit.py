"""The audit trail: every state change records who did what to whom, and why.

Each event carries who may read it (``visibility``, with the organisation and the person
it concerns), decided by the policy module when it is recorded; every reading of the
trail (the page, its filters, its CSV export) goes through ``events_query``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import ForeignKey, Index, Select, String, Text, and_, func, or_, select, update
from sqlalchemy.orm import Mapped, mapped_column, relationship, selectinload

from infrawg.actions import Action
from infrawg.exports import csv_line
from infrawg.extensions import Model, db, enum_type
from infrawg.policy import audit as policy
from infrawg.policy.audit import AuditVisibility
from infrawg.timeutil import utcnow

if TYPE_CHECKING:
    from infrawg.membership.models import Person


class AuditEvent(Model):
    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_event_subject", "subject_type", "subject_id"),
        Index("ix_audit_event_visibility_org", "visibility", "organisation_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), index=True)
    action: Mapped[str] = mapped_column(String(80), index=True)
    subject_type: Mapped[str | None] = mapped_column(String(40))
    subject_id: Mapped[int | None]
    subject_label: Mapped[str | None] = mapped_column(String(300))
    reason: Mapped[str | None] = mapped_column(Text)
    # Who may read it (policy.audit_scope): events recorded before this column existed
    # are staff's only unless the migration could place them.
    visibility: Mapped[AuditVisibility] = mapped_column(
        enum_type(AuditVisibility), default=AuditVisibility.STAFF, server_default="staff"
    )
    # The organisation whose tenant members may read it, and the person it is about (plain
    # ids, like subject_id: the trail outlives what it names).
    organisation_id: Mapped[int | None]
    person_id: Mapped[int | None] = mapped_column(index=True)
    # Refused requests folded into this one (see record_refused).
    repeats: Mapped[int] = mapped_column(default=0, server_default="0")

    actor: Mapped[Person | None] = relationship(lazy="raise")


def _subject_fields(subject: Any) -> tuple[str | None, int | None, str | None]:
    if subject is None:
        return None, None, None
    label = getattr(subject, "audit_label", None) or str(subject)
    return subject.__tablename__, subject.id, label[:300]


def record(
    actor: Person | None, action: Action, subject: Any = None, reason: str | None = None
) -> AuditEvent:
    """Add an audit event to the current transaction (the caller commits with its change).

    ``subject`` is any model with ``id`` and ``__tablename__``; its ``audit_label`` (or
    ``str``) is kept so the trail stays readable after the subject changes. Who may read
    the event is decided here, by ``policy.audit_scope``.
    """
    subject_type, subject_id, label = _subject_fields(subject)
    scope = policy.audit_scope(action, subject)
    for restricted_type, ids in policy.audit_history_restricted(action, subject):
        # R16: what was said about a subject now kept to staff is staff's only too.
        db.session.execute(
            update(AuditEvent)
            .where(AuditEvent.subject_type == restricted_type, AuditEvent.subject_id.in_(ids))
            .values(visibility=AuditVisibility.STAFF)
            .execution_options(synchronize_session=False)
        )
    event = AuditEvent(
        actor_id=actor.id if actor is not None else None,
        action=action,
        subject_type=subject_type,
        subject_id=subject_id,
        subject_label=label,
        reason=reason,
        visibility=scope.visibility,
        organisation_id=scope.organisation_id,
        person_id=scope.person_id,
    )
    db.session.add(event)
    return event


# A crawler (or a stuck script) must not flood the trail with refusals: one row per
# person and request line per window, and at most REFUSED_ROWS_PER_WINDOW rows per person
# per window; further refusals are counted on the row they repeat (or the newest one).
REFUSED_WINDOW = timedelta(minutes=10)
REFUSED_ROWS_PER_WINDOW = 10


def record_refused(actor: Person, request_line: str, message: str) -> AuditEvent:
    """Record a refused request (``request_line`` is "METHOD /path"), throttled."""
    reason = f"{request_line}: {message}"
    recent = select(AuditEvent).where(
        AuditEvent.actor_id == actor.id,
        AuditEvent.action == Action.REFUSED,
        AuditEvent.at >= utcnow() - REFUSED_WINDOW,
    )
    existing = db.session.scalar(
        recent.where(AuditEvent.reason == reason).order_by(AuditEvent.id.desc()).limit(1)
    )
    if existing is None:
        rows = db.session.scalar(select(func.count()).select_from(recent.subquery())) or 0
        if rows < REFUSED_ROWS_PER_WINDOW:
            return record(actor, Action.REFUSED, None, reason)
        existing = db.session.scalar(recent.order_by(AuditEvent.id.desc()).limit(1))
        assert existing is not None
    db.session.execute(
        update(AuditEvent)
        .where(AuditEvent.id == existing.id)
        .values(repeats=AuditEvent.repeats + 1)
        .execution_options(synchronize_session=False)
    )
    return existing


def events_query(reader: Person | None, action: str | None = None, person_id: int | None = None):
    """The events ``reader`` may read, newest first; ``person_id`` matches the actor or
    the person the event is about."""
    stmt = select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    visible = policy.audit_visible_to(reader, AuditEvent)
    if visible is not None:
        stmt = stmt.where(visible)
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    if person_id is not None:
        stmt = stmt.where(or_(AuditEvent.actor_id == person_id, AuditEvent.person_id == person_id))
    return stmt


def known_actions(reader: Person | None) -> list[str]:
    """The actions of the events ``reader`` may read (for the filter)."""
    stmt = select(AuditEvent.action).distinct().order_by(AuditEvent.action)
    visible = policy.audit_visible_to(reader, AuditEvent)
    if visible is not None:
        stmt = stmt.where(visible)
    return list(db.session.scalars(stmt))


CSV_HEADER = ("when", "who", "action", "subject", "reason", "repeats")


def csv_lines(stmt: Select | None, batch: int = 500) -> Iterator[str]:
    """The events of ``stmt`` (from ``events_query``; None: none) as CSV lines, in constant
    memory: keyset pages in the trail's own order, formulas neutralised by ``csv_line``."""
    yield csv_line(CSV_HEADER)
    if stmt is None:
        return
    last: tuple[datetime, int] | None = None
    while True:
        page_stmt = stmt.options(selectinload(AuditEvent.actor)).limit(batch)
        if last is not None:
            at, event_id = last
            page_stmt = page_stmt.where(
                or_(AuditEvent.at < at, and_(AuditEvent.at == at, AuditEvent.id < event_id))
            )
        events = list(db.session.scalars(page_stmt))
        for event in events:
            yield csv_line(
                (
                    event.at.isoformat(timespec="seconds"),
                    event.actor.name if event.actor else "the site",
                    event.action,
                    event.subject_label or "",
                    event.reason or "",
                    event.repeats,
                )
            )
        if len(events) < batch:
            return
        last = (events[-1].at, events[-1].id)
