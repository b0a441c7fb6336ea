"""The files Prometheus reads, rendered from typed data, and promtool's verdict on them.

Everything is written as JSON: file_sd target files must be JSON (or YAML) by their
extension, and the main config and rule files are YAML, of which JSON is a subset, so no
YAML library is needed and what we write is exactly what we rendered. Every file is written
to a temporary name and renamed, so Prometheus never reads half a file.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from infrawg.errors import Invalid
from infrawg.provisioning.base import ProviderError
from infrawg.provisioning.providers.monitoring.spec import (
    Job,
    MonitoringConfig,
    MonitoringSpec,
    Target,
)

__all__ = [
    "PromtoolRefused",
    "check_alertmanager_config",
    "check_config",
    "check_rules",
    "parse_targets_file",
    "render_alertmanager_config",
    "render_prometheus_config",
    "render_rules",
    "render_targets",
    "to_text",
    "write_atomically",
]

HEADER = "# Written by infrawg; changes here are overwritten.\n"


class PromtoolRefused(ProviderError):
    """promtool found the written configuration or rules invalid; the message is its own."""


# -- file_sd -------------------------------------------------------------------------------------


def render_targets(spec: MonitoringSpec, job: Job) -> list[dict[str, Any]]:
    """The file_sd groups of one organisation for one job: one group per target, since
    each carries its own service label."""
    return [
        {"targets": [t.address], "labels": t.labels(spec.organisation)} for t in spec.for_job(job)
    ]


def parse_targets_file(text: str, organisation: str) -> list[Target]:
    """Targets back from a file_sd file we wrote; ProviderError when it is not ours."""
    try:
        groups = json.loads(text)
        found = []
        for group in groups:
            labels = group["labels"]
            if labels.get("organisation") != organisation:
                raise ValueError(f"organisation label {labels.get('organisation')!r}")
            for address in group["targets"]:
                found.append(Target(labels["kind"], address, labels["service"]))
    except (ValueError, KeyError, TypeError, AttributeError, Invalid) as exc:
        raise ProviderError(f"not a target file written by infrawg: {exc}") from exc
    return found


# -- alert rules ---------------------------------------------------------------------------------


def render_rules(config: MonitoringConfig) -> dict[str, Any]:
    """The alert rules. Alerts keep the series' labels, so each carries the target's
    organisation, service and kind; `severity` says how loud it is."""
    return {
        "groups": [
            {
                "name": "infrawg",
                "rules": [
                    {
                        # Only the node job: `up == 0` on a blackbox job means the exporter is
                        # down, which is our problem, not the tenant's server.
                        "alert": "InstanceDown",
                        "expr": f'up{{job="{Job.NODE.value}"}} == 0',
                        "for": config.instance_down_for,
                        "labels": {"severity": "critical"},
                        "annotations": {
                            "summary": "{{ $labels.instance }} does not answer its node exporter",
                        },
                    },
                    {
                        "alert": "ProbeFailed",
                        "expr": 'probe_success{job=~"blackbox_.*"} == 0',
                        "for": config.probe_failed_for,
                        "labels": {"severity": "critical"},
                        "annotations": {
                            "summary": "{{ $labels.kind }} probe of {{ $labels.instance }} fails",
                        },
                    },
                    {
                        "alert": "CertificateExpiresSoon",
                        "expr": (
                            f"probe_ssl_earliest_cert_expiry - time() "
                            f"< {config.certificate_days} * 86400"
                        ),
                        "for": config.certificate_expiry_for,
                        "labels": {"severity": "warning"},
                        "annotations": {
                            "summary": (
                                "the certificate of {{ $labels.instance }} expires in "
                                f"less than {config.certificate_days} days"
                            ),
                        },
                    },
                ],
            }
        ]
    }


# -- the main configuration ------------------------------------------------------------------


def render_prometheus_config(config: MonitoringConfig) -> dict[str, Any]:
    """Prometheus's main configuration: one scrape job per `Job`, each fed by the file_sd
    files of every organisation; blackbox jobs relabelled to the exporter's /probe."""
    scrape_configs: list[dict[str, Any]] = []
    for job in Job:
        scrape: dict[str, Any] = {
            "job_name": job.value,
            "file_sd_configs": [
                {
                    "files": [str(config.targets_dir(job) / "*.json")],
                    "refresh_interval": config.refresh_interval,
                }
            ],
        }
        if job.module is not None:
            scrape["metrics_path"] = "/probe"
            scrape["params"] = {"module": [job.module]}
            scrape["relabel_configs"] = [
                {"source_labels": ["__address__"], "target_label": "__param_target"},
                {"source_labels": ["__param_target"], "target_label": "instance"},
                {"target_label": "__address__", "replacement": config.blackbox_address},
            ]
        scrape_configs.append(scrape)
    rendered: dict[str, Any] = {
        "global": {
            "scrape_interval": config.scrape_interval,
            "evaluation_interval": config.evaluation_interval,
            "scrape_timeout": _min_duration(config.scrape_interval, "10s"),
        },
        "rule_files": [str(config.rules_file)],
        "scrape_configs": scrape_configs,
    }
    if config.alertmanager_urls:
        rendered["alerting"] = {
            "alertmanagers": [_alertmanager(u) for u in config.alertmanager_urls]
        }
    return rendered


