"""Domain registrations (R10): the request's parameters, payment (the tenant's by default, the
foundation's only after a board decision with its resolution), the registrar's task, renewals,
reminders 90/30/7 days before expiry, expiry, and the scheduled delegation check (R11) of each
registration whose zone is hosted here."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any, cast

import dns.exception
import dns.name
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from infrawg import audit, policy, timeutil
from infrawg.actions import Action
from infrawg.errors import Conflict, Invalid, NotFound
from infrawg.extensions import db
from infrawg.governance.models import Role
from infrawg.governance.roles import people_with_roles
from infrawg.jobs import JobContext, Pending, enqueue, job
from infrawg.jobs import service as jobs
from infrawg.jobs.models import Job
from infrawg.membership.models import Person
from infrawg.notices.mail import send_mail
from infrawg.policy import Permission
from infrawg.provisioning.kinds.dns.models import DnsZone
from infrawg.provisioning.kinds.domain.models import (
    BoardState,
    DomainEvent,
    DomainMode,
    DomainRegistration,
    DomainReminder,
    Payer,
    registration_of,
)
from infrawg.provisioning.kinds.domain.provider import ManualRegistrarProvider
from infrawg.provisioning.models import ON_PROVIDER, Service, ServiceState
from infrawg.tenants.models import TenantOrganisation
from infrawg.tenants.service import contacts_for
from infrawg.web import external_url

REMINDER_DAYS = (90, 30, 7)
REMINDERS_JOB = "domain.reminders"
RENEW_JOB = "domain.renew"
DELEGATION_SCHEDULE_JOB = "domain.delegation_checks"
# The states in which a registration is looked after (reminders, renewals, expiry).
LOOKED_AFTER = (*ON_PROVIDER, ServiceState.PROVISIONING, ServiceState.SUSPENDED)


def _domain(text: str) -> str:
    try:
        name = dns.name.from_text(text.strip().lower() or ".")
    except dns.exception.DNSException as exc:
        raise Invalid(f"{text!r} is not a domain name: {exc}", field="domain") from exc
    if len(name.labels) < 3:
        raise Invalid("Give the whole domain (for example example.org).", field="domain")
    return name.to_text()


def _date(text: Any, field: str) -> date | None:
    if text in (None, ""):
        return None
    if isinstance(text, date):
        return text
    try:
        return date.fromisoformat(str(text).strip())
    except ValueError as exc:
        raise Invalid("Give the date as YYYY-MM-DD.", field=field) from exc


def parameters(params: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """Check a domain request: the name (not held by another registration), what to do, and
    who pays. R10: the tenant pays unless it asks the board for the foundation to pay."""
    domain = _domain(str(params.get("domain") or "")).rstrip(".")  # kept without the dot
    taken = db.session.scalar(
        select(DomainRegistration.id)
        .join(Service, Service.id == DomainRegistration.service_id)
        .where(
            DomainRegistration.domain == domain,
            Service.state.not_in((ServiceState.DECLINED, ServiceState.DECOMMISSIONED)),
        )
    )
    if taken:
        raise Conflict(f"{domain} is already registered here or asked for.")
    mode = str(params.get("mode") or DomainMode.REGISTER.value)
    if mode not in {m.value for m in DomainMode}:
        raise Invalid("Choose register, transfer or track.", field="mode")
    expires = _date(params.get("expires_on"), "expires_on")
    if mode != DomainMode.REGISTER.value and expires is None:
        raise Invalid("Give the domain's current expiry date.", field="expires_on")
    payer = str(params.get("payer") or Payer.TENANT.value)
    if payer not in {p.value for p in Payer}:
        raise Invalid("Choose who pays.", field="payer")
    reason = str(params.get("foundation_reason") or "").strip()
    if payer == Payer.FOUNDATION.value and not reason:
        raise Invalid(
            "Say why the foundation should pay; the board decides.", field="foundation_reason"
        )
    return domain, {
        "domain": domain,
        "mode": mode,
        "registrar": str(params.get("registrar") or "").strip()[:200],
        "expires_on": expires.isoformat() if expires else "",
        "auto_renew": bool(params.get("auto_renew")),
        "contacts": str(params.get("contacts") or "").strip(),
        "payer": payer,
        "foundation_reason": reason,
        "paid_by": str(params.get("paid_by") or "").strip()[:200],
        "payment_method": str(params.get("payment_method") or "").strip()[:200],
        "payment_reference": str(params.get("payment_reference") or "").strip()[:200],
    }


def _hosted_zone(organisation_id: int, domain: str) -> Service | None:
    """The organisation's DNS service hosting `domain`, if any (R11: NS/DS then set here)."""
    return db.session.scalar(
        select(Service)
        .join(DnsZone, DnsZone.service_id == Service.id)
        .where(
            DnsZone.name == domain + ".",  # zones are kept absolute
            Service.organisation_id == organisation_id,
            Service.state.not_in((ServiceState.DECLINED, ServiceState.DECOMMISSIONED)),
        )
    )


