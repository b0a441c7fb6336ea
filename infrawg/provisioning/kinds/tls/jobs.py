"""Renewal (R12): every six hours, each active certificate whose renewal is due (the engine
decides: ARI window or a third of the lifetime left) gets a new order through the same steps
as its first; the tenant members are mailed on success and on failure. A failed renewal within
seven days of expiry opens an incident for staff (incidents.py), from the failed renewal's
end and from each run of the schedule, once per certificate while the notice is open."""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import Any

from sqlalchemy import select

from infrawg import timeutil
from infrawg.extensions import db
from infrawg.jobs import JobContext, Pending, enqueue, job
from infrawg.notices.mail import send_mail
from infrawg.provisioning.kinds.tls import incidents, issuance, models
from infrawg.provisioning.kinds.tls.access import acme_provider
from infrawg.provisioning.kinds.tls.models import TlsIssuance
from infrawg.provisioning.models import Service, ServiceState, ServiceType
from infrawg.tenants.models import TenantOrganisation
from infrawg.tenants.service import contacts_for
from infrawg.web import external_url

RENEW_JOB = "tls.renew"
RENEW_ONE_JOB = "tls.renew_one"


def _provider(service: Service) -> Any:
    from infrawg.provisioning.service import provider_for

    service_type = db.session.get(ServiceType, service.service_type_id)
    assert service_type is not None
    return acme_provider(provider_for(service_type.provider))


def _mail(service: Service, ok: bool, issued: TlsIssuance, error: str = "") -> None:
    organisation = db.session.get(TenantOrganisation, service.organisation_id)
    assert organisation is not None
    send_mail(
        [p.email for p in contacts_for(organisation)],
        f"{service.name}: certificate " + ("renewed" if ok else "renewal failed"),
        "tls_renewal",
        ok=ok,
        service=service,
        organisation=organisation,
        names=", ".join(issued.names),
        not_after=f"{issued.not_after:%Y-%m-%d %H:%M}" if issued.not_after else "?",
        error=error,
        url=external_url("provisioning.service_page", service_id=service.id),
    )


@job(RENEW_JOB, every=timedelta(hours=6))
def renew_due(ctx: JobContext) -> None:
    """Start a renewal for each active certificate that is due (the clock is utcnow)."""
    now = timeutil.utcnow().replace(tzinfo=UTC)  # read through the module: tests move it
    services = db.session.scalars(
        select(Service)
        .join(ServiceType, ServiceType.id == Service.service_type_id)
        .where(ServiceType.kind == "tls", Service.state == ServiceState.ACTIVE)
    ).all()
    for service in services:
        if incidents.open_incident(service, now.replace(tzinfo=None)) is not None:
            ctx.log(f"{service.name}: renewal failed near expiry; incident notice opened")
        current = models.current_of(service)
        if current is None or current.chain_pem is None or models.in_flight(service):
            continue
        decision = _provider(service).engine().renewal_due(current.chain_pem, now)
        if not decision:
            continue
        ctx.log(f"{service.name}: renewing ({decision.reason})")
        renewal = TlsIssuance(
            service_id=service.id, names=list(current.names), renewal_of_id=current.id
        )
        if current.approved_at is not None:
            # The tenant approved these names once; a renewal of the same names needs no new
            # approval (R12 asks before the first order of a name not hosted here).
            renewal.approved_at, renewal.approved_by_id = (
                current.approved_at,
                current.approved_by_id,
            )
        db.session.add(renewal)
        db.session.flush()
        enqueue(RENEW_ONE_JOB, subject=service, service_id=service.id, issuance_id=renewal.id)


def _renewal_dead(ctx: JobContext, service_id: int, issuance_id: int) -> None:
    service = db.session.get(Service, service_id)
    renewal = db.session.get(TlsIssuance, issuance_id)
    if service is None or renewal is None:
        return
    renewal.step = models.FAILED
    renewal.error = ctx.job.last_error
    previous = models.current_of(service)
    _mail(service, False, previous or renewal, ctx.job.last_error or "unknown error")
    if incidents.open_incident(service) is not None:
        ctx.log("the certificate expires within seven days: incident notice opened for staff")


@job(RENEW_ONE_JOB, max_attempts=3, on_dead=_renewal_dead)
def renew_one(ctx: JobContext, service_id: int, issuance_id: int) -> Pending | None:
    service = db.session.get(Service, service_id)
    renewal = db.session.get(TlsIssuance, issuance_id)
    if service is None or renewal is None or renewal.step in (models.ISSUED, models.FAILED):
        return None
    engine = _provider(service).engine()
    if renewal.step == models.ORDERING:
        if renewal.approved_at is None and issuance.unmanaged_names(renewal.names):
            return issuance.waiting_for_tenant(renewal)
        return issuance.start(ctx, engine, renewal)
    if renewal.step == models.AWAITING_DNS:
        return issuance.manual_dns(ctx, engine, renewal)
    if renewal.step == models.AWAITING_TENANT:
        return issuance.waiting_for_tenant(renewal)
    outcome = issuance.poll(ctx, engine, renewal)
    if outcome is None:
        _mail(service, True, renewal)
    return outcome
