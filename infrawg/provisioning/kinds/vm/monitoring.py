"""Every server is monitored (R13): the VM kind's side of the monitoring provider.

Which Prometheus: the `monitoring` provider instance of INFRAWG_PROVIDERS (the only one, or
the one `INFRAWG_VM_MONITORING`'s `provider` names). None configured: nothing is written and
the server page says monitoring is not configured.

What is written, when: whenever a VM service enters or leaves a monitored state (active or
drifted: the server runs), the kind enqueues `vm.monitoring` for its organisation (from the
`service_state_changed` signal, in the same transaction as the state change). The job
rewrites that organisation's node-exporter and SSH-probe targets from what the site holds
(each running service's kind says what is watched of it, `Kind.monitoring_targets`: a
server's node exporter and SSH port, a certificate's hosts by an HTTPS probe; a TLS
certificate becoming active enqueues the job too), through the provider's plan and apply:
file_sd files per organisation and job, checked by promtool, Prometheus reloaded when its
rules or main configuration changed (target files need no reload: file_sd reads them). A
suspended, failed or decommissioned service's targets are removed. When the monitoring cannot be
written (promtool missing, the directory unwritable) the job fails and is retried with the
job runner's backoff; a job that gave up is on staff's job list.

`INFRAWG_VM_MONITORING` (JSON, all optional): `provider` (the instance's name), `address`
(how Prometheus reaches a server: a template with `{hostname}`, `{fqdn}`, `{service_id}`;
default `{fqdn}`, the hostname within INFRAWG_VM_DOMAIN), `node_port` (9100), `ssh_port` (22),
`status_timeout` (seconds the page waits for Prometheus, 0.5).

The page's panel reads `up` and the last probe through one cached `PrometheusStatus` per app:
a Prometheus that is down or slow costs a page at most `status_timeout` once, then the page
says "monitoring unavailable" until the failure's short cache expires.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask import Flask, current_app
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from infrawg import signals
from infrawg.errors import DomainError, Invalid
from infrawg.extensions import db
from infrawg.jobs import JobContext, enqueue, job
from infrawg.provisioning import kinds
from infrawg.provisioning.base import ProviderError
from infrawg.provisioning.kinds.vm import catalogue
from infrawg.provisioning.models import Service, ServiceState, ServiceType
from infrawg.provisioning.providers.monitoring import (
    MonitoringProvider,
    MonitoringSpec,
    PrometheusStatus,
    ServerStatus,
    Target,
    server_targets,
)
from infrawg.provisioning.registry import build_config
from infrawg.provisioning.service import configured_providers

MONITOR_JOB = "vm.monitoring"
CHECK_JOB = "vm.monitoring_check"
# A server in these states never ran: its organisation has no targets of it to remove.
NEVER_RAN = (ServiceState.REQUESTED, ServiceState.DECLINED)
# The states in which a server runs, and so is watched.
MONITORED = (ServiceState.ACTIVE, ServiceState.DRIFTED)
STATUS_KEY = "infrawg_vm_monitoring_status"
# What the page calls each scrape job.
JOB_LABELS = {"node": "Node exporter (up)", "blackbox_ssh": "SSH port probe"}
_status_lock = threading.Lock()


@dataclass(frozen=True)
class VmMonitoringSettings:
    """INFRAWG_VM_MONITORING."""

    provider: str = ""
    address: str = "{fqdn}"
    node_port: int = 9100
    ssh_port: int = 22
    status_timeout: float = 0.5


def settings() -> VmMonitoringSettings:
    raw = catalogue.setting("VM_MONITORING") or {}
    if not isinstance(raw, Mapping):
        raise Invalid("INFRAWG_VM_MONITORING must be a JSON object.")
    try:
        return build_config(VmMonitoringSettings, raw)
    except Invalid as exc:
        raise Invalid(f"INFRAWG_VM_MONITORING: {exc.message}") from exc


def instance_name() -> str | None:
    """The INFRAWG_PROVIDERS instance that monitors the servers; None when none is."""
    chosen = settings().provider
    configured = configured_providers()
    if chosen:
        entry = configured.get(chosen)
        if entry is None or entry.kind != "monitoring":
            raise Invalid(
                f"INFRAWG_VM_MONITORING names the provider {chosen!r}, which is not a "
                "monitoring provider of INFRAWG_PROVIDERS."
            )
        return chosen
    names = sorted(name for name, entry in configured.items() if entry.kind == "monitoring")
    if len(names) > 1:
        raise Invalid(
            f"INFRAWG_PROVIDERS has several monitoring providers ({', '.join(names)}): name "
            "the one that watches the servers in INFRAWG_VM_MONITORING's provider."
        )
    return names[0] if names else None


def provider() -> MonitoringProvider | None:
    name = instance_name()
    if name is None:
        return None
    built = configured_providers()[name].build()
    assert isinstance(built, MonitoringProvider)
    return built


def address_of(service: Service, chosen: VmMonitoringSettings) -> str:
    domain = str(current_app.config.get("VM_DOMAIN") or "").strip(".")
    fqdn = f"{service.name}.{domain}" if domain else service.name
    try:
        return chosen.address.format(hostname=service.name, fqdn=fqdn, service_id=service.id)
    except (KeyError, IndexError, ValueError) as exc:
        raise Invalid(
            f"INFRAWG_VM_MONITORING's address {chosen.address!r} is not a template of "
            "{hostname}, {fqdn} and {service_id}."
        ) from exc


def targets_of(service: Service, chosen: VmMonitoringSettings | None = None) -> tuple[Target, ...]:
    """What watches the server: its node exporter and a probe of its SSH port."""
    chosen = chosen or settings()
    return server_targets(
        service.id,
        address_of(service, chosen),
        node_port=chosen.node_port,
        ssh_port=chosen.ssh_port,
    )


def watched_kinds() -> list[str]:
    """The kinds whose running services the monitoring watches (a server, a certificate)."""
    return [
        name
        for name, kind in kinds.available().items()
        if type(kind).monitoring_targets is not kinds.Kind.monitoring_targets
    ]


def monitored_services(organisation_id: int) -> list[Service]:
    return list(
        db.session.scalars(
            select(Service)
            .join(ServiceType, ServiceType.id == Service.service_type_id)
            .where(
                ServiceType.kind.in_(watched_kinds()),
                Service.organisation_id == organisation_id,
                Service.state.in_(MONITORED),
            )
            .options(selectinload(Service.service_type))
            .order_by(Service.id)
        )
    )


def desired_spec(organisation_id: int) -> MonitoringSpec:
    """The organisation's targets: what each running service's kind watches of it (every
    server's node exporter and SSH port, every certificate's hosts)."""
    targets = [
        target
        for service in monitored_services(organisation_id)
        for target in kinds.get(service.service_type.kind).monitoring_targets(service)
    ]
    return MonitoringSpec(str(organisation_id), tuple(targets))


@job(MONITOR_JOB, max_attempts=8)
def sync_monitoring(ctx: JobContext, organisation_id: int) -> None:
    """Write the organisation's server targets as the site holds them now (idempotent: a
    retry, or a second job for the same organisation, plans against what is on disk)."""
    monitoring = provider()
    if monitoring is None:
        ctx.log("no monitoring provider is configured (INFRAWG_PROVIDERS): nothing written")
        return
    _sync(ctx, monitoring, organisation_id)


@job(CHECK_JOB, max_attempts=3, every=timedelta(days=1))
def check_monitoring(ctx: JobContext) -> None:
    """Daily: every organisation that has or had a server gets its targets rewritten from
    what the site holds (a monitoring provider configured after the servers were made, a
    file removed by hand). One organisation's failure does not stop the others'; the job
    fails at the end, and is retried, when any did."""
    monitoring = provider()
    if monitoring is None:
        ctx.log("no monitoring provider is configured (INFRAWG_PROVIDERS): nothing written")
        return
    organisations = list(
        db.session.scalars(
            select(Service.organisation_id)
            .join(ServiceType, ServiceType.id == Service.service_type_id)
            .where(ServiceType.kind.in_(watched_kinds()), Service.state.not_in(NEVER_RAN))
            .distinct()
            .order_by(Service.organisation_id)
        )
    )
    failed = []
    for organisation_id in organisations:
        try:
            _sync(ctx, monitoring, organisation_id)
        except (ProviderError, OSError) as exc:
            ctx.log(f"organisation #{organisation_id}: not written: {exc}")
            failed.append(organisation_id)
    ctx.log(f"{len(organisations) - len(failed)} of {len(organisations)} organisation(s) in sync")
    if failed:
        raise ProviderError(f"the targets of {len(failed)} organisation(s) could not be written")


def _sync(ctx: JobContext, monitoring: MonitoringProvider, organisation_id: int) -> None:
    """Plan and apply one organisation's targets, as the site holds them now."""
    observed = monitoring.read(str(organisation_id))
    spec = desired_spec(organisation_id)
    plan = monitoring.plan(spec, observed)
    ctx.record_plan(plan.render())
    # No safety threshold: the targets follow the services' states, and each change of
    # state was reviewed or decided (a decommission's destroy plan, the chair's suspension);
    # an organisation suspended under R7 loses all its targets at once, as it should.
    result = monitoring.apply(plan, force=True)
    for line in result.log:
        ctx.log(line, staff_only=True)  # the monitoring host's paths and Prometheus's address
    if not result.applied:
        ctx.log("nothing to change: the targets are as the site holds them")
    for client in list(current_app.extensions.get(STATUS_KEY, {}).values()):
        client.forget(str(organisation_id))  # the page asks again about the new targets