def history(registration: DomainRegistration, actor: Person | int | None, what: str) -> None:
    actor_id = actor.id if isinstance(actor, Person) else actor
    db.session.add(
        DomainEvent(
            registration_id=registration.id,
            actor_id=actor_id,
            what=what,
            at=timeutil.utcnow(),
        )
    )


def create_registration(service: Service) -> DomainRegistration:
    """The request's row: R10 payment is the tenant's unless the board is asked."""
    p = service.parameters
    zone = _hosted_zone(service.organisation_id, p["domain"])
    registration = DomainRegistration(
        service_id=service.id,
        domain=p["domain"],
        mode=DomainMode(p["mode"]),
        registrar=p["registrar"],
        expires_on=_date(p["expires_on"], "expires_on"),
        auto_renew=p["auto_renew"],
        contacts=p["contacts"],
        zone_service_id=zone.id if zone else None,
        payer=Payer(p["payer"]),
        paid_by=p["paid_by"],
        payment_method=p["payment_method"],
        payment_reference=p["payment_reference"],
    )
    if registration.payer is Payer.FOUNDATION:
        registration.board_state = BoardState.ASKED
        registration.board_reason = p["foundation_reason"]
    db.session.add(registration)
    db.session.flush()
    history(registration, service.requested_by_id, f"asked to {registration.mode.value}")
    return registration


def get_registration(service: Service) -> DomainRegistration:
    registration = registration_of(service)
    if registration is None:
        raise NotFound("This service has no domain registration.")
    return registration


# -- payment (R10) -------------------------------------------------------------------------------


def record_payment(
    actor: Person, service: Service, paid_by: str, method: str, reference: str
) -> DomainRegistration:
    """R10: the tenant arranges payment; who paid, how, and the reference are recorded."""
    policy.require(actor, Permission.SERVICE_MANAGE, service)
    registration = get_registration(service)
    if not (paid_by.strip() and method.strip()):
        raise Invalid("Say who pays and how.", field="paid_by")
    registration.payer = Payer.TENANT
    registration.paid_by = paid_by.strip()[:200]
    registration.payment_method = method.strip()[:200]
    registration.payment_reference = reference.strip()[:200]
    what = f"payment by {registration.paid_by} ({registration.payment_method})"
    history(registration, actor, what)
    audit.record(actor, Action.DOMAIN_PAYMENT_RECORDED, service, what)
    return registration


def ask_foundation(actor: Person, service: Service, reason: str) -> DomainRegistration:
    """Ask that the foundation pay: the board's queue gets it (R10)."""
    policy.require(actor, Permission.SERVICE_MANAGE, service)
    registration = get_registration(service)
    if not reason.strip():
        raise Invalid("Say why the foundation should pay.", field="reason")
    if registration.board_state is BoardState.ASKED:
        raise Conflict("The board has been asked already.")
    registration.payer = Payer.FOUNDATION
    registration.board_state = BoardState.ASKED
    registration.board_reason = reason.strip()
    registration.board_resolution = None
    history(registration, actor, "asked the board for the foundation to pay")
    audit.record(actor, Action.DOMAIN_FOUNDATION_ASKED, service, reason.strip())
    return registration


