"""The service catalogue and service requests (R1, R9); a service's later life (provisioning,
suspension, decommissioning, verification) is in `lifecycle`. No kind is named here: each
service type's kind is looked up in `kinds`.

Views call these functions; they hold the rules, write the audit trail in the caller's
transaction, and raise domain errors. The caller commits.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import current_app
from sqlalchemy import Select, func, select
from sqlalchemy.orm import selectinload

from infrawg import audit, policy, registry, signals
from infrawg.actions import Action
from infrawg.errors import Conflict, Invalid, NotAllowed, NotFound
from infrawg.extensions import db
from infrawg.jobs import enqueue
from infrawg.jobs.models import Job
from infrawg.locks import lock_rows
from infrawg.membership.models import Person
from infrawg.notices.mail import send_mail
from infrawg.policy import Permission
from infrawg.provisioning import kinds
from infrawg.provisioning.base import Provider
from infrawg.provisioning.models import USES_CAPACITY, Service, ServiceState, ServiceType
from infrawg.provisioning.registry import ConfiguredProvider, ConfiguredProviders
from infrawg.provisioning.registry import configured_providers as build_configured
from infrawg.tenants.models import TenantMember, TenantOrganisation
from infrawg.tenants.service import contacts_for
from infrawg.text import clean
from infrawg.timeutil import utcnow
from infrawg.web import external_url

MAX_TEXT = 4000
# R7/R8: the jobs that suspend and resume an organisation's services (lifecycle.py).
SUSPEND_JOB = "suspend_services"
RESUME_JOB = "resume_services"
# Where infrawg.registry keeps the built providers.
PROVIDERS_KEY = registry.INTERFACES["providers"].extension


# -- providers from configuration ----------------------------------------------------------------


def configured_providers() -> ConfiguredProviders:
    """The site's providers, built and checked in create_app (`infrawg.registry`)."""
    built: ConfiguredProviders | None = current_app.extensions.get(PROVIDERS_KEY)
    if built is None or not built.built_from(current_app.config.get("PROVIDERS")):
        # INFRAWG_PROVIDERS changed since start-up (a test, a command): check it again.
        built = current_app.extensions[PROVIDERS_KEY] = build_configured(current_app)
    return built


def provider_settings() -> dict[str, dict[str, Any]]:
    """Each configured provider's settings by name (secrets still references)."""
    return {name: dict(entry.settings) for name, entry in configured_providers().items()}


def _configured(name: str) -> ConfiguredProvider:
    try:
        return configured_providers()[name]
    except KeyError:
        raise NotFound(f"No provider called {name!r} is configured (INFRAWG_PROVIDERS).") from None


def provider_kind(name: str) -> str:
    """The kind of service (dns, tls...) the configured provider `name` provides."""
    return _configured(name).kind


def provider_capabilities(name: str) -> frozenset[str]:
    return _configured(name).capabilities


def provider_choices() -> list[tuple[str, str]]:
    """(name, "name (kind)") for every configured provider, for the chair's form."""
    return [
        (name, f"{name} ({entry.kind})") for name, entry in sorted(configured_providers().items())
    ]


def provider_for(name: str) -> Provider[Any]:
    """Build the configured provider `name` (secrets resolved now, never stored).

    Built afresh for each use, as before the registry: a rotated secret file is read again,
    and a provider's caches live as long as the job that uses it.
    """
    return _configured(name).build()


# -- the catalogue (R9) --------------------------------------------------------------------------


def catalogue(include_inactive: bool = False) -> list[ServiceType]:
    stmt = select(ServiceType).order_by(ServiceType.kind, ServiceType.name)
    if not include_inactive:
        stmt = stmt.where(ServiceType.active.is_(True))
    return list(db.session.scalars(stmt))


