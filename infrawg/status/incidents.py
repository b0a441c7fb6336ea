"""Incidents the site opens by itself (R5): no person announces them, a check found them —
an alert from the monitoring, a domain that expired, a certificate whose renewal failed.

`open_incident` records the incident notice on one service and mails the service's tenant
members as for any notice. A finding names its `subject` (what it is about: an alert's
fingerprint, "tls-renewal:42"); while a notice about that subject is open, the same finding
reported again, or by two workers at once, opens nothing. Once staff gave the all-clear, the
subject found again is a new incident. The notice keeps `<subject>@<start>` as its
`incident_key` (unique), which is what makes two reports of one start a single notice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from infrawg import audit
from infrawg.actions import Action
from infrawg.extensions import db
from infrawg.provisioning.models import Service
from infrawg.status.models import ImpactNotice, NoticeKind, NoticeService, NoticeState
from infrawg.status.service import _tell, audience

__all__ = ["Finding", "notice_for", "open_incident", "open_notice_about"]


@dataclass(frozen=True)
class Finding:
    """What a check found, in the words its tenant members and the public read."""

    subject: str  # what it is about, e.g. "domain-expired:12:2026-11-30"; no "@" in it
    title: str
    what: str
    expected_impact: str
    public_summary: str  # for /status: names nothing private
    starts_at: datetime
    found_by: str  # for the audit trail: "the alert InstanceDown", "the domain reminders"

    @property
    def key(self) -> str:
        return f"{self.subject}@{self.starts_at.isoformat()}"


def open_notice_about(subject: str) -> ImpactNotice | None:
    """The open incident notice about ``subject``, if there is one."""
    prefix = subject.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "@"
    return db.session.scalar(
        select(ImpactNotice)
        .where(
            ImpactNotice.incident_key.like(prefix + "%", escape="\\"),
            ImpactNotice.state == NoticeState.OPEN,
        )
        .order_by(ImpactNotice.id.desc())
        .limit(1)
    )


def notice_for(key: str) -> ImpactNotice | None:
    return db.session.scalar(select(ImpactNotice).where(ImpactNotice.incident_key == key))


def open_incident(service: Service, finding: Finding) -> ImpactNotice | None:
    """The incident notice of ``finding`` on ``service``, its tenant members told; None when
    a notice about its subject is open (or this very report opened one meanwhile)."""
    if open_notice_about(finding.subject) is not None or notice_for(finding.key) is not None:
        return None
    notice = ImpactNotice(
        kind=NoticeKind.INCIDENT,
        title=finding.title[:200],
        what=finding.what[:10000],
        expected_impact=finding.expected_impact,
        public_summary=finding.public_summary,
        starts_at=finding.starts_at.replace(tzinfo=None),
        ends_at=None,
        state=NoticeState.OPEN,
        sequence=0,
        created_by_id=None,
        incident_key=finding.key,
    )
    try:
        with db.session.begin_nested():
            db.session.add(notice)
            db.session.flush()
    except IntegrityError:
        return None  # the same finding, reported at the same moment, opened it
    db.session.add(NoticeService(notice_id=notice.id, service_id=service.id))
    told = _tell(notice, audience([service.id]), "impact_notice", update=None)
    audit.record(
        None,
        Action.NOTICE_ANNOUNCED,
        notice,
        f"opened by {finding.found_by} ({finding.subject}); {told} tenant member(s) told",
    )
    return notice
