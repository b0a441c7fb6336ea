"""R5 in one place: who is told of an impact notice, what they are sent, and who sees what.

Who is told is the contacts (``contacts_for``) of every organisation whose service the
notice is about, each person once. Each of them gets a mail of their own, naming only the
services of their own organisations (another tenant's services, and its liaisons'
addresses, are not theirs to learn), with the notice's window as an .ics whose UID stays
the same for the notice's life and whose SEQUENCE rises with every update, so calendar
programs replace the event. Updates and the all-clear go to the affected organisations'
contacts again, the same people unless a liaison came or went meanwhile.

Outsiders read only a notice's public summary, its kind and its window (the status page and
the public .ics): never a title, a service, an organisation or how many were told.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from icalendar import Calendar, Event
from sqlalchemy import Select, func, select, true
from sqlalchemy.orm import selectinload

from infrawg import audit, policy
from infrawg.actions import Action
from infrawg.errors import Conflict, Invalid, NotFound
from infrawg.extensions import db
from infrawg.locks import lock_rows
from infrawg.membership.models import Person
from infrawg.notices.mail import Attachment, send_mail
from infrawg.policy import Permission
from infrawg.provisioning.models import Service, ServiceState
from infrawg.status.models import (
    ImpactNotice,
    NoticeKind,
    NoticeRecipient,
    NoticeService,
    NoticeState,
    NoticeUpdate,
)
from infrawg.surveys.feeds import aware_utc, ics_text
from infrawg.tenants.models import TenantMember, TenantOrganisation
from infrawg.tenants.service import contacts_for
from infrawg.text import clean
from infrawg.timeutil import utcnow
from infrawg.web import external_url

MAX_TEXT = 4000
PRODID = "-//Infra-WG//infrawg impact notices//EN"
# Services a notice can be about: they exist on a provider or are about to.
AFFECTABLE = (
    ServiceState.APPROVED,
    ServiceState.PROVISIONING,
    ServiceState.ACTIVE,
    ServiceState.FAILED,
    ServiceState.DRIFTED,  # live: it differs from what was approved, and still serves
    ServiceState.SUSPENDED,
)
# The status page keeps a resolved notice this long after its all-clear.
RECENTLY_RESOLVED = timedelta(days=7)


@dataclass(frozen=True)
class NoticeInput:
    kind: NoticeKind
    title: str
    what: str
    expected_impact: str
    public_summary: str
    starts_at: datetime
    ends_at: datetime | None
    service_ids: Sequence[int]


@dataclass(frozen=True)
class Audience:
    """R5: the services a notice is about, their organisations, and who is told."""

    services: list[Service]
    organisations: list[TenantOrganisation]
    # Each contact once, with the organisations they are told about.
    contacts: dict[int, tuple[Person, list[TenantOrganisation]]]

    @property
    def people(self) -> list[Person]:
        return [person for person, _ in self.contacts.values()]


# Reading -------------------------------------------------------------------------------


def affectable_services() -> list[Service]:
    """The services staff may announce an impact on, by organisation and name."""
    return list(
        db.session.scalars(
            select(Service)
            .join(TenantOrganisation, TenantOrganisation.id == Service.organisation_id)
            .where(Service.state.in_(AFFECTABLE))
            .options(selectinload(Service.organisation))
            .order_by(TenantOrganisation.name, Service.name, Service.id)
        )
    )


def notices() -> Select:
    """Staff's list, newest first, with what the rows show loaded (no N+1)."""
    return (
        select(ImpactNotice)
        .options(
            selectinload(ImpactNotice.services)
            .selectinload(NoticeService.service)
            .selectinload(Service.organisation),
            selectinload(ImpactNotice.recipients),
        )
        .order_by(ImpactNotice.starts_at.desc(), ImpactNotice.id.desc())
    )


def get_notice(notice_id: int) -> ImpactNotice:
    notice = db.session.scalar(
        select(ImpactNotice)
        .where(ImpactNotice.id == notice_id)
        .options(
            selectinload(ImpactNotice.services)
            .selectinload(NoticeService.service)
            .selectinload(Service.organisation),
            selectinload(ImpactNotice.updates).selectinload(NoticeUpdate.author),
            selectinload(ImpactNotice.recipients).selectinload(NoticeRecipient.person),
        )
    )
    if notice is None:
        raise NotFound("There is no such notice.")
    return notice


