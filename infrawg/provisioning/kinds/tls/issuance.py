"""Ordering a certificate (R12), one short job call at a time: CAA, the order, the DNS-01
values placed through the DNS provider of each hosted zone, the CA's validation (`Pending`),
then the chain stored (the key stays a 0600 file in the acme provider's key directory)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, timedelta
from typing import Any

import dns.exception
import dns.resolver
from cryptography import x509
from sqlalchemy import select

from infrawg.errors import Invalid
from infrawg.extensions import db
from infrawg.jobs import JobContext, Pending
from infrawg.provisioning.base import Provider, supports
from infrawg.provisioning.kinds.dns.capabilities import DnsChallengeSolver
from infrawg.provisioning.kinds.dns.models import DnsZone
from infrawg.provisioning.kinds.tls import models
from infrawg.provisioning.kinds.tls.models import TlsIssuance
from infrawg.provisioning.models import Service, ServiceState, ServiceType
from infrawg.provisioning.providers.acme import (
    AcmeEngine,
    IssuedCertificate,
    OrderFailed,
    OrderState,
)
from infrawg.timeutil import utcnow

VALIDATION_TIMEOUT = 30.0  # seconds to wait for the hosted zones' servers to serve a value
# How often a job waiting for people looks again ("check now" and the approval release it).
WAIT_FOR_PEOPLE = timedelta(hours=1)


def _base(name: str) -> str:
    return name.removeprefix("*.").rstrip(".").lower() + "."


def hosted_zone(name: str) -> tuple[DnsZone, Service] | None:
    """The active hosted zone holding `name` (its longest match), with its service."""
    base = _base(name)
    rows = db.session.execute(
        select(DnsZone, Service)
        .join(Service, Service.id == DnsZone.service_id)
        .where(Service.state.in_((ServiceState.ACTIVE, ServiceState.DRIFTED)))
    ).all()
    found = [(z, s) for z, s in rows if base == z.name or base.endswith("." + z.name)]
    if not found:
        return None
    zone, service = max(found, key=lambda pair: len(pair[0].name))
    return zone, service


def unmanaged_names(names: Sequence[str]) -> list[str]:
    """The names no zone hosted here holds: R12, a tenant member must approve those."""
    return [name for name in names if hosted_zone(name) is None]


def _provider_of_zone(service: Service) -> Provider[Any]:
    from infrawg.provisioning.service import provider_for

    service_type = db.session.get(ServiceType, service.service_type_id)
    assert service_type is not None
    return provider_for(service_type.provider)


class _Redirected:
    """A DnsChallengeSolver writing at the CNAME target of `_acme-challenge.<name>` (the
    tenant delegated the challenge into a zone hosted here)."""

    def __init__(self, solver: DnsChallengeSolver, target: str) -> None:
        self.solver, self.target = solver, target

    def add_txt(self, zone: str, name: str, value: str, ttl: int = 60) -> None:
        self.solver.add_txt(zone, self.target, value, ttl)

    def remove_txt(self, zone: str, name: str, value: str) -> None:
        self.solver.remove_txt(zone, self.target, value)

    def wait_for_txt(self, zone: str, name: str, value: str, timeout: float = 60.0) -> bool:
        return self.solver.wait_for_txt(zone, self.target, value, timeout)


class HostedTargets:
    """The engine's ChallengeTargets: each owner's hosted zone and that zone's DNS provider
    (which must be a DnsChallengeSolver); an owner outside them whose CNAME points into a
    hosted zone is placed at the CNAME's target."""

    def __init__(self, engine: AcmeEngine) -> None:
        self.resolver = engine.caa_resolver or dns.resolver.get_default_resolver()

    def _cname(self, owner: str) -> str | None:
        try:
            answer = self.resolver.resolve(owner, "CNAME")
        except dns.exception.DNSException:
            return None
        return str(answer[0].target)

    def placement(self, owner: str) -> tuple[DnsZone, Service, str | None] | None:
        found = hosted_zone(owner.removeprefix("_acme-challenge."))
        if found is not None:
            return found[0], found[1], None
        target = self._cname(owner)
        found = hosted_zone(target) if target else None
        return None if found is None else (found[0], found[1], target)

    def placeable(self, order: OrderState) -> OrderState:
        """The part of `order` the site places itself."""
        mine = tuple(c for c in order.challenges if self.placement(c.owner) is not None)
        return OrderState(order.order_url, order.names, mine, order.key_file)

    def __call__(self, owner: str) -> tuple[DnsChallengeSolver, str]:
        found = self.placement(owner)
        if found is None:
            raise Invalid(f"No zone hosted here holds {owner}.")
        zone, service, target = found
        provider = _provider_of_zone(service)
        if not (
            supports(provider, DnsChallengeSolver) and isinstance(provider, DnsChallengeSolver)
        ):
            raise Invalid(f"The DNS provider of {zone.name} cannot place ACME TXT values.")
        return (provider if target is None else _Redirected(provider, target)), zone.name


