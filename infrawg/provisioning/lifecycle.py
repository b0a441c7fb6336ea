"""A service's life after the chair's decision, for every kind, through plans.

    requested -> approved -> provisioning -> active -> (suspended <-> active) -> decommissioned
                                                   \\-> drifted (a verify check failed) -> active

Each transition is a service function with its audit event (`service._set_state`, which also
tells the tenant members, R5, and sends `service_state_changed`). The provider is run through a
plan every time: provisioning and repair apply the kind's spec, a suspension applies the kind's
`suspended_spec`, a decommission applies a reviewed destroy plan. The generic code here looks
up `kinds.get(service_type.kind)` and never names a kind.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from infrawg import audit, policy, signals
from infrawg.actions import Action
from infrawg.errors import Conflict, DomainError, Invalid, NotFound
from infrawg.extensions import db
from infrawg.governance.models import Role
from infrawg.governance.roles import people_with_roles
from infrawg.jobs import JobContext, Pending, enqueue, job
from infrawg.jobs.models import Job
from infrawg.locks import lock_rows
from infrawg.membership.models import Person
from infrawg.notices.mail import send_mail
from infrawg.policy import Permission
from infrawg.provisioning import kinds
from infrawg.provisioning.applying import digest
from infrawg.provisioning.base import ApplyResult, Check, Plan, ProviderError
from infrawg.provisioning.models import Service, ServiceState
from infrawg.provisioning.service import RESUME_JOB, SUSPEND_JOB, _set_state, provider_for
from infrawg.tenants.models import TenantOrganisation
from infrawg.timeutil import utcnow
from infrawg.web import external_url

PROVISION_JOB = "provision_service"
DECOMMISSION_JOB = "services.decommission"
VERIFY_JOB = "services.verify"
# What a suspension stops: services that run (or are on their way to).
SUSPENDABLE = (
    ServiceState.APPROVED,
    ServiceState.PROVISIONING,
    ServiceState.ACTIVE,
    ServiceState.DRIFTED,
)
# What may be decommissioned: whatever may hold a resource on its provider.
DECOMMISSIONABLE = (
    ServiceState.ACTIVE,
    ServiceState.DRIFTED,
    ServiceState.FAILED,
    ServiceState.SUSPENDED,
)
# Verified every day (VERIFY_JOB).
VERIFIED = (ServiceState.ACTIVE, ServiceState.DRIFTED)


def kind_of(service: Service) -> kinds.Kind:
    return kinds.get(service.service_type.kind)


def load(service_id: int) -> Service:
    """The service with what its kind's job needs (for job functions)."""
    options = [selectinload(Service.service_type)]
    for kind in kinds.available().values():
        options += kind.load_options()
    service = db.session.scalar(select(Service).where(Service.id == service_id).options(*options))
    if service is None:
        raise NotFound(f"Service #{service_id} no longer exists.")
    return service


# -- plans a person reviews ----------------------------------------------------------------------


def _read_failed(exc: ProviderError) -> Conflict:
    return Conflict(f"The provider could not be read just now: {exc}")


def review_plan(actor: Person, service: Service) -> Plan[Any]:
    """The diff between what the site holds and what the provider has, nothing touched: the
    plan that applies edits, or brings a drifted service back."""
    policy.require(actor, Permission.SERVICE_MANAGE, service)
    if not service.state.on_provider:
        raise Conflict(f"There is nothing to apply while the service is {service.state.label}.")
    try:
        return provider_for(service.service_type.provider).plan_for(
            kind_of(service).spec_of(service)
        )
    except ProviderError as exc:
        raise _read_failed(exc) from exc


def request_apply(actor: Person, service: Service, reviewed: str) -> Job:
    """Apply the reviewed plan through a job; refused when the plan changed since review."""
    plan = review_plan(actor, service)
    if digest(plan) != reviewed:
        raise Conflict("The resource changed since you reviewed the plan; review it again.")
    if plan.empty:
        raise Conflict("The service is in sync; there is nothing to apply.")
    queued = start_provisioning(service, reviewed)
    audit.record(actor, Action.SERVICE_APPLY_REQUESTED, service, plan.render()[:4000])
    return queued


# -- provisioning (and repair) -------------------------------------------------------------------


