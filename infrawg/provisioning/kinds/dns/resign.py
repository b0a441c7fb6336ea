"""DNSSEC re-signing (R11): a signed zone nobody edits must stay valid past its signatures'
lifetime. A daily job plans each signed zone against what is served, so the only change a
provider plans is its own "dnssec signatures" re-sign (the zonefile signer, when the earliest
signature expires within `resign_days`); a server that signs by itself (BIND's dnssec-policy
behind RFC 2136) plans nothing. The tenant's unapplied edits are not part of that plan.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from infrawg.extensions import db
from infrawg.jobs import JobContext, job
from infrawg.provisioning.base import Op, ProviderError
from infrawg.provisioning.kinds.dns.models import DnsZone
from infrawg.provisioning.models import Service, ServiceState, ServiceType
from infrawg.provisioning.service import provider_for

RESIGN_JOB = "dns.resign"
# Zones that are served, so must keep validating (a suspended zone is still served, R7).
SERVED = (ServiceState.ACTIVE, ServiceState.DRIFTED, ServiceState.SUSPENDED)


@job(RESIGN_JOB, max_attempts=3, every=timedelta(days=1))
def resign_zones(ctx: JobContext) -> None:
    """Scheduled: re-sign every signed zone whose signatures are close to expiring."""
    rows = db.session.execute(
        select(DnsZone.name, ServiceType.provider)
        .join(Service, Service.id == DnsZone.service_id)
        .join(ServiceType, ServiceType.id == Service.service_type_id)
        .where(DnsZone.dnssec.is_(True), Service.state.in_(SERVED))
        .order_by(DnsZone.name)
    ).all()
    failures = 0
    for zone, provider_name in rows:
        provider = provider_for(provider_name)
        try:
            observed = provider.read(zone)
            if observed.state is None:
                ctx.log(f"{zone}: not served by {provider_name}; nothing to re-sign")
                continue
            plan = provider.plan(observed.state, observed)
            if plan.empty:
                ctx.log(f"{zone}: signatures are fresh")
                continue
            if any(c.op is not Op.UPDATE or c.path != "dnssec signatures" for c in plan.changes):
                ctx.log(f"{zone}: the plan holds more than a re-sign; left for review")
                continue
            provider.apply(plan)
            ctx.log(f"{zone}: re-signed")
        except ProviderError as exc:
            failures += 1
            ctx.log(f"{zone}: {exc}")
    if failures:
        raise ProviderError(f"{failures} zone(s) could not be re-signed")
