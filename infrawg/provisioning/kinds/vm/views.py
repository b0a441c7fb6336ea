"""The VM kind's one page: staff's list of every live server with its last successful backup
and restore drill, the last attempts' outcomes and any open incident (R13)."""

from __future__ import annotations

from infrawg.policy import Permission, requires
from infrawg.provisioning import bp
from infrawg.provisioning.kinds.vm.backups import OVERDUE, live_servers
from infrawg.timeutil import utcnow
from infrawg.web import render


@bp.get("/services/backups")
@requires(Permission.JOB_MANAGE)
def server_backups():
    limit = utcnow() - OVERDUE
    rows = [
        (
            backup,
            service,
            (backup.last_backup_at or service.decided_at or service.requested_at) < limit,
        )
        for backup, service in live_servers()
    ]
    return render("provisioning/vm/backups.html", rows=rows)
