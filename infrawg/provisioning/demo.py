"""Demo data of the service layer: a DNS service type on the zonefile provider (files under
instance/zones, so `make run` needs no DNS server) and a zone requested by the first demo
tenant organisation."""

from __future__ import annotations

from sqlalchemy import select

from infrawg import audit
from infrawg.actions import Action
from infrawg.extensions import db
from infrawg.governance.models import Role, RoleGrant
from infrawg.membership.models import Person
from infrawg.provisioning import service as services
from infrawg.provisioning.models import ServiceType


def load_demo(people: dict[str, Person]) -> None:
    chair = db.session.scalar(
        select(Person)
        .join(RoleGrant, RoleGrant.person_id == Person.id)
        .where(RoleGrant.role == Role.CHAIR, RoleGrant.ended_at.is_(None))
    )
    dns_type = ServiceType(
        name="DNS hosting",
        kind="dns",
        provider=_zonefile_provider(),
        description="A hosted DNS zone, DNSSEC-signed on request.",
        capacity=20,
        created_by_id=chair.id if chair else None,
    )
    db.session.add(dns_type)
    db.session.flush()
    audit.record(chair, Action.SERVICE_TYPE_ADDED, dns_type, "demo data")
    _request_a_zone(dns_type)


def _zonefile_provider() -> str:
    for name in services.provider_settings():
        try:
            if services.provider_kind(name) == "dns":
                return name
        except Exception:  # noqa: S112 - a misconfigured provider is skipped in demo data
            continue
    return "zonefile"


def _request_a_zone(dns_type: ServiceType) -> None:
    try:
        from infrawg.tenants.models import TenantMember, TenantOrganisation
    except ImportError:  # pragma: no cover - the tenants area is not installed
        return
    member = db.session.scalar(
        select(TenantMember)
        .join(TenantOrganisation, TenantOrganisation.id == TenantMember.organisation_id)
        .where(TenantMember.ended_at.is_(None))
        .order_by(TenantOrganisation.id, TenantMember.id)
    )
    if member is None:
        return
    organisation = db.session.get(TenantOrganisation, member.organisation_id)
    person = db.session.get(Person, member.person_id)
    if organisation is None or person is None or services.ineligibility(organisation):
        return
    zone = f"{organisation.slug}.example.org"
    services.request_service(
        person, organisation, dns_type, {"zone": zone, "dnssec": True}, "demo data"
    )
