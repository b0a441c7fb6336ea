"""Backups with restic (R13: every server is backed up), one repository per organisation.

`ResticRepository(config, organisation)` runs Debian's `restic` against the organisation's
repository (`config.repository` with `{organisation}` filled in: a directory, or any restic
location such as `sftp:backup@host:/srv/restic/{organisation}`). Each VM's snapshots carry the
VM's name as their host, so retention and restores act on one VM's snapshots only.

The repository password comes from the secrets layer and reaches restic only through
`RESTIC_PASSWORD_FILE`: the configured `file:` reference itself, or for an `env:` reference a
0600 file in a private directory that lives as long as the command. It is never an argument,
never in a job's arguments and never in restic's environment as `RESTIC_PASSWORD`.

"Backed up" means "restorable": `restore_drill` restores the latest snapshot into a scratch
directory with `--verify`, compares what came back with the snapshot's listing (and, when
given, with a reference tree, by SHA-256) and reports every difference. A lock left by a killed
restic is removed with `restic unlock` (which removes only stale locks) and the command retried
once; a lock held by a live restic is reported as `RepositoryLocked`, which a job may retry.
"""

from __future__ import annotations

import collections
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any

from infrawg.errors import Invalid
from infrawg.provisioning.base import Check, ProviderError
from infrawg.provisioning.providers.cloudinit import validate_hostname
from infrawg.provisioning.secrets import Secret

__all__ = [
    "BackupPolicy",
    "BackupSummary",
    "DrillResult",
    "ForgetResult",
    "RepositoryLocked",
    "ResticConfig",
    "ResticRepository",
    "Retention",
    "Snapshot",
    "compare_trees",
]

LOG_LINES = 200  # how much of a command's text output a log keeps (the rest is streamed past)
_LOCKED = "repository is already locked"
_NO_REPOSITORY = ("Is there a repository at the following location?", "unable to open config")


class RepositoryLocked(ProviderError):
    """Another restic, still running, holds the repository's lock; try again later."""

    retry_can_help = True


# -- policy --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Retention:
    """Which snapshots `forget` keeps (restic's --keep-* options); 0 means that rule is unused."""

    keep_last: int = 0
    keep_hourly: int = 0
    keep_daily: int = 7
    keep_weekly: int = 4
    keep_monthly: int = 6
    keep_yearly: int = 0

    def __post_init__(self) -> None:
        values = [getattr(self, name) for name in self.__dataclass_fields__]
        if any(not isinstance(v, int) or v < 0 for v in values):
            raise Invalid("Retention counts are whole numbers, 0 or more.")
        if not any(values):
            raise Invalid("A retention policy keeps at least one snapshot by some rule.")

    def args(self) -> list[str]:
        return [
            f"--{name.replace('_', '-')}={getattr(self, name)}"
            for name in self.__dataclass_fields__
            if getattr(self, name)
        ]


@dataclass(frozen=True)
class BackupPolicy:
    """What a VM's backup covers and how often its jobs run (R13: every VM gets one)."""

    paths: tuple[str, ...] = ("/etc", "/home", "/root", "/srv", "/var/lib")
    excludes: tuple[str, ...] = ("/var/lib/apt/lists", "*.cache")
    every: timedelta = timedelta(days=1)
    retention: Retention = field(default_factory=Retention)
    check_every: timedelta = timedelta(weeks=1)
    drill_every: timedelta = timedelta(weeks=1)

    def __post_init__(self) -> None:
        if not self.paths:
            raise Invalid("A backup policy names at least one path.")
        for path in self.paths:
            if not PurePosixPath(path).is_absolute() or ".." in PurePosixPath(path).parts:
                raise Invalid(f"Backup paths are absolute, without '..': {path!r} is not.")
        if self.every < timedelta(hours=1):
            raise Invalid("Backups run at most once an hour.")


