"""The `cookbook_dir` provider: publishes an approved cookbook version into a git repository.

The repository is the directory the operators' Chef reads (a chef-repo that their Chef Infra
Server is uploaded from, or that `chef-client --local-mode` uses as its cookbook path):
`<directory>/<subdirectory>/<cookbook>/`. Each published version is one commit, made with a
fixed identity, no hooks, no signing and no network, whose message names the version and the
staff member who approved it (`Version:` and `Approved-by:` trailers, which `read` takes back).
Converging runs in the operators' Chef, never here.

A version that was not approved is refused here too (`validate` and `execute`), but the rule
itself belongs to the service layer (R14: only an approved version can be published; the app
kind will check the approval record and who made it before it builds a `CookbookRelease`).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from infrawg.errors import Conflict, Invalid
from infrawg.provisioning.base import (
    ApplyResult,
    Change,
    Check,
    Observed,
    Op,
    Plan,
    Provider,
    ProviderError,
    Spec,
    StalePlan,
)
from infrawg.provisioning.providers.cookbook.spec import COOKBOOK_NAME, VERSION

__all__ = ["Approval", "CookbookDirConfig", "CookbookDirProvider", "CookbookRelease", "publish"]

_TRAILER = re.compile(r"^(Version|Approved-by): (.+)$", re.M)
_METADATA_VERSION = re.compile(r"^version '([^']*)'$", re.M)
_METADATA_NAME = re.compile(r"^name '([^']*)'$", re.M)


@dataclass(frozen=True)
class Approval:
    """Staff's decision on one version (R14): approved or not, and by whom."""

    approved: bool
    by: str
    comment: str = ""


@dataclass(frozen=True)
class CookbookRelease(Spec):
    """One cookbook version as it is to be published: its files and the approval it carries."""

    kind: ClassVar[str] = "app"

    cookbook: str
    version: str
    files: tuple[tuple[str, str], ...]
    approval: Approval

    def __post_init__(self) -> None:
        object.__setattr__(self, "files", tuple(sorted(dict(self.files).items())))

    @classmethod
    def of(
        cls, cookbook: str, version: str, files: Mapping[str, str], approval: Approval
    ) -> CookbookRelease:
        return cls(cookbook, version, tuple(files.items()), approval)

    @property
    def ref(self) -> str:
        return self.cookbook

    def items(self) -> dict[str, str]:
        return dict(self.files)


@dataclass(frozen=True)
class CookbookDirConfig:
    """The repository and the identity its commits are made with."""

    directory: Path
    subdirectory: str = "cookbooks"
    git: str = "/usr/bin/git"
    author_name: str = "infrawg"
    author_email: str = "infrawg@localhost"
    timeout: float = 60.0


def _digest(text: str) -> str:
    return f"{text.count(chr(10))} lines, sha256 {hashlib.sha256(text.encode()).hexdigest()[:12]}"


