"""The app kind's rows (R14): every version of a service's application description.

A version is the tenant's description (an `AppSpec` as JSON) with its place in the review:
draft -> submitted -> approved | changes_requested, and approved -> published. Each change the
tenant saves is a new version; older ones are kept, so each diff can be shown again.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from infrawg.extensions import Model, enum_type
from infrawg.membership.models import Person
from infrawg.timeutil import utcnow


class VersionState(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    CHANGES_REQUESTED = "changes_requested"
    PUBLISHED = "published"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")


class AppVersion(Model):
    """One version of an application's cookbook: what the tenant described and its review."""

    __tablename__ = "app_version"
    __table_args__ = (UniqueConstraint("service_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("service.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    # AppSpec.to_dict(), or the description as given when it did not hold (see `checks`).
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[VersionState] = mapped_column(enum_type(VersionState), default=VersionState.DRAFT)
    author_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    reviewed_at: Mapped[datetime | None]
    comment: Mapped[str] = mapped_column(Text, default="")
    # Every check's result, run once when the version was saved: [{check, file, line,
    # message, passed}]; `failed` counts the failures (the summary lists show).
    checks: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    published_at: Mapped[datetime | None]
    published_commit: Mapped[str | None] = mapped_column(String(80))

    author: Mapped[Person] = relationship(foreign_keys=[author_id], lazy="joined")
    reviewer: Mapped[Person | None] = relationship(foreign_keys=[reviewer_id], lazy="joined")

    @property
    def cookbook_version(self) -> str:
        """The Chef version (x.y.z) of version `number`: 1.0.0, 1.1.0, 1.2.0..."""
        return f"1.{self.number - 1}.0"

    @property
    def audit_label(self) -> str:
        return f"application version {self.number}"