def board_queue() -> list[DomainRegistration]:
    """The foundation-payment requests waiting for the board, oldest first."""
    return list(
        db.session.scalars(
            select(DomainRegistration)
            .where(DomainRegistration.board_state == BoardState.ASKED)
            .options(selectinload(DomainRegistration.service).selectinload(Service.organisation))
            .order_by(DomainRegistration.id)
        )
    )


def board_decide(
    actor: Person, service: Service, approve: bool, resolution: str
) -> DomainRegistration:
    """R10: the board decides whether the foundation pays, recording its resolution; only the
    board (not the chair, not staff) holds DOMAIN_PAYMENT_DECIDE."""
    policy.require(actor, Permission.DOMAIN_PAYMENT_DECIDE)
    registration = get_registration(service)
    if registration.board_state is not BoardState.ASKED:
        raise Conflict("The board was not asked about this domain.")
    resolution = resolution.strip()
    if not resolution:
        raise Invalid("Give the board resolution's reference.", field="resolution")
    registration.board_state = BoardState.APPROVED if approve else BoardState.DECLINED
    registration.board_resolution = resolution[:200]
    registration.board_decided_by_id = actor.id
    registration.board_decided_at = timeutil.utcnow()
    if not approve:
        registration.payer = Payer.TENANT  # R10: the tenant arranges payment after all
    word = "approved" if approve else "declined"
    history(registration, actor, f"the board {word} the foundation paying ({resolution})")
    audit.record(
        actor,
        Action.DOMAIN_FOUNDATION_APPROVED if approve else Action.DOMAIN_FOUNDATION_DECLINED,
        service,
        f"resolution {resolution}",
    )
    return registration


# -- the registrar: provisioning, the manual task, renewals ------------------------------------


def _registrar(provider: Any) -> ManualRegistrarProvider:
    if not hasattr(provider, "register") or not hasattr(provider, "renew"):
        raise Conflict(f"The provider {provider.name} is not a registrar.")
    return cast(ManualRegistrarProvider, provider)


def provision(ctx: JobContext, service: Service, provider: Any) -> Pending | None:
    """The provisioning job's step: the registrar registers (a manual task waits for staff).
    R10: a registration the foundation pays waits for the board's decision first."""
    registration = get_registration(service)
    if registration.payer is Payer.FOUNDATION and not registration.foundation_pays:
        ctx.log("waiting for the board to decide whether the foundation pays")
        return Pending(timedelta(hours=6), "waiting for the board's decision on payment")
    registrar = _registrar(provider)
    outcome = registrar.register(registration)
    if isinstance(outcome, Pending):
        return outcome
    for line in outcome:
        ctx.log(line)
    zone = registration.zone_service_id
    if zone is not None and SET_DELEGATION in registrar.capabilities:
        # R11: the registrar provider sets the hosted zone's NS and DS itself; the
        # scheduled delegation check confirms it (the manual one cannot: staff do it).
        ns, ds = _delegation_of(zone)
        for line in registrar.set_delegation(registration, ns, ds):  # type: ignore[attr-defined]
            ctx.log(line)
    return None


SET_DELEGATION = "set_delegation"


def _delegation_of(zone_service_id: int) -> tuple[list[str], list[str]]:
    from infrawg.provisioning.kinds.dns import zones
    from infrawg.provisioning.kinds.dns.models import zone_of

    service = db.session.get(Service, zone_service_id)
    zone = zone_of(service) if service is not None else None
    if zone is None:
        return [], []
    return zones.apex_ns(zone, zones.records_of(zone)), zones.ds_to_set(zone)


def _wake(service: Service, kinds: tuple[str, ...]) -> None:
    """A job waiting on the task runs again now."""
    for waiting in db.session.scalars(jobs.about(service).where(Job.kind.in_(kinds))):
        if waiting.state.pending:
            waiting.next_run_at = timeutil.utcnow()


