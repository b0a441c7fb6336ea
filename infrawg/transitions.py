"""The one way a row with a state moves on: stamp the mixins' columns, write the audit event."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from infrawg import audit
from infrawg.mixins import Decided, HasStatus
from infrawg.timeutil import utcnow

if TYPE_CHECKING:
    from infrawg.actions import Action
    from infrawg.membership.models import Person


_BY_ACTOR: Any = object()


def transition(
    row: Any,
    state: StrEnum,
    *,
    actor: Person | None,
    reason: str | None = None,
    action: Action | None = None,
    subject: Any = None,
    audit_reason: str | None = None,
    by: Person | None = _BY_ACTOR,
    at: datetime | None = None,
    attribute: str = "state",
) -> None:
    """Move ``row`` to ``state`` (its ``attribute``): a ``HasStatus`` row records ``reason``
    and the time, a ``Decided`` row who decided (``by``, the actor unless told), when and
    why; with an ``action``, the audit event (about ``subject``, else the row; its reason
    ``audit_reason``, else ``reason``) is added to the same transaction."""
    now = at or utcnow()
    setattr(row, attribute, state)
    if isinstance(row, HasStatus):
        row.status_reason = reason
        row.status_changed_at = now
    if isinstance(row, Decided):
        decider = actor if by is _BY_ACTOR else by
        row.decided_at = now
        row.decided_by_id = decider.id if decider is not None else None
        row.decision_reason = reason
    if action is not None:
        audit.record(
            actor,
            action,
            subject if subject is not None else row,
            audit_reason if audit_reason is not None else reason,
        )
