"""The TLS kind (R12): a certificate for a list of names from the `acme` provider's CA.

Registered under the entry-point group `infrawg.kinds` as `tls` (and in kinds.BUILT_IN).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC
from pathlib import Path
from typing import Any

from cryptography import x509
from flask import Flask

from infrawg.extensions import db
from infrawg.jobs import JobContext, Pending
from infrawg.membership.models import Person
from infrawg.provisioning.base import Provider
from infrawg.provisioning.kinds import Kind
from infrawg.provisioning.kinds.tls import issuance, models
from infrawg.provisioning.kinds.tls.access import acme_provider, is_tenant_member
from infrawg.provisioning.kinds.tls.forms import CertificateParametersForm
from infrawg.provisioning.kinds.tls.models import TlsIssuance
from infrawg.provisioning.kinds.tls.spec import CertificateSpec, parse_names
from infrawg.provisioning.models import Service
from infrawg.provisioning.providers.acme import renewal_point


class TlsKind(Kind):
    name = "tls"
    label = "TLS certificate"
    ParametersForm = CertificateParametersForm
    panels = ("provisioning/tls/_certificate_panel.html",)

    def parameters(self, params: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        names = parse_names(params.get("names") or "")
        return names[0], {"names": list(names)}

    def spec_of(self, service: Service) -> CertificateSpec:
        return CertificateSpec(service.id, tuple(service.parameters.get("names") or ()))

    def monitoring_targets(self, service: Service) -> tuple[Any, ...]:
        # R13: an HTTPS probe of each host of the certificate (wildcards cannot be probed);
        # the blackbox exporter reads the certificate served there and its expiry.
        from infrawg.provisioning.providers.monitoring import certificate_targets

        return certificate_targets(service.id, list(self.spec_of(service).names))

    def provision(
        self, ctx: JobContext, service: Service, provider: Provider[Any], reviewed: str | None
    ) -> Pending | None:
        engine = acme_provider(provider).engine()
        current = models.in_flight(service)
        if current is None:
            if models.current_of(service) is not None:
                ctx.log("the certificate is issued; nothing to do")
                return None
            current = TlsIssuance(service_id=service.id, names=list(self.spec_of(service).names))
            db.session.add(current)
            db.session.flush()
        if current.step == models.AWAITING_TENANT or (
            current.step == models.ORDERING
            and current.approved_at is None
            and issuance.unmanaged_names(current.names)
        ):
            return issuance.waiting_for_tenant(current)
        if current.step == models.ORDERING:
            return issuance.start(ctx, engine, current)
        if current.step == models.AWAITING_DNS:
            return issuance.manual_dns(ctx, engine, current)
        return issuance.poll(ctx, engine, current)

    def decommissioned(self, service: Service) -> None:
        """An order still in flight is abandoned: its key file goes, the row says why."""
        while (waiting := models.in_flight(service)) is not None:
            if waiting.order is not None:
                Path(str(waiting.order.get("key_file", ""))).unlink(missing_ok=True)
            waiting.step = models.FAILED
            waiting.error = "abandoned: the service was decommissioned"

    def panel_context(self, service: Service, person: Person) -> dict[str, Any]:
        history = models.issuances_of(service)
        current = models.current_of(service)
        renewal = None
        if current is not None and current.chain_pem and current.not_after is not None:
            leaf = x509.load_pem_x509_certificates(current.chain_pem.encode())[0]
            renewal = renewal_point(leaf.not_valid_before_utc, leaf.not_valid_after_utc)
            renewal = renewal.astimezone(UTC).replace(tzinfo=None)
        waiting = models.in_flight(service)
        manual: list[tuple[str, str]] = []
        if waiting is not None and waiting.order is not None:
            manual = [
                (c["owner"], c["value"])
                for c in waiting.order["challenges"]
                if issuance.hosted_zone(c["identifier"]) is None
            ]
        return {
            "tls_waiting": waiting,
            "tls_unmanaged": issuance.unmanaged_names(waiting.names) if waiting else [],
            "tls_manual": manual,
            "tls_history": history,
            "tls_current": current,
            "tls_renewal": renewal,
            "tls_is_tenant": is_tenant_member(person, service),
        }

    def init_app(self, app: Flask) -> None:
        from infrawg.provisioning.kinds.tls import views  # noqa: F401  (routes, jobs)


TLS = TlsKind()
