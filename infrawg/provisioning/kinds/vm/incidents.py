"""R13 with R5: a server with no successful backup for two days is an incident. The hourly
`vm.backups_overdue` job opens an impact notice for it (the site's own, `status.incidents`),
and its tenant's contacts are told as for any notice. One notice a server while it is open;
after the all-clear, a server still without a backup is a new incident."""

from __future__ import annotations

from collections.abc import Iterable

from infrawg.provisioning.kinds.vm.models import VmBackup
from infrawg.provisioning.models import Service
from infrawg.status import incidents
from infrawg.status.models import ImpactNotice
from infrawg.timeutil import utcnow


def open_incidents(rows: Iterable[tuple[VmBackup, Service]]) -> list[ImpactNotice]:
    """An incident notice for each server given that has no open one yet; the notices opened."""
    opened: list[ImpactNotice] = []
    for backup, service in rows:
        since = backup.last_backup_at
        when = f"since {since:%Y-%m-%d %H:%M} UTC" if since else "ever"
        notice = incidents.open_incident(
            service,
            incidents.Finding(
                subject=f"vm-backup:{service.id}",
                title=f"No backup of {service.name} for two days",
                what=(
                    f"The server {service.name} has had no successful backup {when}. "
                    f"Last attempt: {backup.last_result or 'none'}. Staff are looking into it."
                ),
                expected_impact=(
                    "The server keeps running; until a backup succeeds, what changed on it "
                    "since its last backup could not be restored."
                ),
                public_summary="Backups of a server are failing; staff are looking into it.",
                starts_at=utcnow(),
                found_by="the backup check",
            ),
        )
        if notice is not None:
            opened.append(notice)
    return opened
