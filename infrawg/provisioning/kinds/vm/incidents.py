"""R13 with R5: a server with no successful backup for two days is an incident. The hourly
`vm.backups_overdue` job opens an impact notice for it, in the current chair's name (staff and
the chair announce notices; the job acts for them), and its tenant's contacts are told as for
any notice. One notice a server: none is opened while the last one is still open."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from infrawg.extensions import db
from infrawg.governance.roles import current_chair
from infrawg.provisioning.kinds.vm.models import VmBackup
from infrawg.provisioning.models import Service
from infrawg.status import service as notices
from infrawg.status.models import ImpactNotice, NoticeKind
from infrawg.timeutil import utcnow

log = logging.getLogger(__name__)


def open_incidents(rows: Iterable[tuple[VmBackup, Service]]) -> list[ImpactNotice]:
    """An incident notice for each server given that has no open one yet; the notices opened."""
    opened: list[ImpactNotice] = []
    chair = current_chair()
    for backup, service in rows:
        if backup.incident_id is not None:
            existing = db.session.get(ImpactNotice, backup.incident_id)
            if existing is not None and existing.is_open:
                continue
        if chair is None:
            log.warning(
                "server %s has no recent backup, and there is no chair to announce it", service.name
            )
            continue
        since = backup.last_backup_at
        when = f"since {since:%Y-%m-%d %H:%M} UTC" if since else "ever"
        notice = notices.announce(
            chair.person,
            notices.NoticeInput(
                kind=NoticeKind.INCIDENT,
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
                ends_at=None,
                service_ids=[service.id],
            ),
            live_services=False,  # the job chose live servers (a drifted one is live too)
        )
        backup.incident_id = notice.id
        opened.append(notice)
    return opened