# -- results -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BackupSummary:
    """restic backup's JSON summary."""

    snapshot_id: str
    files_new: int
    files_changed: int
    files_unmodified: int
    total_files_processed: int
    total_bytes_processed: int
    data_added: int
    errors: tuple[str, ...] = ()


@dataclass(frozen=True)
class Snapshot:
    id: str
    short_id: str
    time: str
    host: str
    paths: tuple[str, ...]
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class ForgetResult:
    kept: tuple[str, ...]
    removed: tuple[str, ...]
    log: tuple[str, ...] = ()


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    log: tuple[str, ...] = ()


@dataclass(frozen=True)
class DrillResult:
    """A restore drill: `ok` only when the latest snapshot came back whole and identical."""

    ok: bool
    snapshot_id: str
    files: int
    differences: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()

    def summary(self) -> str:
        if self.ok:
            return f"snapshot {self.snapshot_id[:8]}: {self.files} files restored and identical"
        problems = [*self.errors, *self.differences]
        return f"snapshot {self.snapshot_id[:8] or '-'}: " + "; ".join(problems[:10])


# -- configuration and the repository ------------------------------------------------------------


@dataclass(frozen=True)
class ResticConfig:
    """`repository` names each organisation's repository with `{organisation}` in it."""

    repository: str
    password: Secret
    restic: str = "restic"
    cache_directory: Path | None = None  # restic's cache; None: restic's default
    scratch_directory: Path | None = None  # where drills restore; None: the system's temp dir
    timeout: float = 6 * 3600.0

    def __post_init__(self) -> None:
        if "{organisation}" not in self.repository:
            raise Invalid(
                "The restic repository setting must contain {organisation}: each organisation "
                "has its own repository."
            )


@dataclass
class _Run:
    returncode: int
    stdout_tail: collections.deque[str]
    stderr: str


