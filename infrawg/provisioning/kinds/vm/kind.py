"""The VM kind (R13). Registered as `vm` in kinds.BUILT_IN and the `infrawg.kinds` entry points.

The provider is the libvirt one (`infrawg.provisioning.providers.libvirt`, entry point
`libvirt` in `infrawg.providers`); its module imports `libvirt`, so this module imports it only
where a spec is built.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from flask import Flask, current_app
from sqlalchemy import select

from infrawg.errors import Conflict, Invalid
from infrawg.extensions import db
from infrawg.membership.models import Person
from infrawg.policy import Permission, can
from infrawg.provisioning.base import Provider
from infrawg.provisioning.kinds import Kind
from infrawg.provisioning.kinds.vm import catalogue
from infrawg.provisioning.kinds.vm.forms import VmParametersForm
from infrawg.provisioning.kinds.vm.models import VmBackup, backup_of
from infrawg.provisioning.models import Service, ServiceState, ServiceType
from infrawg.provisioning.providers import cloudinit
from infrawg.tenants.models import TenantOrganisation

if TYPE_CHECKING:
    from infrawg.provisioning.providers.libvirt import VmSpec

# A hostname is free again once its VM is gone (or was never made).
_GONE = (ServiceState.DECLINED, ServiceState.DECOMMISSIONED)


class VmKind(Kind):
    name = "vm"
    label = "Server (VM)"
    ParametersForm = VmParametersForm
    panels = (
        "provisioning/vm/_server.html",
        "provisioning/vm/_monitoring.html",
        "provisioning/vm/_power.html",
    )

    def form_parameters(self, form: Any) -> dict[str, Any]:
        return {name: form[name].data for name in ("hostname", "size", "image", "ssh_keys")}

    def parameters(self, params: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        try:
            hostname = cloudinit.validate_hostname(str(params.get("hostname") or ""))
        except Invalid as exc:
            raise Invalid(str(exc), field="hostname") from exc
        size = catalogue.size(str(params.get("size") or ""))
        image = catalogue.image(str(params.get("image") or ""))
        raw = params.get("ssh_keys") or ""
        lines = raw.splitlines() if isinstance(raw, str) else list(raw)
        try:
            keys = cloudinit.validate_ssh_keys(lines)
        except Invalid as exc:
            raise Invalid(str(exc), field="ssh_keys") from exc
        taken = db.session.scalar(
            select(Service.id)
            .join(ServiceType, ServiceType.id == Service.service_type_id)
            .where(ServiceType.kind == self.name, Service.name == hostname)
            .where(Service.state.not_in(_GONE))
        )
        if taken is not None:
            raise Conflict(f"There is already a server called {hostname}.")
        return hostname, {
            "hostname": hostname,
            "size": size.key,
            "vcpus": size.vcpus,
            "memory_mib": size.memory_mib,
            "disk_gib": size.disk_gib,
            "image_key": image.key,
            "image": image.image,
            "ssh_keys": list(keys),
        }

    def requested(self, service: Service, provider: type[Provider[Any]]) -> None:
        # R13: every server is backed up; its policy exists from the request on.
        db.session.add(VmBackup(service_id=service.id))

    def spec_of(self, service: Service) -> VmSpec:
        from infrawg.provisioning.providers.libvirt import VmSpec

        p = service.parameters
        organisation = db.session.get(TenantOrganisation, service.organisation_id)
        return VmSpec(
            name=service.name,
            vcpus=int(p["vcpus"]),
            memory_mib=int(p["memory_mib"]),
            disk_gib=int(p["disk_gib"]),
            image=str(p["image"]),
            ssh_keys=tuple(p["ssh_keys"]),
            tenant=organisation.name if organisation is not None else "",
            organisation_id=service.organisation_id,
            service_id=service.id,
            domain=str(current_app.config.get("VM_DOMAIN") or ""),
            instance_id=str(p.get("instance_id") or ""),  # a rebuild gives a new one (power.py)
        )

    def suspended_spec(self, service: Service) -> VmSpec:
        # R7: a suspended server is powered off, its disk and definition kept as they are.
        from dataclasses import replace

        from infrawg.provisioning.providers.libvirt import Power

        return replace(self.spec_of(service), power=Power.SHUTOFF)

    def monitoring_targets(self, service: Service) -> tuple[Any, ...]:
        from infrawg.provisioning.kinds.vm import monitoring

        return monitoring.targets_of(service)

    def panel_context(self, service: Service, person: Person) -> dict[str, Any]:
        p = service.parameters
        keys = [(cloudinit.key_fingerprint(k), k.split()[2:]) for k in p.get("ssh_keys", [])]
        image = catalogue.images().get(str(p.get("image_key")))
        return {
            "vm": p,
            "vm_image_label": image.label if image is not None else p.get("image"),
            "vm_keys": [(fp, " ".join(comment)) for fp, comment in keys],
            "backup": backup_of(service),
            "backup_staff": can(person, Permission.JOB_MANAGE),
            "vm_simulated": _simulated(service.service_type.provider),
            **self._monitoring_context(service, person),
        }

    def _monitoring_context(self, service: Service, person: Person) -> dict[str, Any]:
        from infrawg.provisioning.kinds.vm import monitoring

        # The page already requires SERVICE_VIEW (staff, the service's tenant members); asked
        # again so this panel never shows a server's state to anyone else.
        if not can(person, Permission.SERVICE_VIEW, service):
            return {"vm_watch": monitoring.Watch("unavailable"), "vm_watch_staff": False}
        return {
            "vm_watch": monitoring.watch(service),
            "vm_watch_staff": can(person, Permission.JOB_MANAGE),  # Prometheus's own error
            "vm_watch_labels": monitoring.JOB_LABELS,
        }

    def init_app(self, app: Flask) -> None:
        from infrawg.provisioning.kinds.vm import (  # noqa: F401  (jobs, routes)
            backups,
            monitoring,
            power,
            power_views,
            views,
        )

        # R13: a server that starts or stops running is (un)watched by the monitoring.
        monitoring.init_app(app)


def _simulated(provider: str) -> bool:
    """The provider is libvirt's test driver (`test:///…`): no real machine behind it."""
    from infrawg.provisioning import service as services

    settings = services.provider_settings().get(provider) or {}
    return str(settings.get("uri", "")).startswith("test:")


VM = VmKind()