def capacity_in_use(type_ids: list[int] | None = None) -> dict[int, int]:
    """R9: how many services of each type hold a place of its capacity (one query)."""
    stmt = (
        select(Service.service_type_id, func.count())
        .where(Service.state.in_(USES_CAPACITY))
        .group_by(Service.service_type_id)
    )
    if type_ids is not None:
        stmt = stmt.where(Service.service_type_id.in_(type_ids))
    return {type_id: count for type_id, count in db.session.execute(stmt)}


def get_service_type(type_id: int) -> ServiceType:
    found = db.session.get(ServiceType, type_id)
    if found is None:
        raise NotFound("There is no such service type.")
    return found


def _capacity(value: int | None) -> int | None:
    if value is not None and value < 0:
        raise Invalid(
            "Capacity is a number of services, 0 or more (empty: no limit).", field="capacity"
        )
    return value


def add_service_type(
    actor: Person,
    name: str,
    provider: str,
    description: str = "",
    capacity: int | None = None,
) -> ServiceType:
    """R9: the chair adds a service type, provided by a configured provider."""
    policy.require(actor, Permission.SERVICE_TYPE_MANAGE)
    name = clean(name, "Give the service type a name.", limit=200, field="name")
    kind = provider_kind(provider)
    if kind not in kinds.available():
        raise Invalid(f"This site cannot take requests for {kind} services yet.")
    if db.session.scalar(select(ServiceType.id).where(ServiceType.name == name)):
        raise Conflict(f"A service type called {name!r} already exists.")
    service_type = ServiceType(
        name=name,
        kind=kind,
        provider=provider,
        description=clean(description, limit=MAX_TEXT, field="description"),
        capacity=_capacity(capacity),
        created_by_id=actor.id,
    )
    db.session.add(service_type)
    db.session.flush()
    audit.record(
        actor, Action.SERVICE_TYPE_ADDED, service_type, f"capacity {capacity or 'unlimited'}"
    )
    return service_type


def update_service_type(
    actor: Person, service_type: ServiceType, capacity: int | None, active: bool
) -> ServiceType:
    """R9: the chair sets a type's capacity, or withdraws it from the catalogue."""
    policy.require(actor, Permission.SERVICE_TYPE_MANAGE)
    service_type.capacity = _capacity(capacity)
    service_type.active = active
    audit.record(
        actor,
        Action.SERVICE_TYPE_UPDATED,
        service_type,
        f"capacity {service_type.capacity if capacity is not None else 'unlimited'}, "
        f"{'offered' if active else 'withdrawn'}",
    )
    return service_type


# -- requests and decisions (R1, R9) -------------------------------------------------------------


def organisations_of(person: Person) -> list[TenantOrganisation]:
    """The organisations `person` is a current tenant member of, by name."""
    return list(
        db.session.scalars(
            select(TenantOrganisation)
            .join(TenantMember, TenantMember.organisation_id == TenantOrganisation.id)
            .where(TenantMember.person_id == person.id, TenantMember.ended_at.is_(None))
            .order_by(TenantOrganisation.name)
        )
    )


def ineligibility(organisation: TenantOrganisation) -> str | None:
    """R1: why the organisation may not receive services now, or None when it may."""
    if not organisation.eligible:
        return (
            f"{organisation.name} cannot receive services: {organisation.status.label.lower()}. "
            "Services go only to approved working groups and to community organisations the "
            "board recognised."
        )
    if organisation.services_suspended:
        return f"{organisation.name}'s services are suspended; new ones wait for that to end."
    return None


