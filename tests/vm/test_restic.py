"""Backups with Debian's restic, unmocked: a directory repository per organisation under tmp_path.

"Backed up" means "restorable": the drill restores and compares, and catches a damaged pack.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from infrawg.errors import Invalid
from infrawg.provisioning.base import ProviderError
from infrawg.provisioning.providers.restic import (
    BackupPolicy,
    RepositoryLocked,
    ResticConfig,
    ResticRepository,
    Retention,
    compare_trees,
)
from infrawg.provisioning.registry import build_config
from infrawg.provisioning.secrets import resolve_secret

PASSWORD = "correct horse battery staple for restic"


@pytest.fixture
def password_file(tmp_path: Path) -> Path:
    path = tmp_path / "restic.key"
    path.write_text(PASSWORD + "\n")
    path.chmod(0o600)
    return path


@pytest.fixture
def config(tmp_path: Path, password_file: Path) -> ResticConfig:
    return ResticConfig(
        repository=str(tmp_path / "repos" / "{organisation}"),
        password=resolve_secret(f"file:{password_file}"),
        cache_directory=tmp_path / "cache",
        scratch_directory=tmp_path / "scratch",
    )


@pytest.fixture
def repo(config: ResticConfig) -> ResticRepository:
    repository = ResticRepository(config, 7)
    assert repository.init_if_needed() is True
    assert repository.init_if_needed() is False
    return repository


@pytest.fixture
def source(tmp_path: Path) -> Path:
    root = tmp_path / "srv"
    (root / "www" / "img").mkdir(parents=True)
    (root / "www" / "index.html").write_text("<h1>hello</h1>\n")
    (root / "www" / "img" / "logo.bin").write_bytes(os.urandom(300_000))
    (root / "etc.conf").write_text("setting = 1\n")
    (root / "current").symlink_to("www")
    return root


def _pack_files(repository: ResticRepository) -> list[Path]:
    return sorted((Path(repository.location) / "data").rglob("*"), key=lambda p: p.stat().st_size)


def test_r13_backup_change_restore_compare(
    repo: ResticRepository, source: Path, tmp_path: Path
) -> None:
    summary = repo.backup([source], host="web1")
    assert summary.snapshot_id and summary.files_new == 3 and summary.errors == ()
    assert summary.total_bytes_processed > 300_000
    # The source changes after the backup: a file edited, one added, one removed.
    (source / "etc.conf").write_text("setting = 2\n")
    (source / "new.txt").write_text("new\n")
    (source / "www" / "index.html").unlink()

    # Restored and compared with the source as it is now: exactly the three changes.
    drill = repo.restore_drill(host="web1", compare_with=source)
    assert not drill.ok
    assert set(drill.differences) == {
        "differs: etc.conf",
        "extra: www/index.html",
        "missing: new.txt",
    }
    assert drill.snapshot_id.startswith(summary.snapshot_id)
    # A second backup holds the change; the drill then finds the restore identical.
    second = repo.backup([source], host="web1")
    assert (second.files_new, second.files_changed, second.files_unmodified) == (1, 1, 1)
    drill = repo.restore_drill(host="web1", compare_with=source)
    assert drill.ok, drill.summary()
    assert drill.files == 3 and "identical" in drill.summary()
    assert not any((tmp_path / "scratch").iterdir())  # the scratch restore is cleaned up
    # Snapshots are per VM (host) within the organisation's repository.
    assert [s.host for s in repo.snapshots()] == ["web1", "web1"]
    assert repo.restore_drill(host="db1").errors == ("db1 has no snapshot to restore",)


def test_r13_restore_drill_catches_a_corrupted_repository(
    repo: ResticRepository, source: Path
) -> None:
    repo.backup([source], host="web1")
    assert repo.restore_drill(host="web1", compare_with=source).ok
    pack = _pack_files(repo)[-1]  # the largest pack holds logo.bin's data
    pack.chmod(0o600)
    data = bytearray(pack.read_bytes())
    data[len(data) // 2] ^= 0xFF
    pack.write_bytes(bytes(data))

    drill = repo.restore_drill(host="web1", compare_with=source)
    assert not drill.ok
    assert any("ciphertext verification failed" in e for e in drill.errors), drill.errors
    assert not repo.check(read_data_subset="100%").ok


def test_r13_retention_removes_old_snapshots(repo: ResticRepository, source: Path) -> None:
    ids = []
    for n in range(4):
        (source / "etc.conf").write_text(f"setting = {n}\n")
        ids.append(repo.backup([source], host="web1").snapshot_id)
    other = repo.backup([source], host="db1").snapshot_id  # another VM of the organisation

    result = repo.forget(
        Retention(keep_last=2, keep_daily=0, keep_weekly=0, keep_monthly=0), host="web1"
    )
    assert sorted(k[:8] for k in result.kept) == sorted(ids[2:])
    assert sorted(r[:8] for r in result.removed) == sorted(ids[:2])
    left = repo.snapshots()
    assert sorted(s.short_id for s in left) == sorted([*ids[2:], other])
    assert repo.check().ok  # pruned, and still consistent
    assert repo.restore_drill(host="web1", compare_with=source).ok


def _hold_lock(repo: ResticRepository, password_file: Path) -> subprocess.Popen[bytes]:
    """A restic that takes the repository's lock and keeps it (a backup reading stdin)."""
    env = dict(os.environ, RESTIC_REPOSITORY=repo.location, RESTIC_PASSWORD_FILE=str(password_file))
    holder = subprocess.Popen(
        ["restic", "backup", "--stdin", "--stdin-filename", "dump.sql", "--host", "web1"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    locks = Path(repo.location) / "locks"
    deadline = time.monotonic() + 30
    while not any(locks.iterdir()):
        assert time.monotonic() < deadline, "restic took no lock"
        time.sleep(0.05)
    return holder


def test_r13_stale_lock_is_removed(
    repo: ResticRepository, source: Path, password_file: Path
) -> None:
    repo.backup([source], host="web1")
    retention = Retention(keep_last=1)
    holder = _hold_lock(repo, password_file)
    try:
        # A live restic's lock is respected: forget (exclusive) is refused, nothing removed.
        with pytest.raises(RepositoryLocked, match="locked by a restic still running"):
            repo.forget(retention, host="web1")
        assert len(repo.locks()) == 1
    finally:
        holder.send_signal(signal.SIGKILL)  # it dies holding the lock: now a stale one
        holder.wait()
    assert len(repo.locks()) == 1

    result = repo.forget(retention, host="web1")  # unlocks the stale lock, then runs
    assert len(result.kept) == 1
    assert repo.locks() == []


def test_the_password_reaches_restic_only_as_a_file(
    repo: ResticRepository, source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An env: reference works too: restic gets a private 0600 file, removed afterwards.
    monkeypatch.setenv("INFRAWG_TEST_RESTIC", PASSWORD)
    monkeypatch.setenv("RESTIC_PASSWORD", "not-this-one")  # never passed through
    other = ResticConfig(
        repository=repo.config.repository, password=resolve_secret("env:INFRAWG_TEST_RESTIC")
    )
    seen: list[str] = []
    original = ResticRepository._env

    def spy(self: ResticRepository, password_file: str) -> dict[str, str]:
        env = original(self, password_file)
        seen.append(password_file)
        assert "RESTIC_PASSWORD" not in env
        assert oct(os.stat(password_file).st_mode & 0o777) == "0o600"
        return env

    monkeypatch.setattr(ResticRepository, "_env", spy)
    assert ResticRepository(other, 7).backup([source], host="web1").snapshot_id
    assert seen and not any(Path(p).exists() for p in seen)
    assert PASSWORD not in repr(other)


def test_policy_and_config_refuse_what_cannot_work(password_file: Path) -> None:
    with pytest.raises(Invalid, match="at least one snapshot"):
        Retention(keep_last=0, keep_daily=0, keep_weekly=0, keep_monthly=0)
    with pytest.raises(Invalid, match="absolute"):
        BackupPolicy(paths=("etc",))
    with pytest.raises(Invalid, match="its own repository"):
        ResticConfig(repository="/srv/backups", password=resolve_secret(f"file:{password_file}"))
    assert Retention().args() == ["--keep-daily=7", "--keep-weekly=4", "--keep-monthly=6"]


def test_backup_checks_say_whether_the_latest_backup_is_recent(
    repo: ResticRepository, source: Path
) -> None:
    policy = BackupPolicy(paths=(str(source),))
    [missing] = repo.backup_checks(host="web1", policy=policy)
    assert not missing.ok and "no snapshot of web1" in missing.detail
    repo.backup([source], host="web1")
    assert all(c.ok for c in repo.backup_checks(host="web1", policy=policy))
    later = datetime.now(UTC) + timedelta(days=3)
    stale = {c.name: c.ok for c in repo.backup_checks(host="web1", policy=policy, now=later)}
    assert stale == {"backup exists": True, "latest backup is recent": False}


def test_a_hung_restic_is_stopped_at_the_timeout(password_file: Path) -> None:
    # A real restic against a REST server that accepts connections and never answers.
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        config = ResticConfig(
            repository=f"rest:http://127.0.0.1:{port}/{{organisation}}",
            password=resolve_secret(f"file:{password_file}"),
            timeout=1.0,
        )
        started = time.monotonic()
        with pytest.raises(ProviderError, match="ran longer than 1 s"):
            ResticRepository(config, 7).init_if_needed()
        assert time.monotonic() - started < 10


def test_the_config_is_built_from_plain_settings(tmp_path: Path, password_file: Path) -> None:
    config = build_config(
        ResticConfig,
        {"repository": "/srv/backups/{organisation}", "password": f"file:{password_file}"},
    )
    assert ResticRepository(config, 7).location == "/srv/backups/7"
    assert PASSWORD not in repr(config)
    with pytest.raises(Invalid, match="reference"):
        build_config(ResticConfig, {"repository": "/srv/{organisation}", "password": PASSWORD})


def test_compare_trees_reports_each_kind_of_difference(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    for root in (a, b):
        root.mkdir()
        (root / "same").write_text("x")
    (a / "changed").write_text("1")
    (b / "changed").write_text("2")
    (a / "gone").write_text("g")
    (b / "link").symlink_to("same")
    assert compare_trees(a, b) == ("missing: gone", "extra: link", "differs: changed")
