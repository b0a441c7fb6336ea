"""The TLS kind's rows (R12): one `TlsIssuance` per order of a certificate service, the newest
issued one being the service's certificate. The private key is never a column: `key_file` is
its path in the acme provider's key directory (0600)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from infrawg.extensions import Model, db
from infrawg.provisioning.models import Service
from infrawg.timeutil import utcnow

# The steps of an issuance.
AWAITING_TENANT = "awaiting_tenant"  # R12: a name is not hosted here; a tenant member approves
ORDERING = "ordering"  # the order is not placed yet
AWAITING_DNS = "awaiting_dns"  # R12: TXT values the tenant sets by hand
VALIDATING = "validating"  # the TXT values are served; the CA checks them
ISSUED = "issued"
FAILED = "failed"
REVOKED = "revoked"


class TlsIssuance(Model):
    """One order of a certificate: its names, the order's JSON state while it runs, then the
    chain and its validity once issued."""

    __tablename__ = "tls_issuance"

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("service.id"), index=True)
    names: Mapped[list[str]] = mapped_column(JSON, default=list)
    step: Mapped[str] = mapped_column(String(16), default=ORDERING)
    order: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    issued_at: Mapped[datetime | None]
    not_after: Mapped[datetime | None]
    serial: Mapped[str | None] = mapped_column(String(64))
    issuer: Mapped[str | None] = mapped_column(String(255))
    chain_pem: Mapped[str | None] = mapped_column(Text)
    key_file: Mapped[str | None] = mapped_column(String(1024))
    # R12: the key is handed out once, to a tenant member.
    key_downloaded_at: Mapped[datetime | None]
    key_downloaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    error: Mapped[str | None] = mapped_column(Text)
    # R12: the tenant member who approved ordering names this site does not host.
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    approved_at: Mapped[datetime | None]
    renewal_of_id: Mapped[int | None] = mapped_column(Integer)

    @property
    def audit_label(self) -> str:
        return f"certificate issuance #{self.id} ({', '.join(self.names)})"


def issuances_of(service: Service) -> list[TlsIssuance]:
    """Newest first."""
    return list(
        db.session.scalars(
            select(TlsIssuance)
            .where(TlsIssuance.service_id == service.id)
            .order_by(TlsIssuance.id.desc())
        )
    )


def current_of(service: Service) -> TlsIssuance | None:
    """The newest issued (not revoked) certificate of the service."""
    return current_by_service_id(service.id)


def current_by_service_id(service_id: int) -> TlsIssuance | None:
    return db.session.scalar(
        select(TlsIssuance)
        .where(TlsIssuance.service_id == service_id, TlsIssuance.step == ISSUED)
        .order_by(TlsIssuance.id.desc())
        .limit(1)
    )


def in_flight(service: Service) -> TlsIssuance | None:
    return db.session.scalar(
        select(TlsIssuance)
        .where(
            TlsIssuance.service_id == service.id,
            TlsIssuance.step.in_((AWAITING_TENANT, ORDERING, AWAITING_DNS, VALIDATING)),
        )
        .order_by(TlsIssuance.id.desc())
        .limit(1)
    )