def request_service(
    actor: Person,
    organisation: TenantOrganisation,
    service_type: ServiceType,
    parameters: Mapping[str, Any],
    purpose: str = "",
) -> Service:
    """A tenant member asks for a service from the catalogue for their organisation.

    R1: refused, with the reason, unless the organisation is eligible. The parameters are
    the ones the type's kind asked for (its ParametersForm), checked by the kind.
    """
    if not policy.can(actor, Permission.TENANT_ACT_FOR, organisation):
        raise NotAllowed(f"Only tenant members of {organisation.name} may ask for its services.")
    # R1: services go only to approved WGs and COs the board recognised.
    reason = ineligibility(organisation)
    if reason:
        raise NotAllowed(reason)
    if not service_type.active:
        raise Conflict(f"{service_type.name} is no longer offered.")
    kind = kinds.get(service_type.kind)
    name, checked = kind.parameters(parameters)
    service = Service(
        organisation_id=organisation.id,
        service_type_id=service_type.id,
        name=name,
        parameters=checked,
        purpose=clean(purpose, limit=MAX_TEXT, field="purpose"),
        requested_by_id=actor.id,
    )
    db.session.add(service)
    db.session.flush()
    kind.requested(service, _configured(service_type.provider).cls)
    audit.record(
        actor, Action.SERVICE_REQUESTED, service, f"{service_type.name} for {organisation.name}"
    )
    _notify(service, organisation)
    return service


def decide(
    actor: Person,
    service: Service,
    approve: bool,
    reason: str = "",
    override_reason: str = "",
) -> Service:
    """R9: the chair approves (which enqueues provisioning) or declines with a reason.

    Over the type's capacity, approval needs an explicit override with its own reason.
    """
    policy.require(actor, Permission.SERVICE_DECIDE)
    # R9: decisions on one type run one at a time, so two approvals cannot both take the
    # last place; the request itself is re-read so it is decided once.
    lock_rows(ServiceType, [service.service_type_id])
    db.session.refresh(service, ["state"])
    if service.state != ServiceState.REQUESTED:
        raise Conflict(f"This request was already decided: {service.state.label.lower()}.")
    reason = clean(reason, limit=MAX_TEXT, field="reason")
    override_reason = clean(override_reason, limit=MAX_TEXT, field="override_reason")
    service_type = db.session.get(ServiceType, service.service_type_id)
    organisation = db.session.get(TenantOrganisation, service.organisation_id)
    assert service_type is not None and organisation is not None
    if not approve:
        if not reason:
            raise Invalid(
                "Give the reason for declining; the tenant members receive it.", field="reason"
            )
        _set_state(actor, service, ServiceState.DECLINED, reason, Action.SERVICE_DECLINED)
        service.decided_by_id, service.decided_at, service.decision_reason = (
            actor.id,
            utcnow(),
            reason,
        )
        return service
    # R1 again at approval: the organisation may have lapsed since it asked.
    why_not = ineligibility(organisation)
    if why_not:
        raise Conflict(why_not)
    in_use = capacity_in_use([service_type.id]).get(service_type.id, 0)
    # R9: every service is open to every tenant, subject to capacity; the chair may override.
    if service_type.at_capacity(in_use):
        if not override_reason:
            raise Conflict(
                f"{service_type.name} is at capacity ({in_use} of {service_type.capacity} in "
                "use). To approve anyway, tick the override and say why."
            )
        service.capacity_override_reason = override_reason
        audit.record(
            actor,
            Action.SERVICE_CAPACITY_OVERRIDDEN,
            service,
            f"{in_use} of {service_type.capacity} in use: {override_reason}",
        )
    service.decided_by_id, service.decided_at, service.decision_reason = (
        actor.id,
        utcnow(),
        reason or None,
    )
    _set_state(actor, service, ServiceState.APPROVED, reason or None, Action.SERVICE_APPROVED)
    start_provisioning(service)
    return service


def start_provisioning(service: Service) -> Job:
    """Enqueue the job that makes the service real on its provider (lifecycle.py)."""
    return enqueue("provision_service", subject=service, service_id=service.id)


def _set_state(
    actor: Person | None, service: Service, state: ServiceState, reason: str | None, action: Action
) -> None:
    if service.state == state:
        return
    old = service.state
    service.state = state
    service.state_reason = reason
    service.state_changed_at = utcnow()
    audit.record(actor, action, service, reason)
    _notify(service)
    signals.send(
        signals.service_state_changed,
        service=service,
        old=old,
        new=state,
        actor=actor,
        reason=reason,
    )


