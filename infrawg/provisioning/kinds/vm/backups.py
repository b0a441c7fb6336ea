"""VM backups (R13: every server is backed up), run by the VM kind's scheduled jobs through
the restic engine (`infrawg.provisioning.providers.restic`); restic is not a provider of its
own: a backup is not a resource with a plan, it is work done daily for each live server.

The site's `VM_BACKUP` setting:

    {"repository": "/srv/restic/{organisation}",   # one repository per organisation
     "password": "file:/etc/infrawg/restic.pass",  # a secret reference (the secrets layer)
     "source_directory": "/srv/vm-exports"}        # <source>/<hostname>/<path>: the VM's files

What is backed up is each policy path of the VM under `source_directory/<hostname>` (the
hypervisor's read-only export of the guest's disk; making that export is not built here, and
in the tests it is a plain directory standing in for it). Jobs:

- `vm.backup` (daily): `backup --json` of each live server, then `forget --prune` by its
  retention; the outcome is recorded on its `VmBackup` row.
- `vm.restore_drill` (weekly): `check` of each organisation's repository, then each server's
  latest snapshot restored into a scratch directory and compared (`restore_drill`).
- `vm.backups_overdue` (hourly): a server whose last successful backup is older than two days
  is an incident: an impact notice is opened for it (R5), once, until it is resolved.
- `vm.backups_expire` (daily): a decommissioned server's snapshots stay restorable for
  `keep_days_after_decommission` (90 unless set), then they are forgotten and pruned.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from infrawg.errors import DomainError, Invalid
from infrawg.extensions import db
from infrawg.jobs import JobContext, job
from infrawg.provisioning.base import ProviderError
from infrawg.provisioning.kinds.vm import catalogue
from infrawg.provisioning.kinds.vm.models import VmBackup
from infrawg.provisioning.models import ON_PROVIDER, Service, ServiceState, ServiceType
from infrawg.provisioning.providers.restic import (
    DrillResult,
    ResticConfig,
    ResticRepository,
    Retention,
)
from infrawg.provisioning.registry import build_config
from infrawg.timeutil import utcnow

BACKUP_JOB = "vm.backup"
DRILL_JOB = "vm.restore_drill"
OVERDUE_JOB = "vm.backups_overdue"
EXPIRE_JOB = "vm.backups_expire"
OVERDUE = timedelta(days=2)  # R13: no successful backup for this long is an incident


def _settings() -> tuple[ResticConfig, Path]:
    raw = dict(catalogue.setting("VM_BACKUP") or {})
    if not raw:
        raise Invalid("VM_BACKUP is not set: the site has nowhere to back its servers up to.")
    raw.pop("keep_days_after_decommission", None)  # read by _kept_for
    source = raw.pop("source_directory", None)
    if not source:
        raise Invalid("VM_BACKUP needs source_directory (where each VM's files are exported).")
    return build_config(ResticConfig, raw), Path(source)


def live_servers() -> list[tuple[VmBackup, Service]]:
    rows = db.session.execute(
        select(VmBackup, Service)
        .join(Service, Service.id == VmBackup.service_id)
        .join(ServiceType, ServiceType.id == Service.service_type_id)
        .where(ServiceType.kind == "vm", Service.state.in_(ON_PROVIDER))
        .order_by(Service.organisation_id, Service.id)
    )
    return [(backup, service) for backup, service in rows]


def _sources(source: Path, service: Service, paths: Iterable[str]) -> list[Path]:
    root = source / service.name
    return [root / p.lstrip("/") for p in paths if (root / p.lstrip("/")).exists()]


def back_up(
    ctx: JobContext, backup: VmBackup, service: Service, config: ResticConfig, source: Path
) -> bool:
    """One server's backup and retention; the outcome recorded on `backup`. True on success."""
    backup.last_attempt_at = utcnow()
    sources = _sources(source, service, backup.paths)
    if not sources:
        backup.last_result = (
            f"failed: none of {', '.join(backup.paths)} under {source}/{service.name}"
        )
        ctx.log(f"{service.name}: {backup.last_result}")
        return False
    repository = ResticRepository(config, service.organisation_id)
    try:
        repository.init_if_needed()
        summary = repository.backup(sources, host=service.name)
        forgotten = repository.forget(Retention(**backup.retention), host=service.name)
    except (ProviderError, DomainError) as exc:
        backup.last_result = f"failed: {exc}"
        ctx.log(f"{service.name}: backup {backup.last_result}")
        return False
    backup.last_backup_at = backup.last_attempt_at
    backup.last_snapshot = summary.snapshot_id
    errors = f", {len(summary.errors)} unreadable" if summary.errors else ""
    backup.last_result = (
        f"snapshot {summary.snapshot_id[:8]}: {summary.total_files_processed} files, "
        f"{summary.data_added} bytes added{errors}; {len(forgotten.removed)} old snapshot(s) "
        "forgotten"
    )
    ctx.log(f"{service.name}: {backup.last_result}")
    return True


