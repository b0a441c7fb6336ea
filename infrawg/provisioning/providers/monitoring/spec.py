"""What the monitoring provider is asked for: per organisation, the targets Prometheus watches.

R13: every server is monitored. A VM gets a node exporter target and a blackbox probe of its
SSH port; every TLS certificate gets a blackbox HTTPS probe of each of its hosts (which also
yields the certificate's expiry). Each target carries the labels `organisation`, `service`
and `kind`, so an alert names the service it concerns and the incident lands on it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlsplit

from infrawg.errors import Invalid
from infrawg.provisioning.base import Spec

__all__ = [
    "Job",
    "MonitoringConfig",
    "MonitoringSpec",
    "Target",
    "TargetKind",
    "certificate_targets",
    "server_targets",
]

# Organisation and service ids end up in file names and label values: keep them plain.
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
_HOST_PORT = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):([0-9]{1,5})$")


class TargetKind(StrEnum):
    """What is watched, and how."""

    NODE = "node"  # a node exporter on the server, host:port
    SSH = "ssh"  # a blackbox probe that the SSH port answers with a banner, host:port
    HTTPS = "https"  # a blackbox HTTPS probe of a certificate's host, a URL

    @property
    def job(self) -> Job:
        return _JOB_OF[self]


class Job(StrEnum):
    """Prometheus scrape jobs; one file_sd file per organisation and job."""

    NODE = "node"
    BLACKBOX_SSH = "blackbox_ssh"
    BLACKBOX_HTTPS = "blackbox_https"

    @property
    def module(self) -> str | None:
        """The blackbox exporter module that probes this job's targets (None: scraped)."""
        return {Job.NODE: None, Job.BLACKBOX_SSH: "ssh_banner", Job.BLACKBOX_HTTPS: "http_2xx"}[
            self
        ]


_JOB_OF = {
    TargetKind.NODE: Job.NODE,
    TargetKind.SSH: Job.BLACKBOX_SSH,
    TargetKind.HTTPS: Job.BLACKBOX_HTTPS,
}


@dataclass(frozen=True, order=True)
class Target:
    """One watched endpoint of one service: `host:port` (node, ssh) or an https URL."""

    kind: TargetKind
    address: str
    service: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", TargetKind(self.kind))
        object.__setattr__(self, "service", str(self.service))
        if not _ID.match(self.service):
            raise Invalid(f"The service id {self.service!r} is not a plain id.")
        if self.kind is TargetKind.HTTPS:
            parts = urlsplit(self.address)
            if parts.scheme != "https" or not parts.hostname:
                raise Invalid(f"An HTTPS probe needs an https:// URL, not {self.address!r}.")
        else:
            match = _HOST_PORT.match(self.address)
            if match is None or not 0 < int(match.group(2)) < 65536:
                raise Invalid(
                    f"A {self.kind.value} target is host:port (e.g. vm1.example.org:9100), "
                    f"not {self.address!r}."
                )

    @property
    def path(self) -> str:
        return f"{self.kind.value} {self.address}"

    def labels(self, organisation: str) -> dict[str, str]:
        return {"organisation": organisation, "service": self.service, "kind": self.kind.value}

    def __str__(self) -> str:
        # What a plan shows under the target's path.
        return f"service {self.service}"


@dataclass(frozen=True)
class MonitoringSpec(Spec):
    """The targets of one organisation. Kept sorted, so equal specs compare equal."""

    kind: ClassVar[str] = "monitoring"

    organisation: str
    targets: tuple[Target, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "organisation", str(self.organisation))
        if not _ID.match(self.organisation):
            raise Invalid(f"The organisation id {self.organisation!r} is not a plain id.")
        paths = [t.path for t in self.targets]
        if len(paths) != len(set(paths)):
            dupes = sorted({p for p in paths if paths.count(p) > 1})
            raise Invalid(f"Each target may appear once; repeated: {', '.join(dupes)}")
        object.__setattr__(self, "targets", tuple(sorted(self.targets)))

    @property
    def ref(self) -> str:
        return self.organisation

    def items(self) -> dict[str, Target]:
        return {t.path: t for t in self.targets}

    def for_job(self, job: Job) -> tuple[Target, ...]:
        return tuple(t for t in self.targets if t.kind.job is job)


def _host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"


def server_targets(
    service: str | int, host: str, *, node_port: int = 9100, ssh_port: int = 22
) -> tuple[Target, Target]:
    """What a VM is watched by (R13): its node exporter and a probe of its SSH port."""
    return (
        Target(TargetKind.NODE, _host_port(host, node_port), str(service)),
        Target(TargetKind.SSH, _host_port(host, ssh_port), str(service)),
    )


def certificate_targets(
    service: str | int, hosts: tuple[str, ...] | list[str], *, port: int = 443
) -> tuple[Target, ...]:
    """What a TLS certificate is watched by: an HTTPS probe of each of its hosts (wildcard
    names cannot be probed and are left out)."""
    suffix = "" if port == 443 else f":{port}"
    return tuple(
        Target(TargetKind.HTTPS, f"https://{host.rstrip('.')}{suffix}/", str(service))
        for host in hosts
        if not host.startswith("*")
    )


@dataclass(frozen=True)
class MonitoringConfig:
    """Where the files go and how the Prometheus that reads them is reached.

    `directory` holds `prometheus.yml` (start Prometheus with `--config.file` pointing at it,
    and `--web.enable-lifecycle` so the provider can reload it), `rules/` and `targets/<job>/`.
    Durations are Prometheus durations ("15s", "1m"). `alertmanager_urls` empty means no
    `alerting` section: Prometheus only speaks the Alertmanager API, so alerts reach the
    site's webhook through an Alertmanager (see `render_alertmanager_config`).
    """

    directory: Path
    prometheus_url: str = ""  # e.g. http://127.0.0.1:9090; empty: no reload, no verify
    blackbox_address: str = "127.0.0.1:9115"
    alertmanager_urls: tuple[str, ...] = ()
    promtool: str = "/usr/bin/promtool"
    scrape_interval: str = "15s"
    evaluation_interval: str = "15s"
    refresh_interval: str = "5s"
    instance_down_for: str = "1m"
    probe_failed_for: str = "1m"
    certificate_expiry_for: str = "10m"
    certificate_days: int = 14
    timeout: float = 2.0  # seconds, for reload and verify (page status has its own)

    @property
    def config_file(self) -> Path:
        return self.directory / "prometheus.yml"

    @property
    def rules_file(self) -> Path:
        return self.directory / "rules" / "infrawg.rules.yml"

    def targets_dir(self, job: Job) -> Path:
        return self.directory / "targets" / job.value

    def targets_file(self, organisation: str, job: Job) -> Path:
        return self.targets_dir(job) / f"{organisation}.json"
