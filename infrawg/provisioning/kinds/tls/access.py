"""Who acts for a certificate's organisation, and the ACME provider a certificate needs:
shared by the kind, its pages and its jobs."""

from __future__ import annotations

from typing import Any

from infrawg.errors import Invalid
from infrawg.extensions import db
from infrawg.membership.models import Person
from infrawg.policy import Permission, can
from infrawg.provisioning.base import Provider
from infrawg.provisioning.models import Service
from infrawg.tenants.models import TenantOrganisation


def is_tenant_member(person: Person, service: Service) -> bool:
    """A tenant member of the service's organisation (not staff, not the chair as such)."""
    organisation = db.session.get(TenantOrganisation, service.organisation_id)
    return can(person, Permission.TENANT_ACT_FOR, organisation)


def acme_provider(provider: Provider[Any]) -> Any:
    from infrawg.provisioning.providers.acme.provider import AcmeProvider

    if not isinstance(provider, AcmeProvider):
        raise Invalid(f"A certificate needs an ACME provider, not {provider.name}.")
    return provider