class ResticRepository:
    """One organisation's restic repository."""

    def __init__(self, config: ResticConfig, organisation: int | str) -> None:
        if not str(organisation).strip() or "/" in str(organisation):
            raise Invalid(f"{organisation!r} cannot name an organisation's repository.")
        self.config = config
        self.organisation = str(organisation)
        self.location = config.repository.format(organisation=self.organisation)

    def __repr__(self) -> str:
        return f"<ResticRepository {self.location}>"

    # -- running restic ------------------------------------------------------------------------

    @contextmanager
    def _password_file(self) -> Iterator[str]:
        secret = self.config.password
        if secret.ref.startswith("file:"):
            yield secret.ref.removeprefix("file:")  # resolve_secret checked it is 0600
            return
        directory = tempfile.mkdtemp(prefix="infrawg-restic-")  # mode 0700
        path = Path(directory) / "password"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secret.reveal())
            yield str(path)
        finally:
            shutil.rmtree(directory, ignore_errors=True)

    def _env(self, password_file: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RESTIC_")}
        env["RESTIC_REPOSITORY"] = self.location
        env["RESTIC_PASSWORD_FILE"] = password_file
        if self.config.cache_directory is not None:
            env["RESTIC_CACHE_DIR"] = str(self.config.cache_directory)
        return env

    def _run_once(self, args: Sequence[str], on_line: Callable[[str], None] | None) -> _Run:
        tail: collections.deque[str] = collections.deque(maxlen=LOG_LINES)
        with (
            self._password_file() as password_file,
            tempfile.TemporaryFile("w+b") as stderr,
        ):
            try:
                process = subprocess.Popen(  # noqa: S603 - fixed binary, our arguments
                    [self.config.restic, *args],
                    stdout=subprocess.PIPE,
                    stderr=stderr,
                    stdin=subprocess.DEVNULL,
                    env=self._env(password_file),
                    encoding="utf-8",
                    errors="replace",
                )
            except FileNotFoundError as exc:
                raise ProviderError(f"restic is not installed ({self.config.restic}).") from exc
            assert process.stdout is not None
            # A hung restic (a dead remote) is killed; its stdout then ends and the loop too.
            expired = threading.Event()

            def expire() -> None:
                expired.set()
                process.kill()

            watchdog = threading.Timer(self.config.timeout, expire)
            watchdog.start()
            try:
                # Stream: a backup of a large tree prints a line per file or status tick.
                for line in process.stdout:
                    line = line.rstrip("\n")
                    if on_line is not None:
                        on_line(line)
                    tail.append(line)
                returncode = process.wait()
            finally:
                watchdog.cancel()
                process.stdout.close()
                if process.poll() is None:  # on_line raised: do not leave restic running
                    process.kill()
                    process.wait()
            if expired.is_set():
                raise ProviderError(f"restic {args[0]} ran longer than {self.config.timeout:.0f} s")
            # Only the end of stderr: a run over millions of files may print many warnings.
            size = stderr.seek(0, os.SEEK_END)
            stderr.seek(max(0, size - 20000))
            text = stderr.read().decode(errors="replace")
        return _Run(returncode, tail, text)

    def run(
        self,
        *args: str,
        on_line: Callable[[str], None] | None = None,
        check: bool = True,
    ) -> _Run:
        """Run `restic args...`; on a lock left by a dead restic, unlock and run once more."""
        result = self._run_once(args, on_line)
        if result.returncode != 0 and _LOCKED in result.stderr:
            self.unlock()
            result = self._run_once(args, on_line)
            if result.returncode != 0 and _LOCKED in result.stderr:
                raise RepositoryLocked(
                    f"The repository {self.location} is locked by a restic still running: "
                    + _last_lines(result.stderr, 3)
                )
        if check and result.returncode != 0:
            raise ProviderError(f"restic {args[0]} failed: {_last_lines(result.stderr, 5)}")
        return result

    # -- operations --------------------------------------------------------------------------

    def init_if_needed(self) -> bool:
        """Create the repository unless it exists; True when it was created."""
        probe = self.run("cat", "config", "--no-lock", check=False)
        if probe.returncode == 0:
            return False
        if not any(marker in probe.stderr for marker in _NO_REPOSITORY):
            raise ProviderError(f"Cannot open {self.location}: {_last_lines(probe.stderr, 3)}")
        self.run("init")
        return True

    def backup(
        self, paths: Sequence[str | Path], *, host: str, policy: BackupPolicy | None = None
    ) -> BackupSummary:
        """Back up `paths` as a snapshot of `host` (the VM's name); the JSON summary parsed."""
        host = validate_hostname(host)
        summary: dict[str, Any] = {}
        errors: list[str] = []

        def on_line(line: str) -> None:
            message = _json(line)
            if not isinstance(message, dict):
                return
            if message.get("message_type") == "summary":
                summary.update(message)
            elif message.get("message_type") == "error":
                errors.append(f"{message.get('item', '')}: {message.get('error', {})}")

        args = ["backup", "--json", "--host", host]
        for pattern in policy.excludes if policy is not None else ():
            args += ["--exclude", pattern]
        # restic exits 3 when some files could not be read: a snapshot exists, with errors.
        result = self.run(*args, "--", *map(str, paths), on_line=on_line, check=False)
        if result.returncode not in (0, 3) or "snapshot_id" not in summary:
            raise ProviderError(f"restic backup failed: {_last_lines(result.stderr, 5)}")
        return BackupSummary(
            snapshot_id=summary["snapshot_id"],
            files_new=int(summary.get("files_new", 0)),
            files_changed=int(summary.get("files_changed", 0)),
            files_unmodified=int(summary.get("files_unmodified", 0)),
            total_files_processed=int(summary.get("total_files_processed", 0)),
            total_bytes_processed=int(summary.get("total_bytes_processed", 0)),
            data_added=int(summary.get("data_added", 0)),
            errors=tuple(errors),
        )

    def snapshots(self, host: str | None = None) -> list[Snapshot]:
        """The repository's snapshots (one host's, when given), oldest first."""
        args = ["snapshots", "--json", "--no-lock"]
        if host is not None:
            args += ["--host", host]
        lines: list[str] = []
        self.run(*args, on_line=lines.append)
        data = _json("\n".join(lines)) or []
        return [
            Snapshot(
                id=s["id"],
                short_id=s.get("short_id", s["id"][:8]),
                time=s["time"],
                host=s.get("hostname", ""),
                paths=tuple(s.get("paths") or ()),
                tags=tuple(s.get("tags") or ()),
            )
            for s in data
        ]

    def forget(self, retention: Retention, *, host: str, prune: bool = True) -> ForgetResult:
        """Apply `retention` to `host`'s snapshots (`forget --prune`); what was kept and removed."""
        forgotten: list[Any] = []

        def on_line(line: str) -> None:
            if line.startswith("["):  # the JSON report; prune's progress text follows it
                forgotten.extend(_json(line) or [])

        args = ["forget", "--json", "--host", validate_hostname(host), *retention.args()]
        result = self.run(*args, *(["--prune"] if prune else []), on_line=on_line)
        kept = [s["id"] for group in forgotten for s in group.get("keep") or ()]
        removed = [s["id"] for group in forgotten for s in group.get("remove") or ()]
        log = [line for line in result.stdout_tail if not line.startswith("[")]
        return ForgetResult(tuple(kept), tuple(removed), tuple(log))

    def forget_host(self, host: str, *, prune: bool = True) -> tuple[str, ...]:
        """Forget every snapshot of `host` (a server gone for good); the ids removed."""
        ids = [s.id for s in self.snapshots(validate_hostname(host))]
        if ids:
            self.run("forget", *ids, *(["--prune"] if prune else []))
        return tuple(ids)

    def check(self, *, read_data_subset: str | None = None) -> CheckResult:
        """`restic check` (the weekly one reads a subset of the data too, e.g. "1/10")."""
        args = ["check"]
        if read_data_subset:
            args.append(f"--read-data-subset={read_data_subset}")
        result = self.run(*args, check=False)
        log = (*result.stdout_tail, *result.stderr.splitlines()[-20:])
        return CheckResult(result.returncode == 0, log)

    def unlock(self) -> list[str]:
        """Remove stale locks (their restic died); locks of running restics stay."""
        result = self._run_once(["unlock"], None)
        if result.returncode != 0:
            raise ProviderError(f"restic unlock failed: {_last_lines(result.stderr, 3)}")
        return [*result.stdout_tail, *result.stderr.splitlines()]

    def locks(self) -> list[str]:
        lines: list[str] = []
        self.run("list", "locks", "--no-lock", on_line=lines.append)
        return [line for line in lines if line.strip()]

    def backup_checks(
        self, *, host: str, policy: BackupPolicy, now: datetime | None = None
    ) -> list[Check]:
        """What a VM kind's verify reports about its backups: a snapshot exists and is recent
        (not older than two backup periods). The drill and `check` run as their own jobs."""
        snapshots = self.snapshots(host=validate_hostname(host))
        if not snapshots:
            return [Check("backup exists", False, f"no snapshot of {host} in {self.location}")]
        latest = snapshots[-1]
        taken = _parse_time(latest.time)
        age = (now or datetime.now(UTC)) - taken
        fresh = age <= 2 * policy.every
        hours = age.total_seconds() / 3600
        return [
            Check("backup exists", True, f"{len(snapshots)} snapshots, latest {latest.short_id}"),
            Check("latest backup is recent", fresh, f"{hours:.1f} h old"),
        ]

    def restore_drill(self, *, host: str, compare_with: Path | None = None) -> DrillResult:
        """Restore `host`'s latest snapshot into a scratch directory, verified, and compare.

        Compares the restored tree with the snapshot's own listing (every file back, at its
        size) and, with `compare_with` (a tree that should equal the snapshot, such as the
        source right after the backup), file by file by SHA-256. The scratch copy is removed.
        """
        snapshots = self.snapshots(host=validate_hostname(host))
        if not snapshots:
            return DrillResult(False, "", 0, errors=(f"{host} has no snapshot to restore",))
        latest = snapshots[-1]
        scratch_root = self.config.scratch_directory
        if scratch_root is not None:
            scratch_root.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix="infrawg-drill-", dir=scratch_root))
        try:
            restored = self.run(
                "restore", latest.id, "--target", str(scratch), "--verify", check=False
            )
            errors = tuple(
                line
                for line in restored.stderr.splitlines()
                if "error" in line.lower() or line.startswith("Fatal")
            )
            if restored.returncode != 0:
                return DrillResult(False, latest.id, 0, errors=errors or ("restore failed",))
            differences = self._against_listing(latest, scratch)
            files = sum(1 for p in scratch.rglob("*") if p.is_file() and not p.is_symlink())
            if compare_with is not None:
                if len(latest.paths) != 1:
                    raise Invalid("compare_with needs a snapshot of exactly one path.")
                inside = scratch / latest.paths[0].lstrip("/")
                differences += compare_trees(compare_with, inside)
            return DrillResult(
                not differences and not errors, latest.id, files, differences, errors
            )
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def _against_listing(self, snapshot: Snapshot, scratch: Path) -> tuple[str, ...]:
        entries: list[dict[str, Any]] = []

        def on_line(line: str) -> None:
            item = _json(line)
            if isinstance(item, dict) and item.get("struct_type") == "node":
                entries.append(item)

        self.run("ls", "--json", "--no-lock", snapshot.id, on_line=on_line)
        problems = []
        for item in entries:
            path = scratch / str(item["path"]).lstrip("/")
            if item.get("type") == "file":
                if not path.is_file():
                    problems.append(f"missing after restore: {item['path']}")
                elif path.stat().st_size != int(item.get("size", 0)):
                    problems.append(f"wrong size after restore: {item['path']}")
            elif item.get("type") == "dir" and not path.is_dir():
                problems.append(f"directory missing after restore: {item['path']}")
        return tuple(problems)