def state_changed(
    sender: Any, service: Service, old: ServiceState, new: ServiceState, **_: Any
) -> None:
    """service_state_changed: a server or certificate that starts or stops running is
    (un)watched, by a job."""
    if (old in MONITORED) == (new in MONITORED):
        return
    service_type = db.session.get(ServiceType, service.service_type_id)
    if service_type is None or service_type.kind not in watched_kinds():
        return
    enqueue(MONITOR_JOB, subject=service, organisation_id=service.organisation_id)


def init_app(app: Flask) -> None:
    signals.connect(app, signals.service_state_changed, state_changed)


# -- the server page ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Watch:
    """What the page's monitoring panel shows: `state` is "not_configured", "not_monitored"
    (the server is not running), "unavailable" (Prometheus could not be asked) or "known";
    `status` is Prometheus's answer (only this service's series)."""

    state: str
    status: ServerStatus | None = None
    problem: str = ""


def _status_client(base_url: str, timeout: float) -> PrometheusStatus:
    """The app's one cached client for this Prometheus (shared by the workers' threads)."""
    with _status_lock:
        clients: dict[tuple[str, float], PrometheusStatus] = current_app.extensions.setdefault(
            STATUS_KEY, {}
        )
        client = clients.get((base_url, timeout))
        if client is None:
            client = clients[(base_url, timeout)] = PrometheusStatus(base_url, timeout=timeout)
        return client


def watch(service: Service) -> Watch:
    """The server's monitoring for its page; never raises and never waits long."""
    try:
        monitoring = provider()
        chosen = settings()
    except DomainError as exc:  # a bad INFRAWG_VM_MONITORING: said to staff, not a 500
        return Watch("unavailable", problem=exc.message)
    if monitoring is None:
        return Watch("not_configured")
    if service.state not in MONITORED:
        return Watch("not_monitored")
    url = monitoring.config.prometheus_url
    if not url:
        return Watch("unavailable", problem="the monitoring provider has no prometheus_url")
    status = _status_client(url, chosen.status_timeout).status(service.organisation_id, service.id)
    if status.problem:
        return Watch("unavailable", status, problem=status.problem)
    return Watch("known", status)