@job(BACKUP_JOB, max_attempts=3, every=timedelta(days=1))
def backup_servers(ctx: JobContext) -> None:
    """Every live server's daily backup; one server's failure does not stop the others."""
    live = live_servers()
    if not live:  # a site without servers needs no VM_BACKUP setting
        ctx.log("no live server to back up")
        return
    config, source = _settings()
    done = [back_up(ctx, backup, service, config, source) for backup, service in live]
    ctx.log(f"{sum(done)} of {len(done)} server(s) backed up")


def drill(
    ctx: JobContext, backup: VmBackup, service: Service, config: ResticConfig, source: Path
) -> DrillResult:
    """Restore the server's latest snapshot into a scratch directory and compare it."""
    backup.last_drill_attempt_at = utcnow()
    sources = _sources(source, service, backup.paths)
    repository = ResticRepository(config, service.organisation_id)
    # Right after a backup the source still equals the snapshot: compare file by file too.
    fresh = backup.last_backup_at is not None and backup.last_backup_at >= utcnow() - timedelta(
        hours=1
    )
    compare = sources[0] if fresh and len(sources) == 1 else None
    try:
        result = repository.restore_drill(host=service.name, compare_with=compare)
    except (ProviderError, DomainError) as exc:
        result = DrillResult(False, "", 0, errors=(str(exc),))
    if result.ok:
        backup.last_drill_at = backup.last_drill_attempt_at
    backup.last_drill_result = ("passed: " if result.ok else "failed: ") + result.summary()
    ctx.log(f"{service.name}: restore drill {backup.last_drill_result}")
    return result


@job(DRILL_JOB, max_attempts=3, every=timedelta(weeks=1))
def restore_drills(ctx: JobContext) -> None:
    """The weekly `restic check` of each organisation's repository and each server's drill."""
    live = live_servers()
    if not live:
        ctx.log("no live server to drill")
        return
    config, source = _settings()
    for organisation_id in dict.fromkeys(service.organisation_id for _, service in live):
        checked = ResticRepository(config, organisation_id).check(read_data_subset="1/10")
        outcome = "passed" if checked.ok else "FAILED"
        ctx.log(f"repository of organisation #{organisation_id}: check {outcome}")
    results = [drill(ctx, backup, service, config, source).ok for backup, service in live]
    ctx.log(f"{sum(results)} of {len(results)} restore drill(s) passed")


def overdue(now: Any = None) -> list[tuple[VmBackup, Service]]:
    """Live servers with no successful backup for two days (counted from the approval when
    there never was one)."""
    limit = (now or utcnow()) - OVERDUE
    return [
        (backup, service)
        for backup, service in live_servers()
        if (backup.last_backup_at or service.decided_at or service.requested_at) < limit
    ]


@job(OVERDUE_JOB, max_attempts=3, every=timedelta(hours=1))
def backups_overdue(ctx: JobContext) -> None:
    from infrawg.provisioning.kinds.vm.incidents import open_incidents

    opened = open_incidents(overdue())
    ctx.log(f"{len(opened)} incident notice(s) opened for servers without a recent backup")


# -- a decommissioned server's backups: kept for a while, then forgotten ------------------------

KEEP_AFTER_DECOMMISSION = timedelta(days=90)


def _kept_for() -> timedelta:
    raw = dict(catalogue.setting("VM_BACKUP") or {})
    days = raw.get("keep_days_after_decommission")
    if days is None:
        return KEEP_AFTER_DECOMMISSION
    if not isinstance(days, int) or isinstance(days, bool) or days < 0:
        raise Invalid("VM_BACKUP's keep_days_after_decommission must be a whole number of days.")
    return timedelta(days=days)


def expired_servers(now: datetime | None = None) -> list[tuple[VmBackup, Service]]:
    """Decommissioned servers whose snapshots were kept long enough and are still there."""
    limit = (now or utcnow()) - _kept_for()
    rows = db.session.execute(
        select(VmBackup, Service)
        .join(Service, Service.id == VmBackup.service_id)
        .join(ServiceType, ServiceType.id == Service.service_type_id)
        .where(
            ServiceType.kind == "vm",
            Service.state == ServiceState.DECOMMISSIONED,
            Service.state_changed_at < limit,
            VmBackup.snapshots_removed_at.is_(None),
        )
        .order_by(Service.organisation_id, Service.id)
    )
    return [(backup, service) for backup, service in rows]


@job(EXPIRE_JOB, max_attempts=3, every=timedelta(days=1))
def expire_backups(ctx: JobContext) -> None:
    """R13: a decommissioned server's backups stay restorable for the retention period
    (VM_BACKUP keep_days_after_decommission, 90 days unless set), then its snapshots are
    forgotten and pruned from the organisation's repository."""
    expired = expired_servers()
    if not expired:
        ctx.log("no decommissioned server's backups to forget")
        return
    config, _source = _settings()
    for backup, service in expired:
        removed = ResticRepository(config, service.organisation_id).forget_host(service.name)
        backup.snapshots_removed_at = utcnow()
        ctx.log(f"{service.name}: {len(removed)} snapshot(s) forgotten after the retention period")