def start_provisioning(service: Service, reviewed: str | None = None) -> Job:
    """Enqueue the job that makes the service real on its provider."""
    args: dict[str, Any] = {"service_id": service.id}
    if reviewed is not None:
        args["reviewed"] = reviewed
    return enqueue(PROVISION_JOB, subject=service, **args)


def _provision_failed(ctx: JobContext, service_id: int, reviewed: str | None = None) -> None:
    service = db.session.get(Service, service_id)
    if service is not None and service.state in (ServiceState.APPROVED, ServiceState.PROVISIONING):
        _set_state(None, service, ServiceState.FAILED, ctx.job.last_error, Action.SERVICE_FAILED)


@job(PROVISION_JOB, on_dead=_provision_failed)
def provision_service(ctx: JobContext, service_id: int, reviewed: str | None = None) -> Any:
    """Bring the service's resource in line with what the site holds, then verify it.

    Idempotent: it plans against what the provider reads now, so a run after a crash (or a
    second run) finds nothing left to do. `reviewed` is the digest of the plan a person
    approved; when the plan differs now, nothing is applied. A kind whose operation takes
    long returns `Pending`: the job is called again later, the service stays provisioning.
    """
    service = load(service_id)
    if service.state not in (
        ServiceState.APPROVED,
        ServiceState.PROVISIONING,
        ServiceState.ACTIVE,
        ServiceState.FAILED,
        ServiceState.DRIFTED,
    ):
        ctx.log(f"nothing to do: the service is {service.state.value}")
        return None
    first = service.state not in (ServiceState.ACTIVE, ServiceState.DRIFTED)
    if first and service.state != ServiceState.PROVISIONING:
        _set_state(None, service, ServiceState.PROVISIONING, None, Action.SERVICE_PROVISIONING)
        # Committed now, so the tenant sees it while the provider works.
        db.session.commit()
        service = load(service_id)
    provider = provider_for(service.service_type.provider)
    ctx.log(f"provider {service.service_type.provider} ({provider.name})")
    outcome = kind_of(service).provision(ctx, service, provider, reviewed)
    if isinstance(outcome, Pending):
        return outcome
    service.verified_at = utcnow()
    if service.state != ServiceState.ACTIVE:
        _set_state(None, service, ServiceState.ACTIVE, None, Action.SERVICE_ACTIVE)
    return None


# -- suspension (R7 and by hand) and resumption ------------------------------------------------


def suspend(actor: Person | None, service: Service, reason: str) -> Service:
    """Suspend a running service (R7: its organisation's charter lapsed; or the chair). A job
    applies the kind's suspended spec through a plan; the tenant members are told (R5)."""
    if actor is not None:
        policy.require(actor, Permission.SERVICE_DECIDE)
    if service.state not in SUSPENDABLE:
        raise Conflict(
            f"Only a running service can be suspended; this one is {service.state.label.lower()}."
        )
    if not reason:
        raise Invalid(
            "Say why the service is suspended; the tenant members receive it.", field="reason"
        )
    _set_state(actor, service, ServiceState.SUSPENDED, reason, Action.SERVICE_SUSPENDED)
    enqueue("services.suspend", subject=service, service_id=service.id)
    return service


@job("services.suspend", max_attempts=5)
def apply_suspension(ctx: JobContext, service_id: int) -> Pending | None:
    """Apply the kind's suspended spec (by default: keep what the provider holds)."""
    service = load(service_id)
    if service.state != ServiceState.SUSPENDED:
        ctx.log(f"nothing to do: the service is {service.state.value}")
        return None
    provider = provider_for(service.service_type.provider)
    kind = kind_of(service)
    spec = kind.suspended_spec(service)
    observed = provider.read(spec.ref if spec is not None else kind.spec_of(service).ref)
    if observed.state is None:
        ctx.log("nothing on the provider yet: nothing to suspend")
        return None
    if spec is None:
        spec = observed.state  # keep what it holds
    provider.validate(spec)
    plan = provider.plan(spec, observed)
    ctx.record_plan(plan.render())
    result = provider.apply(plan)
    for line in result.log:
        ctx.log(line)
    return result.pending


