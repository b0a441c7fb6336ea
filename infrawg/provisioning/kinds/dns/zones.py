"""Hosted DNS zones (R11): records edited as rows, the plan reviewed before it is applied,
DNSSEC on request, the DS and NS records the tenant sets, and the delegation check."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from typing import Any

import dns.exception
import dns.name
import dns.resolver
from flask import current_app
from sqlalchemy import select

from infrawg import audit, policy
from infrawg.actions import Action
from infrawg.errors import Conflict, Invalid, NotFound
from infrawg.extensions import db
from infrawg.jobs import JobContext, Pending, enqueue, job
from infrawg.jobs import service as jobs
from infrawg.jobs.models import Job, JobState
from infrawg.membership.models import Person
from infrawg.policy import Permission
from infrawg.provisioning import applying
from infrawg.provisioning.base import Plan, Provider, ProviderError
from infrawg.provisioning.kinds.dns.models import DnsRecord, DnsZone, zone_of
from infrawg.provisioning.kinds.dns.names import (
    SERVER_OWNED_TYPES,
    DelegationResult,
    absolute_name,
    delegation_check,
    parse_rrset,
)
from infrawg.provisioning.kinds.dns.spec import RRset, ZoneSpec
from infrawg.provisioning.models import Service, ServiceState
from infrawg.provisioning.providers._dnscommon import validate_zone
from infrawg.timeutil import utcnow

# A configured provider instance by name (service.provider_for). Passed in, not imported:
# the catalogue (service) calls into this module, never the other way round.
ProviderLookup = Callable[[str], Provider[Any]]

# Zones that are asked for or hosted (a declined or decommissioned one frees the name).
HOLDS_NAME = (
    ServiceState.REQUESTED,
    ServiceState.APPROVED,
    ServiceState.PROVISIONING,
    ServiceState.ACTIVE,
    ServiceState.FAILED,
    ServiceState.SUSPENDED,
)


def parameters(params: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """Check a DNS request's parameters: the zone name (free to host) and DNSSEC wanted."""
    zone = absolute_name(str(params.get("zone") or ""))
    if len(dns.name.from_text(zone).labels) < 3:
        raise Invalid(f"{zone} is a top-level domain; ask for a zone under one (example.org).")
    taken = db.session.scalar(
        select(DnsZone.id)
        .join(Service, Service.id == DnsZone.service_id)
        .where(DnsZone.name == zone, Service.state.in_(HOLDS_NAME))
    )
    if taken:
        raise Conflict(f"{zone} is already hosted here or asked for.")
    return zone, {"zone": zone, "dnssec": bool(params.get("dnssec"))}


def nameservers() -> list[str]:
    """The apex NS of zones this site creates (INFRAWG_DNS_NAMESERVERS)."""
    raw = current_app.config.get("DNS_NAMESERVERS") or ""
    return [absolute_name(n) for n in str(raw).split(",") if n.strip()]


def create_zone(service: Service, capabilities: frozenset[str]) -> DnsZone:
    """The zone row of a new DNS request, on a provider with ``capabilities``. A provider
    that creates zones gets the site's name servers as apex NS; on one that cannot
    (RFC 2136), the first job takes in what the server serves."""
    zone = DnsZone(
        service_id=service.id, name=service.name, dnssec=bool(service.parameters.get("dnssec"))
    )
    db.session.add(zone)
    db.session.flush()
    if "zone_create" in capabilities:
        ns = parse_rrset("@", "NS", 3600, nameservers(), zone.name)
        db.session.add(_record_row(zone, ns))
    return zone


def _record_row(zone: DnsZone, rrset: RRset) -> DnsRecord:
    return DnsRecord(
        zone_id=zone.id,
        name=rrset.name,
        rdtype=rrset.rdtype,
        ttl=rrset.ttl,
        values=list(rrset.values),
    )


def _rrset(record: DnsRecord) -> RRset:
    return RRset(record.name, record.rdtype, record.ttl, tuple(record.values))


