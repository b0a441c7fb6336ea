"""The VM kind's rows: each VM's backup policy and what its last backup and drill did (R13).

The VM itself is the generic `Service` (its parameters hold the size, image and keys); the
backup policy is created with it (`VmKind.requested`) so no server is ever without one."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from infrawg.extensions import Model, db
from infrawg.provisioning.models import Service

DEFAULT_PATHS = ["/etc", "/home", "/root", "/srv", "/var/lib"]
DEFAULT_RETENTION = {"keep_daily": 7, "keep_weekly": 4, "keep_monthly": 6}


def backup_of(service: Service) -> VmBackup | None:
    """The backup policy of a VM service (None for a service of another kind)."""
    return db.session.scalar(select(VmBackup).where(VmBackup.service_id == service.id))


class VmBackup(Model):
    """R13: a VM's backup policy (paths, schedule, retention) and its last results."""

    __tablename__ = "vm_backup"

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("service.id"), unique=True)
    paths: Mapped[list[str]] = mapped_column(JSON, default=lambda: list(DEFAULT_PATHS))
    retention: Mapped[dict[str, Any]] = mapped_column(JSON, default=lambda: dict(DEFAULT_RETENTION))
    every_hours: Mapped[int] = mapped_column(Integer, default=24)
    last_backup_at: Mapped[datetime | None]  # the last successful backup
    last_snapshot: Mapped[str | None] = mapped_column(String(64))
    last_attempt_at: Mapped[datetime | None]
    last_result: Mapped[str | None] = mapped_column(Text)  # the last attempt's outcome
    last_drill_at: Mapped[datetime | None]  # the last successful restore drill
    last_drill_attempt_at: Mapped[datetime | None]
    last_drill_result: Mapped[str | None] = mapped_column(Text)
    # A decommissioned server's snapshots are kept KEEP_AFTER_DECOMMISSION, then forgotten.
    snapshots_removed_at: Mapped[datetime | None]

    service: Mapped[Service] = relationship(lazy="raise")

    @property
    def audit_label(self) -> str:
        return f"backup policy of service #{self.service_id}"
