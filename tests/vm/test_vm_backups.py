"""R13: every server is backed up. The VM kind's scheduled jobs run the real restic against a
directory repository per organisation (a tmp dir). What is backed up here is a directory
standing in for the VM's disk export (`VM_BACKUP.source_directory/<hostname>`): exporting a
real guest's disk is not built."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from infrawg.extensions import db
from infrawg.jobs import enqueue, run_due_jobs
from infrawg.provisioning import service as services
from infrawg.provisioning.kinds.vm import backups
from infrawg.provisioning.kinds.vm.models import backup_of
from infrawg.provisioning.models import Service, ServiceState
from infrawg.status import service as notices
from infrawg.status.models import ImpactNotice, NoticeKind, NoticeService
from infrawg.timeutil import utcnow
from tests.conftest import html, outbox_to


@pytest.fixture
def exports(tmp_path: Path) -> Path:
    return tmp_path / "exports"


@pytest.fixture
def app_config(libvirt_registered, vm_settings, tmp_path: Path, exports: Path) -> dict:
    password = tmp_path / "restic.pass"
    password.write_text("correct horse battery staple\n")
    password.chmod(0o600)
    return {
        "PROVIDERS": {"libvirt": vm_settings},
        "VM_BACKUP": {
            "repository": str(tmp_path / "repos" / "{organisation}"),
            "password": f"file:{password}",
            "source_directory": str(exports),
            "cache_directory": str(tmp_path / "restic-cache"),
            "scratch_directory": str(tmp_path / "scratch"),
        },
    }


def _server(tenant_member, organisation, vm_type, tenant_keys, hostname: str) -> Service:
    service = services.request_service(
        tenant_member,
        organisation,
        vm_type,
        {
            "hostname": hostname,
            "size": "small",
            "image": "debian-12",
            "ssh_keys": "\n".join(tenant_keys),
        },
    )
    # Provisioning is test_vm_kind's business: here the server is simply running.
    service.state = ServiceState.ACTIVE
    service.decided_at = utcnow()
    db.session.commit()
    return service


def _export(exports: Path, hostname: str) -> Path:
    """The stand-in for the guest's disk export: /srv of the VM, a few files."""
    srv = exports / hostname / "srv"
    (srv / "www").mkdir(parents=True)
    (srv / "www" / "index.html").write_text("<h1>docs</h1>\n")
    (srv / "www" / "data.bin").write_bytes(os.urandom(200_000))
    return srv


def _run(name: str) -> None:
    enqueue(name)
    db.session.commit()
    run_due_jobs()