def spec_of(zone: DnsZone, records: list[DnsRecord] | None = None) -> ZoneSpec:
    """The zone as the site holds it: the desired state handed to the provider."""
    rows = zone.records if records is None else records
    return ZoneSpec(zone.name, tuple(_rrset(r) for r in rows), dnssec=zone.dnssec)


def records_of(zone: DnsZone) -> list[DnsRecord]:
    return list(
        db.session.scalars(
            select(DnsRecord)
            .where(DnsRecord.zone_id == zone.id)
            .order_by(DnsRecord.name, DnsRecord.rdtype)
        )
    )


def apex_ns(zone: DnsZone, records: list[DnsRecord]) -> list[str]:
    """R11: the NS records the tenant sets at their registrar."""
    for record in records:
        if record.name == zone.name and record.rdtype == "NS":
            return list(record.values)
    return []


def ds_to_set(zone: DnsZone) -> list[str]:
    """R11: the SHA-256 DS records for the registrar, once the zone is signed."""
    return list(zone.published_ds or []) if zone.dnssec else []


# -- editing records (R11) -----------------------------------------------------------------------


def _editable(actor: Person, service: Service) -> DnsZone:
    policy.require(actor, Permission.SERVICE_MANAGE, service)
    zone = zone_of(service)
    if zone is None:
        raise NotFound("This service has no DNS zone.")
    # A zone's records can be edited and applied once it exists on its provider.
    if not service.state.on_provider:
        raise Conflict(
            f"Records can be edited once the zone is provisioned; it is "
            f"{service.state.label.lower()}."
        )
    return zone


def _values(text: str | list[str]) -> list[str]:
    lines = text if isinstance(text, list) else str(text or "").splitlines()
    return [line.strip() for line in lines if line.strip()]


def _refuse_apex_ns(zone: DnsZone, rrset_name: str, rdtype: str) -> None:
    if rrset_name == zone.name and rdtype == "NS":
        # The parent points at these (R11); changing them here would break the delegation.
        raise Invalid(
            "The apex NS records are the site's name servers, the ones your registrar points "
            "at; they cannot be edited here. Ask staff if they need to change."
        )


def _check_whole_zone(zone: DnsZone, records: list[DnsRecord]) -> None:
    # A record can be valid alone and still break the zone (a CNAME beside other data).
    validate_zone(spec_of(zone, records))


def add_record(
    actor: Person, service: Service, name: str, rdtype: str, ttl: int | str, values: Any
) -> DnsRecord:
    """Add an RRset; a bad record is refused with dnspython's message, nothing changes."""
    zone = _editable(actor, service)
    rrset = parse_rrset(name, rdtype, ttl, _values(values), zone.name)
    _refuse_apex_ns(zone, rrset.name, rrset.rdtype)
    records = records_of(zone)
    if any(r.name == rrset.name and r.rdtype == rrset.rdtype for r in records):
        raise Conflict(f"{rrset.path} already exists; edit that row instead.")
    row = _record_row(zone, rrset)
    _check_whole_zone(zone, [*records, row])
    db.session.add(row)
    db.session.flush()
    audit.record(actor, Action.DNS_RECORD_ADDED, service, rrset.to_text()[:2000])
    return row


def get_record(service: Service, record_id: int) -> DnsRecord:
    record = db.session.get(DnsRecord, record_id)
    zone = zone_of(service)
    if record is None or zone is None or record.zone_id != zone.id:
        raise NotFound("There is no such record in this zone.")
    return record


def update_record(
    actor: Person, service: Service, record_id: int, ttl: int | str, values: Any
) -> DnsRecord:
    """Change an RRset's TTL and values (its name and type are its key)."""
    zone = _editable(actor, service)
    record = get_record(service, record_id)
    _refuse_apex_ns(zone, record.name, record.rdtype)
    rrset = parse_rrset(record.name, record.rdtype, ttl, _values(values), zone.name)
    records = [r for r in records_of(zone) if r.id != record.id]
    candidate = _record_row(zone, rrset)
    _check_whole_zone(zone, [*records, candidate])
    before = _rrset(record).to_text()
    record.ttl, record.values = rrset.ttl, list(rrset.values)
    audit.record(
        actor, Action.DNS_RECORD_CHANGED, service, f"{before}\n=>\n{rrset.to_text()}"[:4000]
    )
    return record