def public_notices(now: datetime | None = None) -> list[ImpactNotice]:
    """The status page: open notices (current, then upcoming) and the recently resolved.

    Only the columns that are public are shown from these; nothing is loaded beside them.
    """
    now = now or utcnow()
    return list(
        db.session.scalars(
            select(ImpactNotice)
            .where(
                (ImpactNotice.state == NoticeState.OPEN)
                | (ImpactNotice.resolved_at >= now - RECENTLY_RESOLVED)
            )
            .order_by(ImpactNotice.state, ImpactNotice.starts_at, ImpactNotice.id)
        )
    )


def _current_organisation_ids(person: Person):
    return select(TenantMember.organisation_id).where(
        TenantMember.person_id == person.id, TenantMember.ended_at.is_(None)
    )


@dataclass(frozen=True)
class TenantNotice:
    """A notice as one tenant member sees it: only their own organisations' services."""

    notice: ImpactNotice
    services: list[Service]
    recipient: NoticeRecipient | None

    @property
    def acknowledged(self) -> bool:
        return self.recipient is not None and self.recipient.acknowledged_at is not None


def notices_for(person: Person) -> list[TenantNotice]:
    """R5: the notices about the services of the person's organisations, open ones first."""
    if not person.is_member:
        return []
    mine = _current_organisation_ids(person)
    rows = list(
        db.session.scalars(
            select(ImpactNotice)
            .where(
                ImpactNotice.id.in_(
                    select(NoticeService.notice_id)
                    .join(Service, Service.id == NoticeService.service_id)
                    .where(Service.organisation_id.in_(mine))
                )
            )
            .options(
                selectinload(ImpactNotice.services)
                .selectinload(NoticeService.service)
                .selectinload(Service.organisation),
                selectinload(ImpactNotice.updates),
            )
            .order_by(ImpactNotice.state, ImpactNotice.starts_at.desc(), ImpactNotice.id.desc())
            .limit(50)
        )
    )
    organisation_ids = set(db.session.scalars(mine))
    receipts = {
        r.notice_id: r
        for r in db.session.scalars(
            select(NoticeRecipient).where(
                NoticeRecipient.person_id == person.id,
                NoticeRecipient.notice_id.in_([n.id for n in rows]),
            )
        )
    }
    return [
        TenantNotice(
            notice,
            [
                ns.service
                for ns in notice.services
                if ns.service.organisation_id in organisation_ids
            ],
            receipts.get(notice.id),
        )
        for notice in rows
    ]


def tenant_notice(person: Person, notice: ImpactNotice) -> TenantNotice:
    """One notice as ``person`` sees it (after they acknowledged it)."""
    return next(t for t in notices_for(person) if t.notice.id == notice.id)


def waiting_acknowledgement_count(person: Person) -> Select:
    """The count of open notices the person was told of and has not acknowledged (the nav
    counter runs it with the other areas' counts, in one statement)."""
    return (
        select(func.count())
        .select_from(NoticeRecipient)
        .join(ImpactNotice, ImpactNotice.id == NoticeRecipient.notice_id)
        .where(
            NoticeRecipient.person_id == person.id,
            NoticeRecipient.acknowledged_at.is_(None),
            ImpactNotice.state == NoticeState.OPEN,
        )
    )


def waiting_acknowledgement(person: Person) -> int:
    """How many open notices the person was told of and has not acknowledged."""
    return db.session.scalar(waiting_acknowledgement_count(person)) or 0


def services_seen_by(person: Person | None, notice: ImpactNotice) -> list[Service] | None:
    """The notice's services ``person`` may read: all for staff, their organisations'
    for a tenant member told of it, None for anyone else (they read the public summary)."""
    if policy.can(person, Permission.NOTICE_MANAGE):
        return [ns.service for ns in notice.services]
    if person is None or not policy.can(person, Permission.NOTICE_READ, notice):
        return None
    mine = set(db.session.scalars(_current_organisation_ids(person)))
    return [ns.service for ns in notice.services if ns.service.organisation_id in mine]


# R5: who is told ----------------------------------------------------------------------


