"""The `acme` provider (kind `tls`): one ACME CA account, configured in INFRAWG_PROVIDERS.

The order itself is run by the tls kind's provisioning step (it needs the zones this site
hosts to place the DNS-01 values); this provider builds the engine, reads what is issued and
revokes on decommission (a destroy plan).

    "acme": {"directory_url": "https://acme-v02.api.letsencrypt.org/directory",
             "key_directory": "/var/lib/infrawg/acme", "ca_identities": "letsencrypt.org"}
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import dns.resolver

from infrawg.jobs import Pending
from infrawg.provisioning.base import Check, Observed, Plan, Provider, ProviderError
from infrawg.provisioning.kinds.tls.spec import CertificateSpec
from infrawg.provisioning.providers.acme.engine import AcmeEngine
from infrawg.provisioning.providers.acme.state import AcmeConfig
from infrawg.provisioning.secrets import Secret
from infrawg.timeutil import utcnow


@dataclass(frozen=True)
class AcmeSettings:
    """`caa_nameserver` ("host:port"): ask this server for CAA records instead of the
    system's resolver (a test's BIND, a split-horizon site)."""

    directory_url: str
    key_directory: Path
    ca_identities: tuple[str, ...] = ()
    account_key: Secret | None = None
    contact_email: str = ""
    ca_bundle: str = ""
    caa_nameserver: str = ""
    timeout: int = 30


class AcmeProvider(Provider[CertificateSpec]):
    kind = "tls"
    name = "acme"
    Config = AcmeSettings

    def engine(self) -> AcmeEngine:
        settings: AcmeSettings = self.config
        resolver = None
        if settings.caa_nameserver:
            host, _, port = settings.caa_nameserver.rpartition(":")
            resolver = dns.resolver.Resolver(configure=False)
            resolver.nameservers = [host]
            resolver.port = int(port)
            resolver.lifetime = 5
        config = AcmeConfig(
            directory_url=settings.directory_url,
            key_directory=Path(settings.key_directory),
            ca_identities=tuple(settings.ca_identities),
            account_key=settings.account_key,
            contact_email=settings.contact_email,
            ca_bundle=settings.ca_bundle,
            timeout=settings.timeout,
        )
        return AcmeEngine(config, caa_resolver=resolver)

    def read(self, ref: str) -> Observed[CertificateSpec]:
        from infrawg.provisioning.kinds.tls import models

        issued = models.current_by_service_id(int(ref))
        if issued is None:
            return Observed.of(ref, None)
        return Observed.of(ref, CertificateSpec(int(ref), tuple(issued.names)))

    def execute(self, plan: Plan[CertificateSpec]) -> list[str] | Pending:
        from infrawg.provisioning.kinds.tls import models

        if not plan.destroy:
            raise ProviderError("Certificates are ordered by the tls kind's provisioning job.")
        lines: list[str] = []
        engine = self.engine()
        # Every certificate of the service still valid, the renewed ones before the newest too.
        while (issued := models.current_by_service_id(int(plan.ref))) is not None:
            if issued.chain_pem:
                engine.revoke(issued.chain_pem)
            issued.step = models.REVOKED
            if issued.key_file:
                Path(issued.key_file).unlink(missing_ok=True)
            lines.append(f"revoked certificate {issued.serial} ({', '.join(issued.names)})")
        return lines or ["no certificate to revoke"]

    def verify(self, spec: CertificateSpec) -> list[Check]:
        from infrawg.provisioning.kinds.tls import models

        issued = models.current_by_service_id(spec.service_id)
        if issued is None or issued.not_after is None:
            return [Check("a certificate is issued", False, "none")]
        return [
            Check("the certificate names what was asked", set(issued.names) == set(spec.names)),
            Check(
                "the certificate is valid",
                issued.not_after > utcnow(),
                f"expired {issued.not_after:%Y-%m-%d}",
            ),
        ]
