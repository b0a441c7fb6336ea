"""Incidents from the monitoring (R13, R5): Alertmanager's webhook opens an incident notice on
the service an alert is about and resolves it when the alert resolves.

The view (`status.alert_webhook`) checks the token and parses the payload with
`read_webhook`; `receive` acts on each alert that names a service (label `service`, the
service's id; `organisation`, when present, must be its organisation's id). Opening is
idempotent by the alert's `incident_key`, stored on the notice (unique): Alertmanager repeats
a firing alert every repeat_interval, and two deliveries at once find the one notice.
Nobody is behind these notices, so their author is None ("Monitoring" on the page).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from infrawg import audit
from infrawg.actions import Action
from infrawg.extensions import db
from infrawg.provisioning.models import Service
from infrawg.provisioning.providers.monitoring import AlertEvent, WebhookNotification
from infrawg.status.incidents import Finding, notice_for, open_incident
from infrawg.status.models import ImpactNotice, NoticeService, NoticeState, NoticeUpdate
from infrawg.status.service import AFFECTABLE, _tell, audience
from infrawg.timeutil import utcnow

__all__ = ["Received", "receive"]

PUBLIC_SUMMARY = "A hosted service is degraded; the operators have been alerted."


@dataclass
class Received:
    """What one notification did, for the webhook's answer (and the log)."""

    opened: list[int] = field(default_factory=list)
    resolved: list[int] = field(default_factory=list)
    unchanged: int = 0
    ignored: int = 0


def _service_of(event: AlertEvent) -> Service | None:
    label = (event.service or "").strip()
    if not label.isdigit():
        return None
    service = db.session.get(Service, int(label))
    if service is None or service.state not in AFFECTABLE:
        return None
    if event.organisation is not None and event.organisation != str(service.organisation_id):
        return None
    return service


def _open(event: AlertEvent, service: Service) -> ImpactNotice | None:
    """The incident notice of `event` (None when it was open already), its tenant members
    told (R5)."""
    what = event.annotations.get("description") or event.summary
    return open_incident(
        service,
        Finding(
            subject=event.fingerprint,  # the key is then event.incident_key
            title=f"{event.name}: {service.name}",
            what=f"The monitoring reports: {what}",
            expected_impact=(
                f"{service.name} may be unavailable or degraded until the alert resolves; "
                "the operators have been alerted."
            ),
            public_summary=PUBLIC_SUMMARY,
            starts_at=event.starts_at,
            found_by=f"the alert {event.name}",
        ),
    )


def _resolve(event: AlertEvent) -> ImpactNotice | None:
    notice = notice_for(event.incident_key)
    if notice is None or not notice.is_open:
        return None
    now = utcnow()
    update = NoticeUpdate(
        notice_id=notice.id,
        body=f"The alert {event.name} resolved; the service is back to normal.",
        all_clear=True,
        author_id=None,
    )
    db.session.add(update)
    notice.sequence += 1
    notice.updated_at = now
    notice.state = NoticeState.RESOLVED
    notice.resolved_at = now
    if event.ends_at is not None:
        ends_at = event.ends_at.replace(tzinfo=None)
        if ends_at > notice.starts_at:
            notice.ends_at = ends_at
    db.session.flush()
    affected = select(NoticeService.service_id).where(NoticeService.notice_id == notice.id)
    people = audience(db.session.scalars(affected), new=False)
    told = _tell(notice, people, "impact_all_clear", update)
    audit.record(
        None, Action.NOTICE_RESOLVED, notice, f"the alert resolved; {told} tenant member(s) told"
    )
    return notice


def receive(notification: WebhookNotification) -> Received:
    """Act on each alert about a service: firing opens its incident (once), resolved resolves
    it. Alerts about no service (the monitoring itself) are ignored here."""
    received = Received()
    for event in notification.alerts:
        if event.firing:
            service = _service_of(event)
            if service is None:
                received.ignored += 1
                continue
            opened = _open(event, service)
            if opened is None:
                received.unchanged += 1
            else:
                received.opened.append(opened.id)
        else:
            resolved = _resolve(event)
            if resolved is None:
                received.unchanged += 1
            else:
                received.resolved.append(resolved.id)
    return received