def audience(service_ids: Iterable[int], *, new: bool = True) -> Audience:
    """The services, their organisations and their contacts, each person once.

    A ``new`` notice is about services that exist (or are about to); an update follows its
    notice's services whatever became of them since.
    """
    ids = sorted(set(service_ids))
    if not ids:
        raise Invalid("Choose the services that will be impacted.", field="services")
    services = list(
        db.session.scalars(
            select(Service)
            .where(Service.id.in_(ids), Service.state.in_(AFFECTABLE) if new else true())
            .options(selectinload(Service.organisation))
            .order_by(Service.organisation_id, Service.name, Service.id)
        )
    )
    if len(services) != len(ids):
        raise Invalid("One of the chosen services no longer exists.", field="services")
    organisations = list({s.organisation_id: s.organisation for s in services}.values())
    contacts: dict[int, tuple[Person, list[TenantOrganisation]]] = {}
    for organisation in organisations:
        for person in contacts_for(organisation):
            contacts.setdefault(person.id, (person, []))[1].append(organisation)
    return Audience(services, organisations, contacts)


def check_notice(
    actor: Person, data: NoticeInput, *, live_services: bool = True
) -> tuple[NoticeInput, Audience]:
    """The notice as it would be sent (the "check your answers" page shows it).

    ``live_services=False`` lets the demo data announce on its requested zone.
    """
    policy.require(actor, Permission.NOTICE_MANAGE)
    cleaned = NoticeInput(
        kind=data.kind,
        title=clean(data.title, "Give the notice a title.", limit=200, field="title"),
        what=clean(data.what, "Say what will be done.", limit=MAX_TEXT, field="what"),
        expected_impact=clean(
            data.expected_impact,
            "Say what the tenants should expect.",
            limit=MAX_TEXT,
            field="expected_impact",
        ),
        public_summary=clean(
            data.public_summary,
            "Give the summary everyone may read on the status page.",
            limit=300,
            field="public_summary",
        ),
        starts_at=data.starts_at,
        ends_at=data.ends_at,
        service_ids=tuple(sorted(set(data.service_ids))),
    )
    if cleaned.ends_at is not None and cleaned.ends_at <= cleaned.starts_at:
        raise Invalid("The end must come after the start.", field="ends_at")
    return cleaned, audience(cleaned.service_ids, new=live_services)


def announce(actor: Person, data: NoticeInput, *, live_services: bool = True) -> ImpactNotice:
    """R5: record the notice and mail every affected organisation's tenant members."""
    data, people = check_notice(actor, data, live_services=live_services)
    notice = ImpactNotice(
        kind=data.kind,
        title=data.title,
        what=data.what,
        expected_impact=data.expected_impact,
        public_summary=data.public_summary,
        starts_at=data.starts_at,
        ends_at=data.ends_at,
        state=NoticeState.OPEN,
        sequence=0,
        created_by_id=actor.id,
    )
    db.session.add(notice)
    db.session.flush()
    db.session.add_all(NoticeService(notice_id=notice.id, service_id=s.id) for s in people.services)
    told = _tell(notice, people, "impact_notice", update=None)
    audit.record(
        actor,
        Action.NOTICE_ANNOUNCED,
        notice,
        f"{len(people.services)} service(s) of {len(people.organisations)} organisation(s); "
        f"{told} tenant member(s) told",
    )
    return notice


def post_update(
    actor: Person, notice: ImpactNotice, body: str, ends_at: datetime | None = None
) -> NoticeUpdate:
    """R5: an update goes to the same people as the notice (the affected contacts now)."""
    return _update(actor, notice, body, ends_at, all_clear=False)


def give_all_clear(actor: Person, notice: ImpactNotice, body: str) -> NoticeUpdate:
    """R5: the all-clear resolves the notice and goes to the same people."""
    return _update(actor, notice, body, None, all_clear=True)


def _update(
    actor: Person, notice: ImpactNotice, body: str, ends_at: datetime | None, *, all_clear: bool
) -> NoticeUpdate:
    policy.require(actor, Permission.NOTICE_MANAGE)
    # One update at a time per notice: each takes the next SEQUENCE, and none follows the
    # all-clear.
    lock_rows(ImpactNotice, [notice.id])
    db.session.refresh(notice, ["state", "sequence"])
    if not notice.is_open:
        raise Conflict("This notice is resolved already.")
    required = "Say that the service is back to normal." if all_clear else "Write the update."
    body = clean(body, required, limit=MAX_TEXT, field="body")
    if ends_at is not None:
        if ends_at <= notice.starts_at:
            raise Invalid("The end must come after the start.", field="ends_at")
        notice.ends_at = ends_at
    now = utcnow()
    update = NoticeUpdate(notice_id=notice.id, body=body, all_clear=all_clear, author_id=actor.id)
    db.session.add(update)
    notice.sequence += 1
    notice.updated_at = now
    if all_clear:
        notice.state = NoticeState.RESOLVED
        notice.resolved_at = now
    db.session.flush()
    affected = select(NoticeService.service_id).where(NoticeService.notice_id == notice.id)
    people = audience(db.session.scalars(affected), new=False)
    told = _tell(notice, people, "impact_all_clear" if all_clear else "impact_update", update)
    audit.record(
        actor,
        Action.NOTICE_RESOLVED if all_clear else Action.NOTICE_UPDATED,
        notice,
        f"{told} tenant member(s) told",
    )
    return update