def record_task_done(
    actor: Person, service: Service, expires_on: str, registrar: str = ""
) -> DomainRegistration:
    """Staff did the task at the registrar's site: who, when, and the new expiry."""
    policy.require(actor, Permission.JOB_MANAGE)
    registration = get_registration(service)
    if not registration.task_open:
        raise Conflict("No registrar task is open for this domain.")
    expiry = _date(expires_on, "expires_on")
    if expiry is None:
        raise Invalid("Give the expiry the registrar shows.", field="expires_on")
    if registration.expires_on is not None and expiry < registration.expires_on:
        raise Invalid("The new expiry is before the one recorded.", field="expires_on")
    registration.expires_on = expiry
    if registrar.strip():
        registration.registrar = registrar.strip()[:200]
    registration.task_open = False
    registration.task_done_by_id = actor.id
    registration.task_done_at = timeutil.utcnow()
    registration.expired_at = None
    what = f"registrar task done by {actor.name}; expires {expiry.isoformat()}"
    history(registration, actor, what)
    audit.record(actor, Action.DOMAIN_REGISTRAR_TASK_DONE, service, what)
    _wake(service, ("provision_service", RENEW_JOB))
    return registration


def request_renewal(actor: Person | None, service: Service) -> Job:
    """A renewal is a job on the registrar provider (one waiting at a time)."""
    if actor is not None:
        policy.require(actor, Permission.SERVICE_MANAGE, service)
    registration = get_registration(service)
    if service.state not in LOOKED_AFTER:
        raise Conflict("Only a registered domain can be renewed.")
    for waiting in db.session.scalars(jobs.about(service).where(Job.kind == RENEW_JOB)):
        if waiting.state.pending:
            return waiting
    expiry = registration.expires_on.isoformat() if registration.expires_on else ""
    history(registration, actor, "renewal asked")
    return enqueue(RENEW_JOB, subject=service, service_id=service.id, expiry=expiry)


@job(RENEW_JOB, max_attempts=3)
def renew_job(ctx: JobContext, service_id: int, expiry: str) -> Pending | None:
    from infrawg.provisioning.lifecycle import load
    from infrawg.provisioning.service import provider_for

    service = load(service_id)
    registration = get_registration(service)
    provider = _registrar(provider_for(service.service_type.provider))
    outcome = provider.renew(registration, _date(expiry, "expiry"))
    if isinstance(outcome, Pending):
        return outcome
    for line in outcome:
        ctx.log(line)
    history(registration, None, outcome[-1] if outcome else "renewed")
    return None


# -- reminders, expiry (scheduled) -------------------------------------------------------------


def _looked_after() -> list[DomainRegistration]:
    return list(
        db.session.scalars(
            select(DomainRegistration)
            .join(Service, Service.id == DomainRegistration.service_id)
            .where(Service.state.in_(LOOKED_AFTER), DomainRegistration.expires_on.is_not(None))
            .order_by(DomainRegistration.id)
        )
    )


def _recipients(service: Service) -> list[str]:
    organisation = db.session.get(TenantOrganisation, service.organisation_id)
    tenants = [p.email for p in contacts_for(organisation)] if organisation else []
    return [*tenants, *(p.email for p in people_with_roles({Role.STAFF}))]


def _remind(registration: DomainRegistration, today: date) -> bool:
    assert registration.expires_on is not None
    left = (registration.expires_on - today).days
    due = [d for d in REMINDER_DAYS if 0 <= left <= d]
    if not due:
        return False
    days = min(due)  # the nearest lead time only: a late start sends one reminder, not three
    sent = db.session.scalar(
        select(DomainReminder.id).where(
            DomainReminder.registration_id == registration.id,
            DomainReminder.expires_on == registration.expires_on,
            DomainReminder.days == days,
        )
    )
    if sent:
        return False
    service = db.session.get(Service, registration.service_id)
    assert service is not None
    db.session.add(
        DomainReminder(
            registration_id=registration.id,
            expires_on=registration.expires_on,
            days=days,
            sent_at=timeutil.utcnow(),
        )
    )
    send_mail(
        _recipients(service),
        f"{registration.domain} expires in {left} days",
        "domain_reminder",
        registration=registration,
        left=left,
        url=external_url("provisioning.service_page", service_id=service.id),
    )
    history(registration, None, f"reminder sent: {days} days before expiry")
    return True


