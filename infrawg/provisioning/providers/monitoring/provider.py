"""The monitoring provider: an organisation's targets as Prometheus file_sd files.

It fits the Provider protocol as it is: the resource is one organisation's set of targets
(`ref` is its id), `read` parses the files back, `plan` is a pure diff of targets, `execute`
writes (by rename), lets promtool judge the result and reloads Prometheus when its rules or
configuration changed, and `verify` asks Prometheus itself (`/api/v1/targets`) whether it now
scrapes each target.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from infrawg.provisioning.base import (
    ApplyResult,
    Change,
    Check,
    Observed,
    Op,
    Plan,
    Provider,
    ProviderError,
)
from infrawg.provisioning.providers.monitoring import prometheus
from infrawg.provisioning.providers.monitoring.render import (
    check_config,
    check_rules,
    parse_targets_file,
    render_prometheus_config,
    render_rules,
    render_targets,
    to_text,
    write_atomically,
)
from infrawg.provisioning.providers.monitoring.spec import (
    Job,
    MonitoringConfig,
    MonitoringSpec,
    Target,
)

__all__ = ["MonitoringProvider", "diff_targets", "directory_lock", "install_base"]


def install_base(config: MonitoringConfig) -> list[str]:
    """Write the alert rules and Prometheus's main configuration when they differ from what
    is rendered now, each checked by promtool before it replaces the old one."""
    log = []
    for job in Job:
        config.targets_dir(job).mkdir(parents=True, exist_ok=True)
    rules = to_text(render_rules(config), yaml=True)
    if write_atomically(config.rules_file, rules, check=lambda p: check_rules(config, p)):
        log.append(f"wrote {config.rules_file}")
    main = to_text(render_prometheus_config(config), yaml=True)
    if write_atomically(config.config_file, main, check=lambda p: check_config(config, p)):
        log.append(f"wrote {config.config_file}")
    return log


@contextmanager
def directory_lock(config: MonitoringConfig) -> Iterator[None]:
    """Hold the directory's lock file: one writer at a time, across processes and threads.

    Writing an organisation's files, promtool's verdict on the whole directory and the
    rollback when it refuses belong together; a second writer in between would have its
    files judged, or rolled back, with ours.
    """
    config.directory.mkdir(parents=True, exist_ok=True)
    with (config.directory / ".lock").open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def diff_targets(desired: MonitoringSpec, current: MonitoringSpec | None) -> list[Change]:
    """Target-level diff: create, delete, and update when a target moves to another service."""
    have = current.items() if current is not None else {}
    want = desired.items()
    changes = []
    for path in sorted(want.keys() | have.keys()):
        old, new = have.get(path), want.get(path)
        if old == new:
            continue
        if old is None:
            changes.append(Change(Op.CREATE, path, None, new))
        elif new is None:
            changes.append(Change(Op.DELETE, path, old, None))
        else:
            changes.append(Change(Op.UPDATE, path, old, new))
    return changes


class MonitoringProvider(Provider[MonitoringSpec]):
    """Prometheus targets and alert rules on disk, for a Prometheus on this host."""

    kind = "monitoring"
    name = "monitoring"
    capabilities = frozenset({"node", "ssh_probe", "https_probe", "alert_rules"})
    Config = MonitoringConfig

    def __init__(self, config: MonitoringConfig) -> None:
        super().__init__(config)
        self.config: MonitoringConfig = config

    def __repr__(self) -> str:
        return f"<MonitoringProvider {self.config.directory}>"

    def validate(self, spec: MonitoringSpec) -> None:
        # The spec's own constructor refuses bad ids and addresses; nothing else can be wrong
        # before promtool sees the files.
        if not isinstance(spec, MonitoringSpec):
            raise TypeError(f"{spec!r} is not a MonitoringSpec")

    def read(self, ref: str) -> Observed[MonitoringSpec]:
        organisation = str(ref)
        targets: list[Target] = []
        files = []
        for job in Job:
            path = self.config.targets_file(organisation, job)
            try:
                text = path.read_text()
            except FileNotFoundError:
                continue
            files.append(str(path))
            try:
                targets += parse_targets_file(text, organisation)
            except ProviderError as exc:
                raise ProviderError(f"{path}: {exc}") from exc
        if not files:
            return Observed.of(organisation, None)
        return Observed.of(organisation, MonitoringSpec(organisation, tuple(targets)), files=files)

    def plan(
        self, spec: MonitoringSpec, observed: Observed[MonitoringSpec]
    ) -> Plan[MonitoringSpec]:
        warnings = []
        if not spec.for_job(Job.NODE) and spec.for_job(Job.BLACKBOX_SSH):
            warnings.append("a server is probed over SSH but has no node exporter target")
        return self.make_plan(spec, observed, diff_targets(spec, observed.state), warnings)

    def execute(self, plan: Plan[MonitoringSpec]) -> list[str]:
        with directory_lock(self.config):
            base = install_base(self.config)
            log = base + self._write(plan.spec)
        if base:
            # Rules and the main configuration take effect only on reload; target files
            # need none (file_sd reads them; see `reload`).
            log += self.reload()
        return log

    def _write(self, spec: MonitoringSpec) -> list[str]:
        log = []
        previous: dict[Path, str | None] = {}
        for job in Job:
            path = self.config.targets_file(spec.organisation, job)
            previous[path] = path.read_text() if path.exists() else None
            groups = render_targets(spec, job)
            if groups:
                if write_atomically(path, to_text(groups, yaml=False)):
                    log.append(f"wrote {path} ({len(groups)} targets)")
            elif path.exists():
                path.unlink()
                log.append(f"removed {path}")
        try:
            # Also reads the file_sd files the configuration names.
            check_config(self.config, self.config.config_file)
        except ProviderError:
            self._restore(previous)
            raise
        return log

    def verify(self, spec: MonitoringSpec) -> list[Check]:
        """Ask promtool about the files, then Prometheus whether it scrapes each target."""
        checks = []
        try:
            check_config(self.config, self.config.config_file)
            checks.append(Check("promtool check config", True, str(self.config.config_file)))
        except ProviderError as exc:
            checks.append(Check("promtool check config", False, str(exc)))
        if not self.config.prometheus_url:
            checks.append(Check("Prometheus scrapes the targets", False, "no prometheus_url"))
            return checks
        try:
            active = prometheus.active_targets(self.config.prometheus_url, self.config.timeout)
        except ProviderError as exc:
            checks.append(Check("Prometheus answers", False, str(exc)))
            return checks
        seen = {
            (t["labels"].get("job"), t["labels"].get("instance")): t
            for t in active
            if t.get("labels", {}).get("organisation") == spec.organisation
        }
        for target in spec.targets:
            found = seen.get((target.kind.job.value, target.address))
            if found is None:
                checks.append(Check(target.path, False, "not among Prometheus's active targets"))
                continue
            labels = found["labels"]
            ok = labels.get("service") == target.service
            detail = f"health {found.get('health', 'unknown')}"
            if found.get("lastError"):
                detail += f": {found['lastError']}"
            if not ok:
                detail = f"labelled service {labels.get('service')!r}; {detail}"
            checks.append(Check(target.path, ok, detail))
        return checks

    def destroy(self, ref: str) -> ApplyResult:
        """Stop watching the organisation: remove its target files (file_sd notices)."""
        organisation = str(ref)
        before = self.read(organisation)
        removed = []
        with directory_lock(self.config):
            for job in Job:
                path = self.config.targets_file(organisation, job)
                if path.exists():
                    path.unlink()
                    removed.append(path)
        log = [f"removed {p}" for p in removed]
        changes = tuple(
            Change(Op.DELETE, t.path, t, None)
            for t in (before.state.targets if before.state else ())
        )
        return ApplyResult(
            ref=organisation,
            applied=bool(removed),
            dry_run=False,
            changes=changes,
            log=tuple(log),
            fingerprint=self.read(organisation).fingerprint,
        )

    def install(self) -> list[str]:
        """Bring the rules and main configuration up to date and reload when they changed.

        For deployment and start-up commands (never in create_app): a changed setting such as
        `instance_down_for` changes no organisation's targets, so no plan would carry it.
        """
        with directory_lock(self.config):
            log = install_base(self.config)
        return log + self.reload() if log else log

    def reload(self) -> list[str]:
        """POST /-/reload, so new rules and configuration take effect.

        Target files need no reload: file_sd watches them (and re-reads them every
        `refresh_interval`), and Prometheus hands discovered changes to its scrapers about
        every 5 s either way, so a new target is scraped within ~5 s of being written, and a
        Prometheus that is briefly down does not fail a target change.
        """
        if not self.config.prometheus_url:
            return ["no prometheus_url: reload Prometheus to load the new rules"]
        prometheus.reload(self.config.prometheus_url, self.config.timeout)
        return [f"reloaded Prometheus at {self.config.prometheus_url}"]

    def _restore(self, previous: dict[Path, str | None]) -> None:
        for path, text in previous.items():
            if text is None:
                path.unlink(missing_ok=True)
            else:
                write_atomically(path, text)