def test_r13_backup_and_restore_drill_recorded_for_the_server(
    app,
    people,
    tenant_member,
    staff,
    organisation,
    vm_type,
    tenant_keys,
    exports,
    tmp_path,
):
    service = _server(tenant_member, organisation, vm_type, tenant_keys, "web2")
    backup = backup_of(service)
    assert backup is not None and backup.paths == ["/etc", "/home", "/root", "/srv", "/var/lib"]
    assert backup.retention["keep_daily"] == 7 and backup.every_hours == 24
    _export(exports, "web2")

    _run(backups.BACKUP_JOB)
    db.session.refresh(backup)
    assert backup.last_backup_at is not None and backup.last_snapshot
    assert backup.last_result.startswith(f"snapshot {backup.last_snapshot[:8]}: 2 files")
    # The organisation's own repository holds it.
    assert (tmp_path / "repos" / str(organisation.id) / "config").is_file()

    _run(backups.DRILL_JOB)
    db.session.refresh(backup)
    assert backup.last_drill_at is not None
    assert backup.last_drill_result.startswith("passed: ")
    assert "2 files restored and identical" in backup.last_drill_result

    # Staff see the last successful backup and drill on the server's page, and the attempts.
    page = html(people.sign_in(app.test_client(), staff).get(f"/services/{service.id}"))
    assert backup.last_snapshot[:8] in page.select_one("#last-backup").text
    assert "none yet" not in page.select_one("#last-drill").text
    assert "identical" in page.select_one("#last-drill-result").text
    overview = html(people.sign_in(app.test_client(), staff).get("/services/backups"))
    row = overview.select_one(f"#server-backup-{service.id}")
    assert "web2" in row.text and "never" not in row.text and "overdue" not in row.text

    # A drill on a damaged repository fails, and the last good drill stays what it was.
    passed_at = backup.last_drill_at
    packs = (tmp_path / "repos" / str(organisation.id) / "data").rglob("*")
    pack = max((p for p in packs if p.is_file()), key=lambda p: p.stat().st_size)
    pack.chmod(0o600)
    data = bytearray(pack.read_bytes())
    data[len(data) // 2] ^= 0xFF  # the largest pack holds data.bin's data
    pack.write_bytes(bytes(data))
    _run(backups.DRILL_JOB)
    db.session.refresh(backup)
    assert backup.last_drill_result.startswith("failed: ")
    assert backup.last_drill_at == passed_at


def test_r13_a_failed_backup_is_recorded_and_the_others_still_run(
    app,
    tenant_member,
    organisation,
    vm_type,
    tenant_keys,
    exports,
):
    missing = _server(tenant_member, organisation, vm_type, tenant_keys, "gone1")
    present = _server(tenant_member, organisation, vm_type, tenant_keys, "here1")
    _export(exports, "here1")
    _run(backups.BACKUP_JOB)
    failed, done = backup_of(missing), backup_of(present)
    assert failed.last_backup_at is None and failed.last_result.startswith("failed: none of")
    assert done.last_backup_at is not None


def test_r13_no_backup_for_two_days_is_an_incident(
    app,
    tenant_member,
    chair,
    organisation,
    vm_type,
    tenant_keys,
):
    stale = _server(tenant_member, organisation, vm_type, tenant_keys, "old1")
    fresh = _server(tenant_member, organisation, vm_type, tenant_keys, "new1")
    backup_of(stale).last_backup_at = utcnow() - timedelta(days=2, hours=1)
    backup_of(fresh).last_backup_at = utcnow() - timedelta(days=1)
    db.session.commit()

    _run(backups.OVERDUE_JOB)
    notice = db.session.scalar(select(ImpactNotice))
    assert notice is not None and notice.kind is NoticeKind.INCIDENT and notice.is_open
    assert "old1" in notice.title
    about = db.session.scalars(select(NoticeService.service_id)).all()
    assert about == [stale.id]
    assert notice.created_by_id is None  # the site's own finding
    assert any("old1" in m.subject for m in outbox_to(tenant_member.email))

    # Idempotent: the next hour opens no second notice while this one is open.
    _run(backups.OVERDUE_JOB)
    assert len(db.session.scalars(select(ImpactNotice)).all()) == 1
    # Once staff give the all-clear, a server still without a backup is a new incident.
    notices.give_all_clear(chair, notice, "Backups are running again.")
    db.session.commit()
    _run(backups.OVERDUE_JOB)
    again = db.session.scalars(select(ImpactNotice).order_by(ImpactNotice.id)).all()
    assert len(again) == 2 and again[1].is_open and "old1" in again[1].title


def test_r13_a_decommissioned_servers_backups_are_kept_then_forgotten(
    app, tenant_member, organisation, vm_type, tenant_keys, exports, monkeypatch
):
    from infrawg import timeutil
    from infrawg.provisioning.providers.restic import ResticRepository

    gone = _server(tenant_member, organisation, vm_type, tenant_keys, "old2")
    _server(tenant_member, organisation, vm_type, tenant_keys, "live2")
    _export(exports, "old2")
    _export(exports, "live2")
    _run(backups.BACKUP_JOB)
    gone.state = ServiceState.DECOMMISSIONED
    gone.state_changed_at = utcnow()
    db.session.commit()
    config, _ = backups._settings()
    repository = ResticRepository(config, organisation.id)
    assert len(repository.snapshots("old2")) == 1

    # Within the retention period the snapshots stay restorable.
    _run(backups.EXPIRE_JOB)
    assert len(repository.snapshots("old2")) == 1
    assert backup_of(gone).snapshots_removed_at is None

    # 91 days later they are forgotten and pruned; the live server's stay, and a second run
    # has nothing to do.
    later = utcnow() + timedelta(days=91)
    monkeypatch.setattr(timeutil, "utcnow", lambda: later)
    monkeypatch.setattr(backups, "utcnow", lambda: later)
    _run(backups.EXPIRE_JOB)
    assert repository.snapshots("old2") == []
    assert len(repository.snapshots("live2")) == 1
    db.session.refresh(backup_of(gone))
    assert backup_of(gone).snapshots_removed_at == later
    assert backups.expired_servers(later) == []