def _expire(registration: DomainRegistration, today: date) -> bool:
    """R10: an expired domain is an incident: the service drifts, staff are mailed, and an
    incident notice tells its tenant members (R5) and the status page."""
    from infrawg.provisioning.service import _set_state
    from infrawg.status.incidents import Finding, open_incident

    assert registration.expires_on is not None
    if registration.expires_on > today or registration.expired_at is not None:
        return False
    service = db.session.get(Service, registration.service_id)
    assert service is not None
    registration.expired_at = timeutil.utcnow()
    why = f"the domain {registration.domain} expired on {registration.expires_on.isoformat()}"
    history(registration, None, why)
    audit.record(None, Action.DOMAIN_EXPIRED, service, why)
    _set_state(None, service, ServiceState.DRIFTED, why, Action.SERVICE_DRIFTED)
    open_incident(
        service,
        Finding(
            subject=f"domain-expired:{registration.id}:{registration.expires_on.isoformat()}",
            title=f"{registration.domain} expired",
            what=(
                f"The registration of {registration.domain} expired on "
                f"{registration.expires_on.isoformat()}. Staff are renewing it with the registrar."
            ),
            expected_impact=(
                f"Until it is renewed, {registration.domain} and every name under it may stop "
                "resolving, and mail to it may bounce."
            ),
            public_summary="A domain of a hosted service expired; staff are renewing it.",
            starts_at=timeutil.utcnow(),
            found_by="the domain reminders",
        ),
    )
    send_mail(
        [p.email for p in people_with_roles({Role.STAFF})],
        f"Incident: {registration.domain} expired",
        "domain_expired",
        registration=registration,
        url=external_url("provisioning.service_page", service_id=service.id),
    )
    return True


@job(REMINDERS_JOB, max_attempts=3, every=timedelta(days=1))
def domain_reminders(ctx: JobContext) -> None:
    """Scheduled: reminders 90/30/7 days before expiry (each sent once), expiry, renewals of
    auto-renewing domains 30 days before."""
    today = timeutil.utcnow().date()
    for registration in _looked_after():
        if _expire(registration, today):
            ctx.log(f"{registration.domain} expired")
            continue
        if _remind(registration, today):
            ctx.log(f"reminded about {registration.domain}")
        assert registration.expires_on is not None
        if registration.auto_renew and (registration.expires_on - today).days <= 30:
            service = db.session.get(Service, registration.service_id)
            assert service is not None
            request_renewal(None, service)


@job(DELEGATION_SCHEDULE_JOB, max_attempts=2, every=timedelta(days=1))
def delegation_checks(ctx: JobContext) -> None:
    """Scheduled (R11): the delegation check of every registration whose zone is hosted
    here, by the DNS kind's job, one waiting check per zone at a time."""
    from infrawg.provisioning.kinds.dns.zones import DELEGATION_JOB, latest_delegation_job

    # A zone asked for after its domain: linked now.
    unlinked = db.session.scalars(
        select(DomainRegistration)
        .join(Service, Service.id == DomainRegistration.service_id)
        .where(DomainRegistration.zone_service_id.is_(None), Service.state.in_(LOOKED_AFTER))
    )
    for registration in list(unlinked):
        service = db.session.get(Service, registration.service_id)
        assert service is not None
        zone = _hosted_zone(service.organisation_id, registration.domain)
        if zone is not None:
            registration.zone_service_id = zone.id
            history(registration, None, f"linked to the hosted zone {zone.name}")
    db.session.flush()
    zones = db.session.scalars(
        select(Service)
        .join(DomainRegistration, DomainRegistration.zone_service_id == Service.id)
        .where(Service.state.in_(ON_PROVIDER))
        .order_by(Service.id)
    )
    for zone_service in zones:
        pending = latest_delegation_job(zone_service)
        if pending is not None and pending.state.pending:
            continue
        enqueue(DELEGATION_JOB, subject=zone_service, service_id=zone_service.id)
        ctx.log(f"delegation check queued for {zone_service.name}")
