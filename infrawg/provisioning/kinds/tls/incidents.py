"""R12 with R5: a certificate whose renewal has failed and that expires within seven days is
an incident for staff. The renewal job opens an impact notice for it (the site's own,
`status.incidents`), and the tenant's contacts are told as for any notice. One notice a
certificate while it is open; after the all-clear, a renewal still failing is a new one."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from infrawg import timeutil
from infrawg.extensions import db
from infrawg.provisioning.kinds.tls import models
from infrawg.provisioning.kinds.tls.models import TlsIssuance
from infrawg.provisioning.models import Service
from infrawg.status import incidents
from infrawg.status.models import ImpactNotice

NEAR_EXPIRY = timedelta(days=7)  # R12: a failed renewal this close to expiry is an incident


def last_renewal(certificate: TlsIssuance) -> TlsIssuance | None:
    """The newest renewal order started for `certificate`."""
    return db.session.scalar(
        select(TlsIssuance)
        .where(TlsIssuance.renewal_of_id == certificate.id)
        .order_by(TlsIssuance.id.desc())
        .limit(1)
    )


def _now() -> datetime:
    return timeutil.utcnow().replace(tzinfo=None)  # read through the module: tests move it


def renewal_failing_near_expiry(service: Service, now: datetime | None = None) -> bool:
    """The service's certificate expires within NEAR_EXPIRY and its last renewal failed."""
    now = now or _now()
    current = models.current_of(service)
    if current is None or current.not_after is None:
        return False
    if current.not_after - now > NEAR_EXPIRY:
        return False
    renewal = last_renewal(current)
    return renewal is not None and renewal.step == models.FAILED


def open_incident(service: Service, now: datetime | None = None) -> ImpactNotice | None:
    """An incident notice for the service's certificate when its renewal failed near expiry
    and no notice about it is open yet; the notice opened, if one was."""
    now = now or _now()
    if not renewal_failing_near_expiry(service, now):
        return None
    current = models.current_of(service)
    assert current is not None and current.not_after is not None
    renewal = last_renewal(current)
    error = (renewal.error if renewal else None) or "unknown error"
    days = max((current.not_after - now) // timedelta(days=1), 0)
    return incidents.open_incident(
        service,
        incidents.Finding(
            subject=f"tls-renewal:{current.id}",
            title=f"The certificate of {service.name} expires soon and cannot be renewed",
            what=(
                f"The TLS certificate for {', '.join(current.names)} expires on "
                f"{current.not_after:%Y-%m-%d %H:%M} UTC (in {days} day(s)), and its renewal "
                f"failed: {error} Staff are looking into it."
            ),
            expected_impact=(
                "Until a renewal succeeds, clients will refuse the names of this certificate "
                "once it has expired."
            ),
            public_summary="A TLS certificate could not be renewed; staff are looking into it.",
            starts_at=now,
            found_by="the certificate renewal",
        ),
    )
