"""Fixtures of the status tests: two organisations with services, and their tenant members."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest

from infrawg.extensions import db
from infrawg.membership.models import Person
from infrawg.provisioning.models import Service, ServiceState, ServiceType
from infrawg.tenants.models import TenantOrganisation
from infrawg.timeutil import utcnow
from tests.conftest import make_organisation

WHEN = "%Y-%m-%dT%H:%M"


def make_service(
    organisation: TenantOrganisation,
    name: str,
    requester: Person,
    state: ServiceState = ServiceState.ACTIVE,
) -> Service:
    service_type = db.session.query(ServiceType).filter_by(name="DNS hosting").one_or_none()
    if service_type is None:
        service_type = ServiceType(name="DNS hosting", kind="dns", provider="zonefile")
        db.session.add(service_type)
        db.session.flush()
    service = Service(
        organisation_id=organisation.id,
        service_type_id=service_type.id,
        name=name,
        state=state,
        requested_by_id=requester.id,
    )
    db.session.add(service)
    db.session.commit()
    return service


@dataclass
class Tenants:
    """Org A (liaisons Ann and Abe) and org B (Bea, and Ann too), a service each."""

    ann: Person
    abe: Person
    bea: Person
    org_a: TenantOrganisation
    org_b: TenantOrganisation
    service_a: Service
    service_b: Service


@pytest.fixture
def tenants(people) -> Tenants:
    ann = people.make("Ann Alpha", email="ann@example.org")
    abe = people.make("Abe Alpha", email="abe@example.org")
    bea = people.make("Bea Beta", email="bea@example.org")
    org_a = make_organisation("Alpha WG", ann, abe)
    org_b = make_organisation("Beta Project WG", bea, ann)
    return Tenants(
        ann,
        abe,
        bea,
        org_a,
        org_b,
        make_service(org_a, "alpha-zone.example.org.", ann),
        make_service(org_b, "beta-secret.example.org.", bea),
    )


def notice_form(*services: Service, **overrides) -> dict:
    starts = (utcnow() + timedelta(days=2)).replace(second=0, microsecond=0)
    form = {
        "kind": "maintenance",
        "title": "Name server upgrade",
        "what": "We upgrade BIND on the primary name server.",
        "expected_impact": "Zone updates wait for up to 30 minutes.",
        "public_summary": "Upgrade of a DNS server",
        "starts_at": starts.strftime(WHEN),
        "ends_at": (starts + timedelta(hours=2)).strftime(WHEN),
        "services": [s.id for s in services],
    }
    form.update(overrides)
    return form