def _notify(service: Service, organisation: TenantOrganisation | None = None) -> None:
    # R5: tenant members are told whenever their service changes state.
    organisation = organisation or db.session.get(TenantOrganisation, service.organisation_id)
    assert organisation is not None
    recipients = [p.email for p in contacts_for(organisation)]
    send_mail(
        recipients,
        f"{service.name}: {service.state.label}",
        "service_state",
        service=service,
        organisation=organisation,
        url=external_url("provisioning.service_page", service_id=service.id),
    )


# -- reading -------------------------------------------------------------------------------------


def _with_related(stmt: Select) -> Select:
    options = [
        selectinload(Service.organisation),
        selectinload(Service.service_type),
        selectinload(Service.requested_by),
    ]
    for kind in kinds.available().values():
        options += kind.load_options()
    return stmt.options(*options)


def services_for(person: Person, state: str | None = None) -> Select:
    """Services `person` may see, newest first: all for staff and the chair, otherwise
    those of the organisations they are a tenant member of."""
    stmt = _with_related(select(Service)).order_by(Service.requested_at.desc(), Service.id.desc())
    if not policy.can(person, Permission.SERVICE_READ_ALL):
        mine = select(TenantMember.organisation_id).where(
            TenantMember.person_id == person.id, TenantMember.ended_at.is_(None)
        )
        stmt = stmt.where(Service.organisation_id.in_(mine))
    if state:
        try:
            stmt = stmt.where(Service.state == ServiceState(state))
        except ValueError as exc:
            raise Invalid(f"{state!r} is not a service state.") from exc
    return stmt


def services_of_organisations_of(person: Person) -> list[Service]:
    """The services (not decommissioned) of the organisations `person` is a current tenant
    member of, by organisation and name: their dashboard shows them with their state,
    whatever else their role lets them see."""
    mine = select(TenantMember.organisation_id).where(
        TenantMember.person_id == person.id, TenantMember.ended_at.is_(None)
    )
    return list(
        db.session.scalars(
            select(Service)
            .join(TenantOrganisation, TenantOrganisation.id == Service.organisation_id)
            .options(selectinload(Service.organisation), selectinload(Service.service_type))
            .where(
                Service.organisation_id.in_(mine),
                Service.state != ServiceState.DECOMMISSIONED,
            )
            .order_by(TenantOrganisation.name, Service.name, Service.id)
        )
    )


def services_of_organisation(person: Person, organisation: TenantOrganisation) -> list[Service]:
    """The organisation's services (not decommissioned) by name, for its page; none unless
    `person` may see them (its tenant members, staff and the chair)."""
    if not (
        policy.can(person, Permission.SERVICE_READ_ALL)
        or policy.can(person, Permission.SERVICE_MANAGE, organisation)
    ):
        return []
    return list(
        db.session.scalars(
            select(Service)
            .options(selectinload(Service.service_type))
            .where(
                Service.organisation_id == organisation.id,
                Service.state != ServiceState.DECOMMISSIONED,
            )
            .order_by(Service.name, Service.id)
        )
    )


def waiting_decisions() -> list[Service]:
    """R9: the service requests waiting for the chair's decision, oldest first (the chair's
    queue lists them; the decision itself is taken on the service's page)."""
    return list(
        db.session.scalars(
            _with_related(select(Service))
            .where(Service.state == ServiceState.REQUESTED)
            .order_by(Service.requested_at, Service.id)
        )
    )


def count_waiting_decisions() -> int:
    return (
        db.session.scalar(select(func.count()).where(Service.state == ServiceState.REQUESTED)) or 0
    )


def get_service(person: Person, service_id: int) -> Service:
    """The service, if `person` may see it (cross-tenant lookups find nothing)."""
    service = db.session.scalar(_with_related(select(Service)).where(Service.id == service_id))
    if service is None or not (
        policy.can(person, Permission.SERVICE_READ_ALL)
        or policy.can(person, Permission.SERVICE_MANAGE, service.organisation)
    ):
        raise NotFound("There is no such service.")
    return service