def deletable_record(actor: Person, service: Service, record_id: int) -> DnsRecord:
    """The record, when ``actor`` may delete it now; the reason why not otherwise."""
    zone = _editable(actor, service)
    record = get_record(service, record_id)
    _refuse_apex_ns(zone, record.name, record.rdtype)
    return record


def delete_record(actor: Person, service: Service, record_id: int) -> None:
    record = deletable_record(actor, service, record_id)
    zone = zone_of(service)
    assert zone is not None  # deletable_record found the record in it
    records = [r for r in records_of(zone) if r.id != record.id]
    _check_whole_zone(zone, records)
    audit.record(actor, Action.DNS_RECORD_DELETED, service, _rrset(record).to_text()[:4000])
    db.session.delete(record)


def set_dnssec(actor: Person, service: Service, on: bool) -> DnsZone:
    """R11: DNSSEC on request (applied, like records, after the plan is reviewed)."""
    zone = _editable(actor, service)
    if zone.dnssec != on:
        zone.dnssec = on
        audit.record(actor, Action.DNS_DNSSEC_ON if on else Action.DNS_DNSSEC_OFF, service)
    return zone


# -- plan and apply ------------------------------------------------------------------------------


def digest(plan: Plan[Any]) -> str:
    """What a person reviewed (the generic digest, `applying.digest`)."""
    return applying.digest(plan)


def review_plan(actor: Person, service: Service, provider_for: ProviderLookup) -> Plan[ZoneSpec]:
    """The record diff between the site and the provider, nothing touched. The provider is
    built (by ``provider_for``, the catalogue's lookup) only for someone who may edit."""
    zone = _editable(actor, service)
    try:
        provider = provider_for(service.service_type.provider)
        return provider.plan_for(spec_of(zone, records_of(zone)))
    except ProviderError as exc:
        raise Conflict(f"The DNS server could not be read just now: {exc}") from exc


def request_apply(
    actor: Person, service: Service, reviewed: str, provider_for: ProviderLookup
) -> Job:
    """Apply the reviewed plan through a job; refused when the plan changed since review."""
    plan = review_plan(actor, service, provider_for)
    if digest(plan) != reviewed:
        raise Conflict(
            "The zone or its records changed since you reviewed the plan; review it again."
        )
    if plan.empty:
        raise Conflict("The zone is in sync; there is nothing to apply.")
    new = enqueue("provision_service", subject=service, service_id=service.id, reviewed=reviewed)
    audit.record(actor, Action.DNS_APPLY_REQUESTED, service, plan.render()[:4000])
    return new


def provision(
    ctx: JobContext, service: Service, provider: Provider[Any], reviewed: str | None
) -> Pending | None:
    """The DNS step of the provisioning job: take in what the server already serves (first
    run on a provider that cannot create zones), plan, apply, verify, record the DS."""
    zone = zone_of(service)
    assert zone is not None
    if not zone.adopted:
        observed = provider.read(zone.name)
        if observed.state is None and "zone_create" not in provider.capabilities:
            raise Invalid(
                f"{zone.name} is not served by the {provider.name} server, and this provider "
                "cannot create zones: add the zone to the server's configuration, then retry."
            )
        if observed.state is not None and not records_of(zone):
            kept = [r for r in observed.state.rrsets if r.rdtype not in SERVER_OWNED_TYPES]
            for rrset in kept:
                db.session.add(_record_row(zone, rrset))
            ctx.log(f"took in {len(kept)} RRsets {zone.name} already had on the server")
        zone.adopted = True
        db.session.flush()
        db.session.refresh(zone)
    spec = spec_of(zone, records_of(zone))
    pending = applying.apply_spec(ctx, provider, spec, reviewed)
    if pending is not None:
        return pending
    observed = provider.read(spec.zone)
    zone.published_ds = list(observed.detail.get("ds", ()))
    zone.observed_at = utcnow()
    return None


