"""Demo data of the status area: an upcoming maintenance and a resolved incident on the demo
tenant's DNS zone, told to its tenant members (mail in the outbox), one acknowledged."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from infrawg.governance.models import Role, RoleGrant
from infrawg.membership.models import Person
from infrawg.provisioning.models import Service
from infrawg.status import service as notices
from infrawg.status.models import NoticeKind, NoticeRecipient
from infrawg.timeutil import utcnow


def load_demo(people: dict[str, Person]) -> None:
    from infrawg.extensions import db

    staff = people.get("staff1@example.org") or db.session.scalar(
        select(Person)
        .join(RoleGrant, RoleGrant.person_id == Person.id)
        .where(RoleGrant.role == Role.STAFF, RoleGrant.ended_at.is_(None))
    )
    zone = db.session.scalar(select(Service).order_by(Service.id))
    if staff is None or zone is None:
        return
    now = utcnow().replace(second=0, microsecond=0)
    start = (now + timedelta(days=3)).replace(hour=6, minute=0)
    notices.announce(
        staff,
        notices.NoticeInput(
            kind=NoticeKind.MAINTENANCE,
            title="Primary name server upgrade",
            what="We upgrade BIND 9 on the primary name server and re-sign every hosted zone.",
            expected_impact="Zone changes made in the window are applied after it; the zones "
            "keep answering from the secondaries.",
            public_summary="Upgrade of the primary DNS server",
            starts_at=start,
            ends_at=start + timedelta(hours=2),
            service_ids=[zone.id],
        ),
        live_services=False,
    )
    began = now - timedelta(days=2, hours=3)
    incident = notices.announce(
        staff,
        notices.NoticeInput(
            kind=NoticeKind.INCIDENT,
            title="Zone transfers failing",
            what="Zone transfers to the secondary name server fail after a key rollover.",
            expected_impact="Recent record changes are not served by the secondary yet.",
            public_summary="DNS changes are delayed",
            starts_at=began,
            ends_at=None,
            service_ids=[zone.id],
        ),
        live_services=False,
    )
    notices.post_update(staff, incident, "The TSIG key is replaced; transfers resume.")
    notices.give_all_clear(staff, incident, "All secondaries serve the current zones again.")
    db.session.flush()
    told = select(Person).join(NoticeRecipient, NoticeRecipient.person_id == Person.id)
    for person in db.session.scalars(told.where(NoticeRecipient.notice_id == incident.id)):
        notices.acknowledge(person, incident)