def _alertmanager(url: str) -> dict[str, Any]:
    scheme, _, rest = url.partition("://")
    if not rest:
        scheme, rest = "http", url
    host, _, path = rest.partition("/")
    entry: dict[str, Any] = {"scheme": scheme, "static_configs": [{"targets": [host]}]}
    if path:
        entry["path_prefix"] = "/" + path
    return entry


def _seconds(duration: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
    for unit in ("ms", "s", "m", "h", "d"):
        if duration.endswith(unit) and duration[: -len(unit)].isdigit():
            return int(duration[: -len(unit)]) * units[unit]
    raise ProviderError(f"{duration!r} is not a simple Prometheus duration such as 15s or 1m")


def _min_duration(a: str, b: str) -> str:
    # Prometheus refuses a scrape timeout longer than the scrape interval.
    return a if _seconds(a) <= _seconds(b) else b


def render_alertmanager_config(
    webhook_url: str,
    token: str | None = None,
    *,
    token_file: Path | None = None,
    group_wait: str = "30s",
    repeat_interval: str = "4h",
) -> dict[str, Any]:
    """An Alertmanager configuration that sends every alert, and its resolution, to the
    site's webhook with the token as a bearer credential (see `alerts.read_webhook`).

    Prefer `token_file` (a file only Alertmanager's user reads) over `token`, which puts
    the secret in the configuration itself.
    """
    if (token is None) == (token_file is None):
        raise ValueError("give the webhook token either as text or as a file, not both")
    authorization: dict[str, str] = {"type": "Bearer"}
    if token_file is not None:
        authorization["credentials_file"] = str(token_file)
    else:
        authorization["credentials"] = str(token)
    return {
        "route": {
            "receiver": "infrawg",
            "group_by": ["organisation", "service", "alertname"],
            "group_wait": group_wait,
            "group_interval": group_wait,
            "repeat_interval": repeat_interval,
        },
        "receivers": [
            {
                "name": "infrawg",
                "webhook_configs": [
                    {
                        "url": webhook_url,
                        "send_resolved": True,
                        "http_config": {"authorization": authorization},
                    }
                ],
            }
        ],
    }


# -- writing and checking --------------------------------------------------------------------


def to_text(data: Any, *, yaml: bool) -> str:
    """JSON text; with `yaml`, a YAML comment header (JSON is valid YAML)."""
    body = json.dumps(data, indent=2, sort_keys=False) + "\n"
    return HEADER + body if yaml else body


def write_atomically(
    path: Path, text: str, *, check: Callable[[Path], None] | None = None, mode: int = 0o644
) -> bool:
    """Write `text` to `path` by rename; False (and nothing touched) when it is already so.

    `check` is run on the temporary file before the rename (promtool, for instance): when it
    raises, the old file stays in place.
    """
    try:
        if path.read_text() == text:
            return False
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.chmod(tmp, mode)  # Prometheus runs as another user and must read it
        if check is not None:
            check(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


def _promtool(config: MonitoringConfig, *args: str) -> None:
    try:
        result = subprocess.run(  # noqa: S603 - configured binary, arguments are ours
            [config.promtool, "check", *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
    except FileNotFoundError as exc:
        raise ProviderError(
            f"promtool is not at {config.promtool}; install Debian's prometheus package "
            f"or set the provider's promtool setting."
        ) from exc
    if result.returncode != 0:
        output = (result.stderr + result.stdout).strip()
        problems = [
            line.strip()
            for line in output.splitlines()
            if line.strip() and not line.startswith(("Checking", "  SUCCESS"))
        ]
        raise PromtoolRefused(
            f"promtool check {args[0]} refused {args[-1]}: " + "; ".join(problems)[:2000]
        )


def check_rules(config: MonitoringConfig, path: Path) -> None:
    """`promtool check rules path`; PromtoolRefused with promtool's message when invalid."""
    _promtool(config, "rules", str(path))


def check_alertmanager_config(path: Path, amtool: str = "/usr/bin/amtool") -> None:
    """`amtool check-config path` (Debian's prometheus-alertmanager ships it);
    PromtoolRefused with amtool's message when invalid."""
    try:
        result = subprocess.run(  # noqa: S603 - configured binary, arguments are ours
            [amtool, "check-config", str(path)],
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
    except FileNotFoundError as exc:
        raise ProviderError(f"amtool is not at {amtool}; install prometheus-alertmanager.") from exc
    if result.returncode != 0:
        output = (result.stderr + result.stdout).strip()
        raise PromtoolRefused(f"amtool check-config refused {path}: {output[-2000:]}")


def check_config(config: MonitoringConfig, path: Path) -> None:
    """`promtool check config path` (which also checks the rule files and the file_sd files
    it names); PromtoolRefused with promtool's message when invalid."""
    _promtool(config, "config", str(path))