def _tell(
    notice: ImpactNotice, people: Audience, template: str, update: NoticeUpdate | None
) -> int:
    """Mail each contact once, naming only their own organisations' services; record them."""
    told = {
        r.person_id: r
        for r in db.session.scalars(
            select(NoticeRecipient).where(NoticeRecipient.notice_id == notice.id)
        )
    }
    host = calendar_host()
    link = external_url("status.mine")
    subject = f"{notice.kind.label}: {notice.title}"
    if update is not None:
        subject = ("All clear: " if update.all_clear else "Update: ") + subject
    for person, organisations in people.contacts.values():
        if person.id not in told:
            db.session.add(NoticeRecipient(notice_id=notice.id, person_id=person.id))
        theirs = [s for s in people.services if s.organisation_id in {o.id for o in organisations}]
        ics = notice_calendar(notice, theirs, host=host, now=utcnow(), link=link)
        send_mail(
            person.email,
            subject,
            template,
            attachments=[Attachment(f"notice-{notice.id}.ics", "text/calendar", ics)],
            notice=notice,
            update=update,
            person=person,
            services=theirs,
            organisations=organisations,
            url=link,
        )
    return len(people.contacts)


def acknowledge(person: Person, notice: ImpactNotice) -> NoticeRecipient:
    """R5: a tenant member who was told says they have read the notice."""
    receipt = db.session.scalar(
        select(NoticeRecipient).where(
            NoticeRecipient.notice_id == notice.id, NoticeRecipient.person_id == person.id
        )
    )
    if receipt is None or not policy.can(person, Permission.NOTICE_READ, notice):
        raise NotFound("There is no such notice.")
    if receipt.acknowledged_at is not None:
        raise Conflict("You acknowledged this notice already.")
    receipt.acknowledged_at = utcnow()
    audit.record(person, Action.NOTICE_ACKNOWLEDGED, receipt)
    return receipt


# The calendar -------------------------------------------------------------------------


def calendar_host() -> str:
    from urllib.parse import urlsplit

    return urlsplit(current_app.config["BASE_URL"]).hostname or "localhost"


def notice_calendar(
    notice: ImpactNotice,
    services: list[Service] | None,
    *,
    host: str,
    now: datetime,
    link: str,
) -> bytes:
    """The notice's window as one VEVENT (METHOD:PUBLISH), by ``icalendar``.

    ``services`` are those the reader may see; None gives the public event (kind and public
    summary only). The UID is the notice's for its whole life and SEQUENCE its count of
    updates, so a calendar program replaces the event it has.
    """
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    event = Event()
    event.add("uid", f"impact-notice-{notice.id}@{host}")
    event.add("sequence", notice.sequence)
    event.add("dtstamp", aware_utc(now))
    event.add("last-modified", aware_utc(notice.updated_at))
    event.add("dtstart", aware_utc(notice.starts_at))
    end = notice.ends_at or notice.resolved_at
    if end is not None and end > notice.starts_at:
        event.add("dtend", aware_utc(end))
    resolved = "" if notice.is_open else "Resolved: "
    if services is None:
        event.add("summary", ics_text(f"{resolved}{notice.kind.label}: {notice.public_summary}"))
    else:
        event.add("summary", ics_text(f"{resolved}{notice.kind.label}: {notice.title}"))
        lines = [notice.what, "", f"Expected impact: {notice.expected_impact}"]
        if services:
            lines += ["", "Services:"] + [f"- {s.name} ({s.organisation.name})" for s in services]
        event.add("description", ics_text("\n".join(lines)))
    event.add("url", link)
    event.add("status", "CONFIRMED")
    event.add("transp", "OPAQUE")
    calendar.add_component(event)
    return calendar.to_ical()