def resume(actor: Person | None, service: Service, reason: str) -> Service:
    """Resume a suspended service: provisioned again from what the site holds (R8)."""
    if actor is not None:
        policy.require(actor, Permission.SERVICE_DECIDE)
    if service.state != ServiceState.SUSPENDED:
        raise Conflict("Only a suspended service can be resumed.")
    organisation = db.session.get(TenantOrganisation, service.organisation_id)
    if organisation is not None and organisation.services_suspended:
        # R7: the organisation's services wait on its CO decision, not on this one.
        raise Conflict(f"{organisation.name}'s services are suspended until its CO decision.")
    _set_state(actor, service, ServiceState.APPROVED, reason, Action.SERVICE_RESUMED)
    start_provisioning(service)
    return service


def _services_of(organisation_id: int, states: tuple[ServiceState, ...]) -> list[Service]:
    ids = list(
        db.session.scalars(
            select(Service.id)
            .where(Service.organisation_id == organisation_id, Service.state.in_(states))
            .order_by(Service.id)
        )
    )
    # A suspension and a resumption running at once take their turns, service by service.
    lock_rows(Service, ids)
    return list(
        db.session.scalars(
            select(Service)
            .where(Service.id.in_(ids), Service.state.in_(states))
            .options(selectinload(Service.service_type))
            .order_by(Service.id)
        )
    )


def suspend_when_charter_ends(sender: Any, organisation: TenantOrganisation, **_: Any) -> None:
    """charter_ended: R7, the WG's services wait on the CO decision (a job suspends them)."""
    enqueue(SUSPEND_JOB, organisation_id=organisation.id)


def resume_when_recognised(sender: Any, organisation: TenantOrganisation, **_: Any) -> None:
    """organisation_recognised: R8, eligible again; a job resumes what R7 suspended."""
    enqueue(RESUME_JOB, organisation_id=organisation.id)


@job(SUSPEND_JOB, max_attempts=5)
def suspend_services(ctx: JobContext, organisation_id: int) -> None:
    """R7: suspend the organisation's running services (the same path as by hand).

    Idempotent, and it looks first: an organisation recognised again before this ran keeps
    its services.
    """
    organisation = db.session.get(TenantOrganisation, organisation_id)
    if organisation is None or not organisation.services_suspended:
        ctx.log("nothing to do: the organisation's services are not suspended")
        return
    reason = f"R7: the charter of {organisation.name} ended; services wait on the CO decision"
    for service in _services_of(organisation_id, SUSPENDABLE):
        ctx.log(f"suspending {service.name} (was {service.state.value})")
        suspend(None, service, reason)


@job(RESUME_JOB, max_attempts=5)
def resume_services(ctx: JobContext, organisation_id: int) -> None:
    """R8: the organisation is eligible again: its suspended services are provisioned again
    (the provisioning job re-reads the provider and applies whatever drifted)."""
    organisation = db.session.get(TenantOrganisation, organisation_id)
    if organisation is None or organisation.services_suspended:
        ctx.log("nothing to do: the organisation's services are still suspended")
        return
    reason = f"R8: {organisation.name} is eligible again"
    for service in _services_of(organisation_id, (ServiceState.SUSPENDED,)):
        ctx.log(f"resuming {service.name}")
        resume(None, service, reason)


# -- decommissioning: a reviewed destroy plan --------------------------------------------------


def _decommissionable(actor: Person, service: Service) -> None:
    policy.require(actor, Permission.SERVICE_MANAGE, service)
    if service.state not in DECOMMISSIONABLE:
        raise Conflict(f"A service that is {service.state.label.lower()} cannot be decommissioned.")


def review_destroy(actor: Person, service: Service) -> Plan[Any]:
    """The destroy plan of the service's resource, nothing touched (it is the dry run)."""
    _decommissionable(actor, service)
    provider = provider_for(service.service_type.provider)
    spec = kind_of(service).spec_of(service)
    try:
        return provider.plan_destroy(spec, provider.read(spec.ref))
    except ProviderError as exc:
        raise _read_failed(exc) from exc


def dry_run_destroy(actor: Person, service: Service) -> ApplyResult:
    """Run the destroy plan through the gate without executing it (stale check included)."""
    plan = review_destroy(actor, service)
    return provider_for(service.service_type.provider).apply(plan, dry_run=True)


