"""The DNS kind (R11): hosted zones, their records, DNSSEC on request, the delegation check.

Registered under the entry-point group `infrawg.kinds` as `dns` (and in kinds.BUILT_IN).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from infrawg.jobs import JobContext, Pending
from infrawg.membership.models import Person
from infrawg.policy import Permission, can
from infrawg.provisioning.base import Provider
from infrawg.provisioning.kinds import Kind
from infrawg.provisioning.kinds.dns import zones
from infrawg.provisioning.kinds.dns.forms import DnssecForm, RecordForm, ZoneParametersForm
from infrawg.provisioning.kinds.dns.models import zone_of
from infrawg.provisioning.kinds.dns.spec import ZoneSpec
from infrawg.provisioning.models import Service


class DnsKind(Kind):
    name = "dns"
    label = "DNS zone"
    ParametersForm = ZoneParametersForm
    panels = ("provisioning/dns/_registrar.html", "provisioning/dns/_records_panel.html")
    # Record edits answer an htmx request with the records table.
    fragment = "provisioning/_records.html"

    def parameters(self, params: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        return zones.parameters(params)

    def requested(self, service: Service, provider: type[Provider[Any]]) -> None:
        zones.create_zone(service, provider.capabilities)

    def spec_of(self, service: Service) -> ZoneSpec:
        zone = zone_of(service)
        if zone is None:
            raise ValueError(f"Service #{service.id} has no DNS zone")
        return zones.spec_of(zone, zones.records_of(zone))

    def provision(
        self, ctx: JobContext, service: Service, provider: Provider[Any], reviewed: str | None
    ) -> Pending | None:
        return zones.provision(ctx, service, provider, reviewed)

    def panel_context(self, service: Service, person: Person) -> dict[str, Any]:
        zone = zone_of(service)
        if zone is None:
            return {"zone": None}
        records = zones.records_of(zone)
        context: dict[str, Any] = {
            "zone": zone,
            "records": records,
            "ns_records": zones.apex_ns(zone, records),
            "ds_records": zones.ds_to_set(zone),
            "dnssec_form": DnssecForm(dnssec=zone.dnssec),
            "add_form": RecordForm(formdata=None),
            "edit_form": None,
            "editing": None,
            "confirming": None,
        }
        if can(person, Permission.SERVICE_MANAGE, service):
            context["delegation_job"] = zones.latest_delegation_job(service)
            context["delegation"] = zones.delegation_result(context["delegation_job"])
        return context

    def init_app(self, app: Flask) -> None:
        from infrawg.provisioning.kinds.dns import resign, views  # noqa: F401  (routes, jobs)


DNS = DnsKind()
