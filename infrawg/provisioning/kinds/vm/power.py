"""Reboot and rebuild of a tenant's server (R13), by its tenant members and staff.

A reboot is a job on the provider (`vm.reboot`): the guest restarts, its disk is kept.
A rebuild installs the server afresh from its image: the disk is erased and cloud-init runs
again (with the keys the site holds now), because the server gets a new instance id. It is a
reviewed plan like any other change: the rebuild page shows the plan (a `replace` of the disk
and the instance) and asks for the hostname; the provisioning job applies exactly that plan,
or nothing when the server changed since. Backups are kept, so the data can be restored.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from infrawg import audit, policy
from infrawg.actions import Action
from infrawg.errors import Conflict, Invalid
from infrawg.extensions import db
from infrawg.jobs import JobContext, enqueue, job
from infrawg.jobs.models import Job
from infrawg.membership.models import Person
from infrawg.notices.mail import send_mail
from infrawg.policy import Permission
from infrawg.provisioning.base import Plan, ProviderError
from infrawg.provisioning.models import Service, ServiceState
from infrawg.tenants.models import TenantOrganisation
from infrawg.web import external_url

REBOOT_JOB = "vm.reboot"
# What a person may reboot or rebuild: a server that runs (a suspended one is the chair's).
POWERED = (ServiceState.ACTIVE, ServiceState.DRIFTED)


def _check(actor: Person, service: Service, what: str) -> None:
    policy.require(actor, Permission.SERVICE_MANAGE, service)
    if service.service_type.kind != "vm":
        raise Invalid("Only a server can be rebooted or rebuilt.")
    if service.state not in POWERED:
        raise Conflict(
            f"Only a running server can be {what}; {service.name} is {service.state.label}."
        )


def request_reboot(actor: Person, service: Service) -> Job:
    """A reboot of the server, as a job (the guest restarts; its disk is kept)."""
    _check(actor, service, "rebooted")
    audit.record(actor, Action.VM_REBOOT_REQUESTED, service)
    return enqueue(REBOOT_JOB, subject=service, service_id=service.id)


@job(REBOOT_JOB, max_attempts=3)
def reboot_job(ctx: JobContext, service_id: int) -> None:
    from infrawg.provisioning.lifecycle import load
    from infrawg.provisioning.service import provider_for

    service = load(service_id)
    if service.state not in POWERED:
        ctx.log(f"nothing to do: the server is {service.state.value}")
        return
    provider: Any = provider_for(service.service_type.provider)
    for line in provider.reboot(service.name):
        ctx.log(line)


def next_instance(service: Service) -> str:
    """The instance id of the server's next install: ``web1-1``, then ``web1-2``…"""
    current = str(service.parameters.get("instance_id") or f"{service.name}-1")
    number = current.rsplit("-", 1)[-1]
    return f"{service.name}-{int(number) + 1 if number.isdigit() else 2}"


def rebuild_plan(actor: Person, service: Service) -> Plan[Any]:
    """What a rebuild would change on the provider, nothing touched."""
    from infrawg.provisioning.lifecycle import kind_of
    from infrawg.provisioning.service import provider_for

    _check(actor, service, "rebuilt")
    current: Any = kind_of(service).spec_of(service)  # a VmSpec
    spec = replace(current, instance_id=next_instance(service))
    try:
        return provider_for(service.service_type.provider).plan_for(spec)
    except ProviderError as exc:
        raise Conflict(f"The provider could not be read just now: {exc}") from exc


def request_rebuild(actor: Person, service: Service, reviewed: str, hostname: str) -> Job:
    """Rebuild the server by the plan reviewed; the hostname typed confirms it."""
    from infrawg.provisioning.lifecycle import digest, start_provisioning

    plan = rebuild_plan(actor, service)
    if hostname.strip().lower() != service.name:
        raise Invalid(f"Type {service.name} to confirm the rebuild.", field="hostname")
    if digest(plan) != reviewed:
        raise Conflict("The server changed since you reviewed the rebuild; review it again.")
    service.parameters = {**service.parameters, "instance_id": next_instance(service)}
    audit.record(actor, Action.VM_REBUILD_REQUESTED, service, plan.render()[:4000])
    _tell_tenants(service, actor)
    return start_provisioning(service, reviewed)


def _tell_tenants(service: Service, actor: Person) -> None:
    """Every tenant member of the server's organisation hears of the rebuild (it erases the
    disk), whoever of them asked for it."""
    from infrawg.tenants.service import contacts_for

    organisation = db.session.get(TenantOrganisation, service.organisation_id)
    if organisation is None:
        return
    send_mail(
        [p.email for p in contacts_for(organisation)],
        f"{service.name} is being rebuilt",
        "vm_rebuilt",
        service=service,
        actor=actor,
        url=external_url("provisioning.service_page", service_id=service.id),
    )