class CookbookDirProvider(Provider[CookbookRelease]):
    """Approved cookbook versions as commits in a git repository directory."""

    kind = "app"
    name = "cookbook_dir"
    Config = CookbookDirConfig

    def __init__(self, config: CookbookDirConfig) -> None:
        super().__init__(config)
        self.config: CookbookDirConfig = config
        self.root = Path(config.directory)

    def __repr__(self) -> str:
        return f"<CookbookDirProvider {self.root}>"

    # -- git -------------------------------------------------------------------------------

    def _git(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        c = self.config
        env = {
            "PATH": "/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "HOME": str(self.root),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": "/dev/null",
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_AUTHOR_NAME": c.author_name,
            "GIT_AUTHOR_EMAIL": c.author_email,
            "GIT_COMMITTER_NAME": c.author_name,
            "GIT_COMMITTER_EMAIL": c.author_email,
        }
        # No hooks and no signing: a commit here runs nothing of the repository's own.
        base = [c.git, "-c", "core.hooksPath=/dev/null", "-c", "commit.gpgsign=false"]
        try:
            done = subprocess.run(  # noqa: S603 - fixed binary, our arguments
                [*base, *args],
                cwd=self.root,
                capture_output=True,
                text=True,
                env=env,
                timeout=c.timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise ProviderError(f"git {args[0]} ran longer than {c.timeout:.0f} s") from exc
        except FileNotFoundError as exc:
            raise ProviderError(f"{c.git} is not installed") from exc
        if check and done.returncode != 0:
            raise ProviderError(f"git {args[0]} failed: {done.stderr.strip()[-500:]}")
        return done

    def _is_repository(self) -> bool:
        return (self.root / ".git").exists()

    def _has_head(self) -> bool:
        if not self._is_repository():
            return False
        return self._git("rev-parse", "--verify", "-q", "HEAD", check=False).returncode == 0

    def relative(self, cookbook: str) -> str:
        return f"{self.config.subdirectory}/{cookbook}" if self.config.subdirectory else cookbook

    def _trailers(self, cookbook: str) -> dict[str, str]:
        if not self._has_head():
            return {}
        message = self._git("log", "-1", "--format=%B", "--", self.relative(cookbook)).stdout
        return {m.group(1): m.group(2).strip() for m in _TRAILER.finditer(message)}

    # -- interface ---------------------------------------------------------------------------

    def validate(self, spec: CookbookRelease) -> None:
        if not COOKBOOK_NAME.match(spec.cookbook):
            raise Invalid(f"{spec.cookbook!r} is not a cookbook name.")
        if not VERSION.match(spec.version):
            raise Invalid(f"{spec.version!r} is not a cookbook version (x.y.z).")
        files = spec.items()
        for path in files:
            parts = path.split("/")
            if path.startswith("/") or any(p in ("", ".", "..", ".git") for p in parts):
                raise Invalid(f"{path!r} is not a path inside the cookbook.")
        metadata = files.get("metadata.rb", "")
        if _METADATA_NAME.findall(metadata) != [spec.cookbook]:
            raise Invalid(f"metadata.rb does not name the cookbook {spec.cookbook}.")
        if _METADATA_VERSION.findall(metadata) != [spec.version]:
            raise Invalid(f"metadata.rb does not say version {spec.version}.")
        _refuse_unapproved(spec)

    def _path(self, cookbook: str) -> Path:
        return self.root / self.relative(cookbook)

    def read(self, ref: str) -> Observed[CookbookRelease]:
        directory = self._path(ref)
        if not directory.is_dir():
            return Observed.of(ref, None)
        files = {
            p.relative_to(directory).as_posix(): p.read_text(encoding="utf-8")
            for p in sorted(directory.rglob("*"))
            if p.is_file()
        }
        trailers = self._trailers(ref)
        approval = Approval(approved="Approved-by" in trailers, by=trailers.get("Approved-by", ""))
        version = (_METADATA_VERSION.findall(files.get("metadata.rb", "")) or [""])[0]
        release = CookbookRelease.of(ref, version, files, approval)
        return Observed.of(ref, release, commit_version=trailers.get("Version", ""))

    def plan(
        self, spec: CookbookRelease, observed: Observed[CookbookRelease]
    ) -> Plan[CookbookRelease]:
        have = observed.state.items() if observed.state is not None else {}
        want = spec.items()
        changes = []
        for path in sorted(have.keys() | want.keys()):
            old, new = have.get(path), want.get(path)
            if old == new:
                continue
            before = _digest(old) if old is not None else None
            after = _digest(new) if new is not None else None
            op = Op.CREATE if old is None else Op.DELETE if new is None else Op.UPDATE
            changes.append(Change(op, path, before, after))
        return self.make_plan(spec, observed, changes)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        # One publisher at a time per repository (git's own index.lock would fail the second),
        # held on the directory itself so nothing extra appears in the working tree.
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def execute(self, plan: Plan[CookbookRelease]) -> list[str]:
        _refuse_unapproved(plan.spec)
        with self._locked():
            # apply_plan compared fingerprints before the lock; another publisher may have
            # committed since, so look again while holding it.
            current = self.read(plan.ref)
            if current.fingerprint != plan.fingerprint:
                if current.state is not None and current.state.items() == plan.spec.items():
                    return [f"{plan.ref} {plan.spec.version} is already published"]
                raise StalePlan(f"{plan.ref} was published by someone else meanwhile; plan again.")
            return self._write_and_commit(plan)

    def _write_and_commit(self, plan: Plan[CookbookRelease]) -> list[str]:
        spec = plan.spec
        log = []
        if not self._is_repository():
            self.root.mkdir(parents=True, exist_ok=True)
            self._git("init", "-q", "-b", "main")
            log.append(f"initialised a git repository in {self.root}")
        directory = self._path(spec.cookbook)
        want = spec.items()
        if directory.is_dir():
            for existing in sorted(directory.rglob("*"), reverse=True):
                relative = existing.relative_to(directory).as_posix()
                if existing.is_file() and relative not in want:
                    existing.unlink()
                elif existing.is_dir() and not any(existing.iterdir()):
                    existing.rmdir()
        for path, text in want.items():
            target = directory / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        relative = self.relative(spec.cookbook)
        self._git("add", "-A", "--", relative)
        if self._git("diff", "--cached", "--quiet", "--", relative, check=False).returncode == 0:
            return [*log, f"{spec.cookbook} {spec.version} is already published"]
        by = spec.approval.by
        message = (
            f"{spec.cookbook} {spec.version}, approved by {by}\n\n"
            f"Publish version {spec.version} of the cookbook {spec.cookbook}, approved by {by}.\n\n"
            f"Version: {spec.version}\nApproved-by: {by}\n"
        )
        self._git("commit", "-q", "-m", message, "--", relative)
        commit = self._git("rev-parse", "HEAD").stdout.strip()
        return [*log, f"committed {spec.cookbook} {spec.version} as {commit[:12]} in {self.root}"]

    def verify(self, spec: CookbookRelease) -> list[Check]:
        """Look through git's objects, not the working tree `read` uses: HEAD holds exactly
        the release's files, its last commit names the version and the approver, and nothing
        in the cookbook's directory is uncommitted."""
        relative = self.relative(spec.cookbook)
        if not self._has_head():
            return [Check("committed", False, f"{self.root} has no commits")]
        listed = self._git("ls-tree", "-r", "--name-only", "HEAD", "--", relative).stdout
        in_head = {p.removeprefix(relative + "/") for p in listed.splitlines()}
        want = spec.items()
        checks = [
            Check(
                "committed files",
                in_head == set(want),
                f"extra {sorted(in_head - set(want))}, missing {sorted(set(want) - in_head)}"
                if in_head != set(want)
                else f"{len(want)} files",
            )
        ]
        for path in sorted(want.keys() & in_head):
            shown = self._git("cat-file", "blob", f"HEAD:{relative}/{path}").stdout
            same = shown == want[path]
            checks.append(Check(path, same, "" if same else "differs from the release"))
        trailers = self._trailers(spec.cookbook)
        seen = f"Version {trailers.get('Version')!r}, Approved-by {trailers.get('Approved-by')!r}"
        checks.append(
            Check(
                "commit names version and approver",
                trailers.get("Version") == spec.version
                and trailers.get("Approved-by") == spec.approval.by,
                seen,
            )
        )
        dirty = self._git("status", "--porcelain", "--", relative).stdout.strip()
        checks.append(Check("working tree clean", not dirty, dirty[:500]))
        return checks

    def destroy(self, ref: str) -> ApplyResult:
        directory = self._path(ref)
        if not directory.exists():
            return ApplyResult(ref, applied=False, dry_run=False, changes=())
        with self._locked():
            return self._remove(ref, directory)

    def _remove(self, ref: str, directory: Path) -> ApplyResult:
        shutil.rmtree(directory)
        relative = self.relative(ref)
        log = [f"removed {directory}"]
        if self._has_head():
            self._git("add", "-A", "--", relative)
            if self._git("diff", "--cached", "--quiet", "--", relative, check=False).returncode:
                self._git("commit", "-q", "-m", f"Remove the cookbook {ref}", "--", relative)
                log.append(f"committed the removal of {ref}")
        return ApplyResult(ref, applied=True, dry_run=False, changes=(), log=tuple(log))


def _refuse_unapproved(spec: CookbookRelease) -> None:
    # R14: only an approved version can be published. The service layer enforces who may
    # approve; this is the provider refusing anything else it is handed.
    by = spec.approval.by.strip()
    if not spec.approval.approved or not by:
        raise Conflict(
            f"Version {spec.version} of {spec.cookbook} has not been approved by staff; "
            "only an approved version can be published."
        )
    if any(ord(ch) < 32 for ch in by) or len(by) > 200:
        raise Invalid("The approver's name must be one line of text.")


def publish(
    provider: CookbookDirProvider, release: CookbookRelease, *, force: bool = False
) -> ApplyResult:
    """Validate, plan and apply one release through the framework's safety gate."""
    return provider.apply(provider.plan_for(release), force=force)
