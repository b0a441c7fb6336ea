"""The DNS kind's rows (R11): a hosted zone per DNS service, its records keyed by (zone, name,
type). The generic Service knows nothing of them: `zone_of(service)` finds a service's zone."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from infrawg.extensions import Model, db
from infrawg.provisioning.models import Service


def zone_of(service: Service) -> DnsZone | None:
    """The zone of a DNS service (None for a service of another kind)."""
    return db.session.scalar(select(DnsZone).where(DnsZone.service_id == service.id))


class DnsZone(Model):
    """R11: a hosted zone. Its records are rows keyed by (zone, name, type)."""

    __tablename__ = "dns_zone"

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("service.id"), unique=True)
    name: Mapped[str] = mapped_column(String(255), index=True)  # absolute, lower case
    dnssec: Mapped[bool] = mapped_column(Boolean, default=False)
    # What the provider last reported (after a job): the DS records for the registrar.
    published_ds: Mapped[list[str]] = mapped_column(JSON, default=list)
    observed_at: Mapped[datetime | None]
    # Set once the first provisioning job has taken in what the server already served.
    adopted: Mapped[bool] = mapped_column(Boolean, default=False)

    service: Mapped[Service] = relationship(lazy="raise")
    records: Mapped[list[DnsRecord]] = relationship(
        back_populates="zone",
        lazy="raise",
        order_by="(DnsRecord.name, DnsRecord.rdtype)",
        cascade="all, delete-orphan",
    )

    @property
    def audit_label(self) -> str:
        return f"zone {self.name}"


class DnsRecord(Model):
    """One RRset of a zone: owner name (absolute), type, TTL and its canonical values."""

    __tablename__ = "dns_record"
    __table_args__ = (UniqueConstraint("zone_id", "name", "rdtype"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    zone_id: Mapped[int] = mapped_column(ForeignKey("dns_zone.id"))
    name: Mapped[str] = mapped_column(String(255))
    rdtype: Mapped[str] = mapped_column(String(16))
    ttl: Mapped[int] = mapped_column(Integer)
    values: Mapped[list[str]] = mapped_column(JSON)

    zone: Mapped[DnsZone] = relationship(back_populates="records", lazy="raise")

    @property
    def audit_label(self) -> str:
        return f"{self.name} {self.rdtype}"
