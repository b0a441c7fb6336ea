"""Column groups that many models share, declared once.

- ``Decided``: who decided, when, and why (a staff request, a decision on an application).
- ``HasStatus``: why a row is in its status and since when (an organisation).
- ``Ended``: when and why a row stopped counting; ended, never deleted, so history stays.

``infrawg.transitions.transition()`` moves a row to a new state, stamps the group its
mixins carry, and writes the audit event. It lives apart because the audit module reads
the policy, which reads the models that use these mixins.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Text
from sqlalchemy.orm import Mapped, mapped_column

from infrawg.timeutil import utcnow


class Decided:
    """decided_at / decided_by_id / decision_reason."""

    decided_at: Mapped[datetime | None]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    decision_reason: Mapped[str | None] = mapped_column(Text)


class HasStatus:
    """status_reason / status_changed_at; the status column itself is the model's own."""

    status_reason: Mapped[str | None] = mapped_column(Text)
    status_changed_at: Mapped[datetime] = mapped_column(default=utcnow)


class Ended:
    """ended_at / end_reason: the row stays, marked ended."""

    ended_at: Mapped[datetime | None]
    end_reason: Mapped[str | None] = mapped_column(Text)

    @property
    def is_current(self) -> bool:
        return self.ended_at is None

    def end(self, reason: str, at: datetime | None = None) -> None:
        self.ended_at = at or utcnow()
        self.end_reason = reason