def waiting_for_tenant(issuance: TlsIssuance) -> Pending:
    """R12: names no zone here holds are ordered only once a tenant member approves."""
    names = ", ".join(unmanaged_names(issuance.names))
    issuance.step = models.AWAITING_TENANT
    return Pending(
        WAIT_FOR_PEOPLE,
        f"Waiting for a tenant member to approve ordering {names}: no zone hosted here holds "
        "them. Delegate _acme-challenge.<name> by CNAME to a zone hosted here, or set the TXT "
        "value shown once the order is placed by hand.",
    )


def manual_records_seen(engine: AcmeEngine, order: OrderState) -> dict[str, bool]:
    """For each challenge of a name not hosted here: whether the world serves its value."""
    targets = HostedTargets(engine)
    resolver = targets.resolver
    seen: dict[str, bool] = {}
    for challenge in order.challenges:
        if targets.placement(challenge.owner) is not None:
            continue
        try:
            answer = resolver.resolve(challenge.owner, "TXT")
            values = {b"".join(r.strings).decode() for r in answer}
        except dns.exception.DNSException:
            values = set()
        seen[f"{challenge.owner} {challenge.value}"] = challenge.value in values
    return seen


def start(ctx: JobContext, engine: AcmeEngine, issuance: TlsIssuance) -> Pending:
    """Check CAA and open the order (engine), place the TXT values, tell the CA to look."""
    order = engine.start_order(issuance.names)
    ctx.log(f"order opened for {', '.join(order.names)} (CAA allows our CA)")
    targets = HostedTargets(engine)
    hosted = targets.placeable(order)
    try:
        engine.publish(hosted, targets, timeout=VALIDATION_TIMEOUT)
        ctx.log(f"{len(hosted.challenges)} TXT value(s) placed in the zones hosted here")
        issuance.order = order.to_json()
        if len(hosted.challenges) < len(order.challenges):
            issuance.step = models.AWAITING_DNS
            return Pending(WAIT_FOR_PEOPLE, "Waiting for the TXT records set by hand.")
        engine.answer(order)
    except BaseException:
        engine.withdraw(hosted, targets)
        engine.discard(order)
        raise
    issuance.step = models.VALIDATING
    return Pending(timedelta(seconds=2), "The CA is checking the DNS TXT records.")


def manual_dns(ctx: JobContext, engine: AcmeEngine, issuance: TlsIssuance) -> Pending:
    """The tenant sets TXT values by hand, or delegates `_acme-challenge.<name>` by CNAME into
    a zone hosted here: answer the CA once every value is served. A challenge delegated since
    the order was placed gets its value placed at the CNAME's target now (placing a value
    already there changes nothing)."""
    assert issuance.order is not None
    order = OrderState.from_json(issuance.order)
    seen = manual_records_seen(engine, order)
    if not all(seen.values()):
        missing = ", ".join(k for k, ok in seen.items() if not ok)
        return Pending(WAIT_FOR_PEOPLE, f"Waiting for the TXT records set by hand: {missing}")
    ctx.log("every TXT value set by hand is served")
    targets = HostedTargets(engine)
    hosted = targets.placeable(order)
    engine.publish(hosted, targets, timeout=VALIDATION_TIMEOUT)
    ctx.log(f"{len(hosted.challenges)} TXT value(s) in place in the zones hosted here")
    engine.answer(order)
    issuance.step = models.VALIDATING
    return Pending(timedelta(seconds=2), "The CA is checking the DNS TXT records.")


def poll(ctx: JobContext, engine: AcmeEngine, issuance: TlsIssuance) -> Pending | None:
    """Look at the order once; store the chain when issued. A refusal marks the issuance
    failed (committed) and raises `Invalid`: the job is dead, the service failed."""
    assert issuance.order is not None
    order = OrderState.from_json(issuance.order)
    result = engine.poll(order)
    if isinstance(result, Pending):
        return result
    targets = HostedTargets(engine)
    engine.withdraw(targets.placeable(order), targets)
    if isinstance(result, OrderFailed):
        engine.discard(order)
        issuance.step = models.FAILED
        issuance.error = result.message
        ctx.log(f"the CA refused: {result.message}")
        # Kept though the job then fails: a retry starts a new order instead of this one.
        db.session.commit()
        raise Invalid(f"The CA refused the certificate: {result.message}")
    store(issuance, result)
    ctx.log(f"issued certificate {issuance.serial}, valid until {issuance.not_after:%Y-%m-%d}")
    return None


def store(issuance: TlsIssuance, issued: IssuedCertificate) -> None:
    leaf: x509.Certificate = issued.certificate
    issuance.step = models.ISSUED
    issuance.chain_pem = issued.fullchain_pem
    issuance.key_file = issued.private_key.ref.removeprefix("file:")
    issuance.serial = f"{issued.serial:x}"
    issuance.issuer = leaf.issuer.rfc4514_string()[:255]
    issuance.issued_at = utcnow()
    issuance.not_after = issued.not_after.astimezone(UTC).replace(tzinfo=None)
    issuance.order = None
