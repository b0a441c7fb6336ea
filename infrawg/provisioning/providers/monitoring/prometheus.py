"""Talking to Prometheus over HTTP: reload, the targets it scrapes, and a cached status query
for pages that must never wait long for it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import requests

from infrawg.provisioning.base import ProviderError

__all__ = [
    "Health",
    "PrometheusStatus",
    "ServerStatus",
    "TargetStatus",
    "active_targets",
    "alerts",
    "reload",
]


def reload(base_url: str, timeout: float = 5.0) -> None:
    """POST /-/reload (Prometheus runs with --web.enable-lifecycle); ProviderError with
    Prometheus's own message when it refuses the configuration or is not reachable."""
    try:
        response = requests.post(f"{base_url.rstrip('/')}/-/reload", timeout=timeout)
    except requests.RequestException as exc:
        raise ProviderError(f"Prometheus at {base_url} could not be reloaded: {exc}") from exc
    if response.status_code == 403:
        raise ProviderError(
            f"Prometheus at {base_url} refuses reloads; start it with --web.enable-lifecycle."
        )
    if response.status_code != 200:
        raise ProviderError(
            f"Prometheus at {base_url} refused the reload ({response.status_code}): "
            f"{response.text.strip()[:500]}"
        )


def _api(base_url: str, path: str, timeout: float, **params: str) -> Any:
    try:
        response = requests.get(f"{base_url.rstrip('/')}{path}", params=params, timeout=timeout)
        body = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise ProviderError(f"Prometheus at {base_url} did not answer {path}: {exc}") from exc
    if body.get("status") != "success":
        raise ProviderError(f"Prometheus refused {path}: {body.get('error', response.text)}")
    return body["data"]


def active_targets(base_url: str, timeout: float = 5.0) -> list[dict[str, Any]]:
    """GET /api/v1/targets?state=active: what Prometheus scrapes, with health and labels."""
    data = _api(base_url, "/api/v1/targets", timeout, state="active")
    return list(data.get("activeTargets", []))


def alerts(base_url: str, timeout: float = 5.0) -> list[dict[str, Any]]:
    """GET /api/v1/alerts: pending and firing alerts with their labels."""
    return list(_api(base_url, "/api/v1/alerts", timeout).get("alerts", []))


# -- status for pages ------------------------------------------------------------------------


class Health(StrEnum):
    UP = "up"
    DOWN = "down"
    UNKNOWN = "unknown"

    @property
    def label(self) -> str:
        return {"up": "Up", "down": "Down", "unknown": "Unknown"}[self.value]


@dataclass(frozen=True)
class TargetStatus:
    """One watched endpoint as Prometheus last saw it (`up` or `probe_success`)."""

    job: str
    instance: str
    health: Health
    seen_at: datetime | None  # the sample's time: the last scrape or probe


@dataclass(frozen=True)
class ServerStatus:
    """A service's targets; `health` is down if any is down, unknown if Prometheus could not
    be asked (then `problem` says why) or knows none of them."""

    organisation: str
    service: str
    targets: tuple[TargetStatus, ...] = ()
    problem: str = ""
    fetched_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def health(self) -> Health:
        if self.problem or not self.targets:
            return Health.UNKNOWN
        if any(t.health is Health.DOWN for t in self.targets):
            return Health.DOWN
        if all(t.health is Health.UP for t in self.targets):
            return Health.UP
        return Health.UNKNOWN

    @property
    def last_probe(self) -> datetime | None:
        seen = [t.seen_at for t in self.targets if t.seen_at is not None]
        return max(seen) if seen else None


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


class PrometheusStatus:
    """The status of a service's servers from the Prometheus HTTP API, for its page.

    Each answer is cached for `ttl` seconds, and a failure for `failure_ttl`, so a page costs
    at most one short request per service per interval, and a Prometheus that is down or slow
    costs at most `timeout` seconds once, then nothing until `failure_ttl` passes: the page
    shows "unknown" instead of waiting. Thread-safe; one instance is shared by the workers'
    threads.
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 0.5,
        ttl: float = 30.0,
        failure_ttl: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.ttl = ttl
        self.failure_ttl = failure_ttl
        self._clock = clock
        self._cache: dict[tuple[str, str], tuple[float, ServerStatus]] = {}
        self._asking: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def status(self, organisation: str | int, service: str | int) -> ServerStatus:
        """The service's status, from the cache when fresh; never raises.

        While one thread asks Prometheus, the others get the last answer (even an expired
        one) instead of waiting for theirs; only a service never asked before waits, and at
        most `timeout`.
        """
        key = (str(organisation), str(service))
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None and (cached[0] > self._clock() or key in self._asking):
                return cached[1]
            self._asking.add(key)
        try:
            result = self._fetch(*key)
        finally:
            with self._lock:
                self._asking.discard(key)
        # A failure, or an answer naming no target yet (a server just written, not scraped
        # yet), is asked again after the short interval.
        ttl = self.failure_ttl if result.problem or not result.targets else self.ttl
        with self._lock:
            self._cache[key] = (self._clock() + ttl, result)
        return result

    def forget(self, organisation: str | int | None = None) -> None:
        """Drop cached answers (all, or one organisation's), e.g. after changing targets."""
        with self._lock:
            if organisation is None:
                self._cache.clear()
            else:
                for key in [k for k in self._cache if k[0] == str(organisation)]:
                    del self._cache[key]

    def _fetch(self, organisation: str, service: str) -> ServerStatus:
        selector = f'organisation="{_label(organisation)}",service="{_label(service)}"'
        # up for scraped jobs, probe_success for blackbox jobs (whose `up` is the exporter's),
        # and timestamp() of the same series for when each was last scraped or probed.
        query = (
            f'up{{{selector},job="node"}} or probe_success{{{selector}}}'
            f' or label_replace(timestamp(up{{{selector},job="node"}} or '
            f'probe_success{{{selector}}}), "infrawg_seen", "1", "", "")'
        )
        try:
            data = _api(self.base_url, "/api/v1/query", self.timeout, query=query)
        except ProviderError as exc:
            return ServerStatus(organisation, service, problem=str(exc))
        values: dict[tuple[str, str], float] = {}
        seen: dict[tuple[str, str], float] = {}
        for sample in data.get("result", []):
            metric = sample.get("metric", {})
            key = (metric.get("job", ""), metric.get("instance", ""))
            try:
                number = float(sample["value"][1])
            except (KeyError, IndexError, TypeError, ValueError):
                continue
            if metric.get("infrawg_seen") == "1":
                seen[key] = number
            else:
                values[key] = number
        targets = tuple(
            TargetStatus(
                job=job,
                instance=instance,
                health=Health.UP if value == 1 else Health.DOWN,
                seen_at=datetime.fromtimestamp(seen[(job, instance)], UTC)
                if (job, instance) in seen
                else None,
            )
            for (job, instance), value in sorted(values.items())
        )
        return ServerStatus(organisation, service, targets)