# -- helpers -------------------------------------------------------------------------------------


def compare_trees(expected: Path, actual: Path) -> tuple[str, ...]:
    """Differences between two file trees: missing, extra, and changed files (by SHA-256),
    and symlinks by target. Paths are given relative to the trees."""

    def index(root: Path) -> dict[str, str]:
        found: dict[str, str] = {}
        if not root.exists():
            return found
        for path in sorted(root.rglob("*")):
            rel = str(path.relative_to(root))
            if path.is_symlink():
                found[rel] = "link:" + os.readlink(path)
            elif path.is_file():
                found[rel] = "sha256:" + _sha256(path)
            elif path.is_dir():
                found[rel] = "dir"
        return found

    want, have = index(expected), index(actual)
    problems = [f"missing: {p}" for p in sorted(want.keys() - have.keys())]
    problems += [f"extra: {p}" for p in sorted(have.keys() - want.keys())]
    problems += [f"differs: {p}" for p in sorted(want.keys() & have.keys()) if want[p] != have[p]]
    return tuple(problems)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


_TIME = re.compile(r"^(\S+T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)?$")


def _parse_time(text: str) -> datetime:
    # restic writes nanoseconds (2026-12-02T06:09:20.077429205Z); Python takes microseconds.
    match = _TIME.match(text.strip())
    if match is None:
        raise ProviderError(f"restic gave a snapshot time that cannot be read: {text!r}")
    seconds, fraction, zone = match.groups()
    stamp = datetime.fromisoformat(f"{seconds}.{(fraction or '0')[:6].ljust(6, '0')}")
    offset = "+00:00" if zone in (None, "Z") else zone
    return stamp.replace(tzinfo=datetime.fromisoformat(f"2000-01-01T00:00:00{offset}").tzinfo)


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _last_lines(text: str, n: int) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return " / ".join(lines[-n:]) or "no output"