# -- delegation check (R11) ----------------------------------------------------------------------


def parent_servers(zone: str) -> tuple[list[str], int]:
    """Addresses (and port) of the parent zone's name servers: INFRAWG_DNS_PARENT_SERVERS
    when set (private setups, tests), otherwise found through the system resolver."""
    configured = current_app.config.get("DNS_PARENT_SERVERS")
    if configured:
        hosts, port = [], 53
        for item in str(configured).split(","):
            host, _, port_text = item.strip().partition(":")
            hosts.append(host)
            port = int(port_text) if port_text else port
        return hosts, port
    parent = dns.name.from_text(zone).parent()
    try:
        parent_zone = dns.resolver.zone_for_name(parent)
        names = [rr.target for rr in dns.resolver.resolve(parent_zone, "NS")]
        addresses = [a.to_text() for n in names for a in dns.resolver.resolve(n, "A")]
    except dns.exception.DNSException as exc:
        raise Conflict(f"Could not find the name servers of the parent of {zone}: {exc}") from exc
    return addresses, 53


DELEGATION_JOB = "check_delegation"
# Each question to a parent server waits at most this long; a check asks at most
# MAX_PARENT_SERVERS of them (two questions each), so a job is bounded too.
DELEGATION_TIMEOUT = 3.0
MAX_PARENT_SERVERS = 4


def _checkable(actor: Person, service: Service) -> DnsZone:
    policy.require(actor, Permission.SERVICE_MANAGE, service)
    zone = zone_of(service)
    if zone is None:
        raise NotFound("This service has no DNS zone.")
    if not service.state.on_provider:
        raise Conflict("The delegation can be checked once the zone is provisioned.")
    return zone


def latest_delegation_job(service: Service) -> Job | None:
    """The newest delegation check of ``service`` (pending or done), if any."""
    return db.session.scalar(jobs.about(service).where(Job.kind == DELEGATION_JOB).limit(1))


def request_delegation_check(actor: Person, service: Service) -> Job:
    """R11: queue a check of the parent's NS and DS; asking the parent's servers can take
    seconds, so no request waits for it. One pending check per service at a time: asking
    again while one waits returns that one (the per-service limit)."""
    _checkable(actor, service)
    pending = latest_delegation_job(service)
    if pending is not None and pending.state.pending:
        return pending
    return enqueue(DELEGATION_JOB, subject=service, service_id=service.id)


def delegation_result(job: Job | None) -> DelegationResult | None:
    """The result a finished delegation check recorded (None while it is pending)."""
    if job is None or job.state != JobState.SUCCEEDED or not job.plan:
        return None
    try:
        fields: dict[str, Any] = json.loads(job.plan)
        values: dict[str, Any] = {
            k: tuple(v) if isinstance(v, list) else v for k, v in fields.items()
        }
        return DelegationResult(**values)
    except (ValueError, TypeError):
        return None


@job(DELEGATION_JOB, max_attempts=2)
def check_delegation_job(ctx: JobContext, service_id: int) -> None:
    """The delegation check, run by a worker; the result is kept as the job's plan."""
    service = db.session.get(Service, service_id)
    zone = zone_of(service) if service is not None else None
    if zone is None:
        raise NotFound(f"Service #{service_id} has no DNS zone.")
    servers, port = parent_servers(zone.name)
    ctx.log(f"asking {min(len(servers), MAX_PARENT_SERVERS)} parent server(s) about {zone.name}")
    result = delegation_check(
        zone.name,
        servers[:MAX_PARENT_SERVERS],
        expected_ns=apex_ns(zone, records_of(zone)),
        expected_ds=ds_to_set(zone),
        port=port,
        timeout=DELEGATION_TIMEOUT,
    )
    for line in (*result.fixes, *result.errors):
        ctx.log(line)
    ctx.log("the delegation is right" if result.ok else "the delegation needs fixing")
    ctx.record_plan(json.dumps(dataclasses.asdict(result)))
