"""The service catalogue and services. Each kind keeps its own rows in its folder (DNS zones
and records: kinds/dns/models.py)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from infrawg.enums import LabelledEnum
from infrawg.extensions import Model, enum_type
from infrawg.timeutil import utcnow

if TYPE_CHECKING:
    from infrawg.membership.models import Person
    from infrawg.tenants.models import TenantOrganisation


class ServiceState(LabelledEnum):
    REQUESTED = "requested", "Requested: waiting for the chair"
    APPROVED = "approved", "Approved: waiting to be provisioned"
    DECLINED = "declined", "Declined"
    PROVISIONING = "provisioning", "Being provisioned"
    ACTIVE = "active", "Active"
    FAILED = "failed", "Provisioning failed: staff are looking at it"
    DRIFTED = "drifted", "Drifted: a check found it differs from what the site holds"
    SUSPENDED = "suspended", "Suspended"
    DECOMMISSIONED = "decommissioned", "Decommissioned"

    @property
    def awaits_decision(self) -> bool:
        """R9: the request waits for the chair to approve or decline it."""
        return self is ServiceState.REQUESTED

    @property
    def suspended(self) -> bool:
        return self is ServiceState.SUSPENDED

    @property
    def drifted(self) -> bool:
        """A verify check found the resource differs from what the site holds."""
        return self is ServiceState.DRIFTED

    @property
    def on_provider(self) -> bool:
        """The resource exists on its provider: records can be edited, plans applied."""
        return self in ON_PROVIDER


# States in which a service's resource exists on its provider.
ON_PROVIDER = (ServiceState.ACTIVE, ServiceState.FAILED, ServiceState.DRIFTED)
# R9: services in these states hold a place of their type's capacity.
USES_CAPACITY = (
    ServiceState.APPROVED,
    ServiceState.PROVISIONING,
    ServiceState.ACTIVE,
    ServiceState.FAILED,
    ServiceState.DRIFTED,
    ServiceState.SUSPENDED,
)


class ServiceType(Model):
    """R9: a kind of service in the catalogue, provided by one configured provider."""

    __tablename__ = "service_type"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(20))  # domain, dns, tls, vm, app
    # The name of a provider instance in INFRAWG_PROVIDERS (never its settings or secrets).
    provider: Mapped[str] = mapped_column(String(80))
    description: Mapped[str] = mapped_column(Text, default="")
    capacity: Mapped[int | None] = mapped_column(Integer)  # None: no limit
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))

    @property
    def audit_label(self) -> str:
        return f"service type {self.name} ({self.kind} on {self.provider})"

    def at_capacity(self, in_use: int) -> bool:
        """R9: with ``in_use`` services holding a place, approving another needs an override."""
        return self.capacity is not None and in_use >= self.capacity


class Service(Model):
    """One organisation's service: asked for by a tenant member, decided by the chair, then
    provisioned by jobs. `parameters` holds what the type's parameter form asked."""

    __tablename__ = "service"
    __table_args__ = (
        Index("ix_service_state_requested", "state", "requested_at"),
        Index("ix_service_org_state", "organisation_id", "state"),
        Index("ix_service_type_state", "service_type_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("tenant_organisation.id"))
    service_type_id: Mapped[int] = mapped_column(ForeignKey("service_type.id"))
    name: Mapped[str] = mapped_column(String(255))  # what it is called: the zone, the host
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    purpose: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[ServiceState] = mapped_column(
        enum_type(ServiceState), default=ServiceState.REQUESTED
    )
    state_reason: Mapped[str | None] = mapped_column(Text)
    state_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    decided_at: Mapped[datetime | None]
    decision_reason: Mapped[str | None] = mapped_column(Text)
    # R9: set when the chair approved beyond the type's capacity; the reason is required.
    capacity_override_reason: Mapped[str | None] = mapped_column(Text)
    # When the provider last checked the resource (provisioning, or the daily verify).
    verified_at: Mapped[datetime | None]

    organisation: Mapped[TenantOrganisation] = relationship(lazy="raise")
    service_type: Mapped[ServiceType] = relationship(lazy="raise")
    requested_by: Mapped[Person] = relationship(foreign_keys=[requested_by_id], lazy="raise")
    decided_by: Mapped[Person | None] = relationship(foreign_keys=[decided_by_id], lazy="raise")

    @property
    def audit_label(self) -> str:
        return f"service #{self.id} {self.name}"