def request_decommission(actor: Person, service: Service, reviewed: str, reason: str = "") -> Job:
    """Decommission through a job applying the destroy plan `actor` reviewed; refused when
    the plan changed since the review."""
    plan = review_destroy(actor, service)
    if digest(plan) != reviewed:
        raise Conflict("The resource changed since you reviewed the destroy plan; review it again.")
    audit.record(actor, Action.SERVICE_DECOMMISSION_REQUESTED, service, plan.render()[:4000])
    return enqueue(
        DECOMMISSION_JOB, subject=service, service_id=service.id, reviewed=reviewed, reason=reason
    )


@job(DECOMMISSION_JOB, max_attempts=3)
def decommission_service(
    ctx: JobContext, service_id: int, reviewed: str, reason: str = ""
) -> Pending | None:
    """Apply the reviewed destroy plan; the service is decommissioned once it ran."""
    service = load(service_id)
    if service.state == ServiceState.DECOMMISSIONED:
        ctx.log("nothing to do: already decommissioned")
        return None
    provider = provider_for(service.service_type.provider)
    kind = kind_of(service)
    spec = kind.spec_of(service)
    plan = provider.plan_destroy(spec, provider.read(spec.ref))
    ctx.record_plan(plan.render())
    if digest(plan) != reviewed and not (ctx.rerun and plan.empty):
        raise Conflict("The resource changed since the destroy plan was reviewed; nothing removed.")
    result = provider.apply(plan)
    for line in result.log:
        ctx.log(line)
    if result.pending is not None:
        return result.pending
    kind.decommissioned(service)
    _set_state(
        None,
        service,
        ServiceState.DECOMMISSIONED,
        reason or None,
        Action.SERVICE_DECOMMISSIONED,
    )
    return None


# -- verification of every live service (daily) ------------------------------------------------


def verify(service: Service) -> list[Check]:
    """Ask the service's provider to check its resource against what the site holds; on a
    failed check the service is DRIFTED (staff and the tenant members are told), and the
    plan that brings it back waits for review; once the checks pass again it is ACTIVE."""
    provider = provider_for(service.service_type.provider)
    try:
        checks = kind_of(service).checks(service, provider)
    except ProviderError as exc:
        checks = [Check("provider answers", False, str(exc))]
    service.verified_at = utcnow()
    failed = [c for c in checks if not c.ok]
    if failed:
        detail = "; ".join(f"{c.name}: {c.detail}" if c.detail else c.name for c in failed)
        detail = f"{len(failed)} check(s) failed: {detail}"[:2000]
        if service.state == ServiceState.DRIFTED:
            service.state_reason = detail  # told once, when it drifted
        else:
            _set_state(None, service, ServiceState.DRIFTED, detail, Action.SERVICE_DRIFTED)
            _tell_staff(service)
    elif service.state == ServiceState.DRIFTED:
        _set_state(
            None, service, ServiceState.ACTIVE, "the checks pass again", Action.SERVICE_ACTIVE
        )
    return checks


def _tell_staff(service: Service) -> None:
    staff = [p.email for p in people_with_roles({Role.STAFF})]
    send_mail(
        staff,
        f"{service.name}: {service.state.label}",
        "service_drifted",
        service=service,
        url=external_url("provisioning.service_page", service_id=service.id),
    )


@job(VERIFY_JOB, max_attempts=3, every=timedelta(days=1))
def verify_services(ctx: JobContext) -> None:
    """Scheduled: verify every active (or drifted) service through its provider."""
    ids = list(
        db.session.scalars(
            select(Service.id).where(Service.state.in_(VERIFIED)).order_by(Service.id)
        )
    )
    for service_id in ids:
        service = load(service_id)
        try:
            failed = [c for c in verify(service) if not c.ok]
        except DomainError as exc:  # its provider is no longer configured, say
            ctx.log(f"{service.name}: not checked: {exc.message}")
            continue
        ctx.log(f"{service.name}: " + (f"{len(failed)} check(s) failed" if failed else "ok"))


def init_signals(app: Flask) -> None:
    """R7/R8: a lapsed charter suspends an organisation's services, its recognition as a CO
    resumes them (the tenants area sends the signals)."""
    signals.connect(app, signals.charter_ended, suspend_when_charter_ends)
    signals.connect(app, signals.organisation_recognised, resume_when_recognised)
