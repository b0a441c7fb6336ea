"""What the archive pages ask for, and the acts on the archive (R16).

Every read starts from :func:`infrawg.archives.access.visible_messages`; an object it
does not return raises :func:`infrawg.archives.access.hidden`. Acts check the policy and
record an audit event in the caller's transaction.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import distinct, func, select, tuple_
from sqlalchemy.orm import load_only

from infrawg import audit
from infrawg.actions import Action
from infrawg.archives import search
from infrawg.archives.access import hidden, visible_lists, visible_messages
from infrawg.archives.ingest import archive_dir
from infrawg.archives.models import (
    Attachment,
    MailingList,
    Message,
    Quarantine,
    Thread,
    Visibility,
)
from infrawg.archives.search import SearchQuery
from infrawg.archives.store import Incoming, store_messages
from infrawg.errors import Conflict, Invalid, NotFound
from infrawg.extensions import db
from infrawg.policy import Permission, require
from infrawg.timeutil import utcnow

# The columns a list of messages shows (no bodies, no raw bytes).
_SUMMARY_COLUMNS = (
    Message.id,
    Message.list_id,
    Message.thread_id,
    Message.message_id,
    Message.subject,
    Message.from_name,
    Message.from_email,
    Message.date,
)
MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])\Z")
# Deeper replies are shown at this depth: the page stays readable and the markup bounded.
MAX_DEPTH = 12


@dataclass
class RowsPage:
    """One page of rows of several columns, shaped like Flask-SQLAlchemy's pagination
    (which yields only the first column), for the pager macro."""

    items: list[Any]
    page: int
    per_page: int
    total: int
    more: bool = False  # there are more than ``total`` (a capped count)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def prev_num(self) -> int:
        return self.page - 1

    @property
    def next_num(self) -> int:
        return self.page + 1


def paginate_rows(statement: Any, page: int, per_page: int = 25) -> RowsPage:
    """A page of ``statement``'s rows and the count of all of them (one count query)."""
    page = max(1, min(page, 10_000))
    total = db.session.scalar(select(func.count()).select_from(statement.order_by(None).subquery()))
    items = db.session.execute(statement.limit(per_page).offset((page - 1) * per_page)).all()
    return RowsPage(list(items), page, per_page, total or 0)


# A search counts its hits up to here and says "more than 1,000" beyond; with more, the
# newest 1,000 are ranked (search.RANK_CAP), so every page it offers can be shown.
SEARCH_COUNT_CAP = search.RANK_CAP


def search_messages(
    person: Any, query: SearchQuery, page: int, per_page: int = 20, cap: int = SEARCH_COUNT_CAP
) -> RowsPage:
    """One page of the messages matching ``query`` that ``person`` may read, best first,
    with highlighted subjects and snippets (R16: every step starts from
    visible_messages). Snippets are made for the page's rows only. With more than
    ``cap`` matches, the newest ``cap`` are ranked and counted ("more than cap")."""
    page = max(1, min(page, 10_000))
    offset = (page - 1) * per_page
    ids, found = search.page_of_matches(db.session(), person, query, per_page, offset, cap)
    items = search.result_rows(db.session(), person, query, ids)
    more = found > cap
    return RowsPage(items, page, per_page, min(found, cap), more)


@dataclass(frozen=True)
class ListSummary:
    mailing_list: MailingList
    messages: int
    last: datetime | None


def lists_overview(person: Any) -> list[ListSummary]:
    """The lists ``person`` may see something of, with their visible message counts."""
    lists = db.session.scalars(visible_lists(person).order_by(MailingList.name)).all()
    counts = {
        list_id: (count, last)
        for list_id, count, last in db.session.execute(
            visible_messages(
                person, Message.list_id, func.count(), func.max(Message.date)
            ).group_by(Message.list_id)
        )
    }
    return [ListSummary(ml, *counts.get(ml.id, (0, None))) for ml in lists]


def visible_list_names(person: Any) -> list[str]:
    """The names of the lists ``person`` may see something of (R16), in order."""
    stmt = visible_lists(person).with_only_columns(MailingList.name).order_by(MailingList.name)
    return list(db.session.scalars(stmt))


def get_list(person: Any, name: str) -> MailingList:
    """The list called ``name`` if ``person`` may see anything of it (R16), else hidden."""
    found = db.session.scalar(visible_lists(person).where(MailingList.name == name))
    if found is None:
        raise hidden()
    return found


def threads_statement(person: Any, mailing_list: MailingList):
    """Threads of a list with their visible message counts, latest activity first."""
    last = func.max(Message.date).label("last")
    return (
        visible_messages(
            person,
            Thread,
            func.count(Message.id).label("count"),
            func.min(Message.date).label("first"),
            last,
            func.count(distinct(func.lower(Message.from_email))).label("people"),
        )
        .where(Message.list_id == mailing_list.id)
        .group_by(Thread.id)
        .order_by(last.desc(), Thread.id.desc())
    )


PARTICIPANTS_SHOWN = 3


def participants(person: Any, thread_ids: list[int]) -> dict[int, list[str]]:
    """The first few people to write in each thread (by their first message), from the
    messages ``person`` may read: one query for a page of threads."""
    first = func.min(Message.date).label("first")
    sender = func.lower(Message.from_email)
    rows = db.session.execute(
        visible_messages(person, Message.thread_id, func.min(Message.from_name), sender, first)
        .where(Message.thread_id.in_(thread_ids))
        .group_by(Message.thread_id, sender)
        .order_by(Message.thread_id, first)
    )
    names: dict[int, list[str]] = {}
    for thread_id, name, email, _ in rows:
        shown = names.setdefault(thread_id, [])
        if len(shown) < PARTICIPANTS_SHOWN:
            shown.append(name or email or "(unknown sender)")
    return names


def months(person: Any, mailing_list: MailingList) -> list[tuple[str, int]]:
    """(YYYY-MM, visible message count) of a list, newest first."""
    return [
        (month, count)
        for month, count in db.session.execute(
            visible_messages(person, Message.month, func.count())
            .where(Message.list_id == mailing_list.id)
            .group_by(Message.month)
            .order_by(Message.month.desc())
        )
    ]


def month_statement(person: Any, mailing_list: MailingList, month: str):
    """The visible messages of a list in one month, in date order."""
    if not MONTH.match(month):
        raise NotFound("There is no such month.")
    return (
        visible_messages(person, Message)
        .options(load_only(*_SUMMARY_COLUMNS[1:]))
        .where(Message.list_id == mailing_list.id, Message.month == month)
        .order_by(Message.date, Message.id)
    )


@dataclass
class ThreadNode:
    message: Message
    depth: int
    attachments: list[Attachment] = field(default_factory=list)


@dataclass
class ThreadView:
    thread: Thread
    mailing_list: MailingList
    nodes: list[ThreadNode]
    previous: Thread | None
    next: Thread | None

    @property
    def effective_visibility(self) -> Visibility:
        return self.thread.visibility or self.mailing_list.visibility


def thread_view(
    person: Any, mailing_list: MailingList, thread_id: int, *, nested: bool
) -> ThreadView:
    """A thread's visible messages, nested by reply (or flat by date), with neighbours."""
    messages = db.session.scalars(
        visible_messages(person, Message)
        .where(Message.thread_id == thread_id, Message.list_id == mailing_list.id)
        .order_by(Message.date, Message.id)
    ).all()
    if not messages:
        raise hidden()
    thread = db.session.get(Thread, thread_id)
    assert thread is not None
    attachments = _attachments_of([m.id for m in messages])
    ordered = _nest(list(messages)) if nested else [(m, 0) for m in messages]
    nodes = [ThreadNode(m, depth, attachments.get(m.id, [])) for m, depth in ordered]
    previous, following = _neighbour_threads(person, mailing_list, messages[0])
    return ThreadView(thread, mailing_list, nodes, previous, following)


def _nest(messages: list[Message]) -> list[tuple[Message, int]]:
    """Depth-first by date; a reply whose parent is not visible starts at the top."""
    by_id = {m.message_id: m for m in messages}
    children: dict[str | None, list[Message]] = {}
    for message in messages:
        parent = message.parent_message_id if message.parent_message_id in by_id else None
        children.setdefault(parent, []).append(message)
    out: list[tuple[Message, int]] = []
    stack = [(m, 0) for m in reversed(children.get(None, []))]
    seen: set[str] = set()
    while stack:  # iterative: a thread may be 1,000 replies deep
        message, depth = stack.pop()
        if message.message_id in seen:
            continue
        seen.add(message.message_id)
        out.append((message, min(depth, MAX_DEPTH)))
        stack.extend((c, depth + 1) for c in reversed(children.get(message.message_id, [])))
    return out


def _attachments_of(message_pks: list[int]) -> dict[int, list[Attachment]]:
    found: dict[int, list[Attachment]] = {}
    if message_pks:
        for attachment in db.session.scalars(
            select(Attachment)
            .where(Attachment.message_pk.in_(message_pks))
            .order_by(Attachment.message_pk, Attachment.position)
        ):
            found.setdefault(attachment.message_pk, []).append(attachment)
    return found


def _neighbour_threads(
    person: Any, mailing_list: MailingList, first: Message
) -> tuple[Thread | None, Thread | None]:
    """The conversations started just before and just after this one: the threads of the
    nearest visible top-level messages by date (one index walk each, no grouping)."""
    here = tuple_(Message.date, Message.id)
    base = visible_messages(person, Thread).where(
        Message.list_id == mailing_list.id,
        Message.parent_message_id.is_(None),
        Message.thread_id != first.thread_id,
    )
    previous = db.session.scalar(
        base.where(here < tuple_(first.date, first.id))
        .order_by(Message.date.desc(), Message.id.desc())
        .limit(1)
    )
    following = db.session.scalar(
        base.where(here > tuple_(first.date, first.id)).order_by(Message.date, Message.id).limit(1)
    )
    return previous, following


@dataclass
class MessageView:
    message: Message
    mailing_list: MailingList
    thread: Thread
    attachments: list[Attachment]
    previous: Any
    next: Any


def message_view(person: Any, mailing_list: MailingList, message_id: str) -> MessageView:
    """One message by its Message-ID (the permalink), with the list's previous and next."""
    message = db.session.scalar(
        visible_messages(person, Message).where(
            Message.list_id == mailing_list.id, Message.message_id == message_id
        )
    )
    if message is None:
        raise hidden()
    thread = db.session.get(Thread, message.thread_id)
    assert thread is not None
    here = tuple_(Message.date, Message.id)
    neighbours = visible_messages(person, *_SUMMARY_COLUMNS).where(
        Message.list_id == mailing_list.id
    )
    previous = db.session.execute(
        neighbours.where(here < tuple_(message.date, message.id))
        .order_by(Message.date.desc(), Message.id.desc())
        .limit(1)
    ).first()
    following = db.session.execute(
        neighbours.where(here > tuple_(message.date, message.id))
        .order_by(Message.date, Message.id)
        .limit(1)
    ).first()
    return MessageView(
        message,
        mailing_list,
        thread,
        _attachments_of([message.id]).get(message.id, []),
        previous,
        following,
    )


def export_thread(person: Any, mailing_list: MailingList, thread_id: int) -> Iterator[bytes]:
    """The thread's visible messages as an mbox (mboxrd), decompressed and yielded one
    message at a time. The compressed messages are read up front, so the response needs
    no database (nor app context) while it streams."""
    rows = db.session.execute(
        visible_messages(person, Message.raw, Message.from_email, Message.date)
        .where(Message.thread_id == thread_id, Message.list_id == mailing_list.id)
        .order_by(Message.date, Message.id)
    ).all()
    if not rows:
        raise hidden()

    def generate() -> Iterator[bytes]:
        for compressed, sender, date in rows:
            yield mbox_entry(zlib.decompress(compressed), sender, date)

    return generate()


# Messages read per query of a month's download: the response streams in these batches,
# so memory stays bounded whatever the month's size.
EXPORT_BATCH = 200


def export_month(person: Any, mailing_list: MailingList, month: str) -> Iterator[bytes]:
    """The list's visible messages of one month as an mbox (mboxrd), in date order.

    R16: every batch is read through visible_messages, so unpublished messages (and those
    in quarantine, which are not messages at all) are never in it. A month with nothing
    visible is not found. The generator reads the database as it goes: the caller streams
    it within the request (``stream_with_context``)."""
    if not MONTH.match(month):
        raise NotFound("There is no such month.")

    def batch(after: tuple[datetime, int] | None) -> list[Any]:
        stmt = (
            visible_messages(person, Message.id, Message.date, Message.from_email, Message.raw)
            .where(Message.list_id == mailing_list.id, Message.month == month)
            .order_by(Message.date, Message.id)
            .limit(EXPORT_BATCH)
        )
        if after is not None:
            stmt = stmt.where(tuple_(Message.date, Message.id) > tuple_(*after))
        return list(db.session.execute(stmt).all())

    first = batch(None)
    if not first:
        raise hidden()

    def generate() -> Iterator[bytes]:
        rows = first
        while rows:
            for _pk, date, sender, compressed in rows:
                yield mbox_entry(zlib.decompress(compressed), sender, date)
            rows = batch((rows[-1].date, rows[-1].id))

    return generate()


_FROM_LINE = re.compile(rb"^(>*From )", re.MULTILINE)


def mbox_entry(raw: bytes, sender: str | None, date: datetime) -> bytes:
    """One message as an mboxrd entry: envelope line, ``>From`` escaping, blank line."""
    envelope = sender if sender and " " not in sender else "MAILER-DAEMON"
    body = _FROM_LINE.sub(rb">\1", raw.replace(b"\r\n", b"\n"))
    if not body.endswith(b"\n"):
        body += b"\n"
    stamp = date.strftime("%a %b %d %H:%M:%S %Y")
    return f"From {envelope} {stamp}\n".encode() + body + b"\n"


# ------------------------------------------------------------------------------ acts


def _changes_public(before: Visibility, after: Visibility) -> bool:
    return before != after and Visibility.PUBLIC in (before, after)


def set_list_visibility(
    actor: Any, mailing_list: MailingList, level: Visibility, reason: str
) -> None:
    """Change a list's level. R16: making it public, or taking that back, is the chair's
    explicit act with a reason; staff may move it between members and staff."""
    before = mailing_list.visibility
    if before == level:
        raise Conflict(f"The list is already {level.label.lower()}.")
    _check_change(actor, before, level, reason)
    mailing_list.visibility = level
    audit.record(
        actor,
        Action(f"archive.list_visibility.{level.value}"),
        mailing_list,
        _why(before, level, reason),
    )


DESCRIPTION_LENGTH = 500


def describe_list(actor: Any, mailing_list: MailingList, text: str) -> None:
    """Staff say what a list is for; its readers see it above its threads."""
    require(actor, Permission.ARCHIVE_RESTRICT)
    description = " ".join(text.split())
    if len(description) > DESCRIPTION_LENGTH:
        raise Invalid(f"Keep the description to {DESCRIPTION_LENGTH} characters.")
    if description == mailing_list.description:
        raise Conflict("The description is unchanged.")
    mailing_list.description = description
    audit.record(actor, Action.ARCHIVE_LIST_DESCRIBED, mailing_list)


def set_thread_visibility(
    actor: Any, thread: Thread, level: Visibility | None, reason: str
) -> None:
    """Give a thread its own level (None: its list's again); same rules as for a list."""
    mailing_list = db.session.get(MailingList, thread.list_id)
    assert mailing_list is not None
    before = thread.visibility or mailing_list.visibility
    after = level or mailing_list.visibility
    if thread.visibility == level:
        raise Conflict("The thread already has that level.")
    _check_change(actor, before, after, reason)
    thread.visibility = level
    audit.record(
        actor,
        Action(f"archive.thread_visibility.{level.value if level else 'inherit'}"),
        thread,
        _why(before, after, reason),
    )


def _check_change(actor: Any, before: Visibility, after: Visibility, reason: str) -> None:
    if _changes_public(before, after):
        # R16: only an explicit act of the chair makes a thread public (or undoes it).
        require(actor, Permission.ARCHIVE_PUBLISH)
        if not reason.strip():
            raise Invalid("Say why: the reason is kept in the audit trail.")
    else:
        require(actor, Permission.ARCHIVE_RESTRICT)


def _why(before: Visibility, after: Visibility, reason: str) -> str:
    text = f"{before.value} -> {after.value}"
    return f"{text}: {reason.strip()}" if reason.strip() else text


def get_thread(person: Any, mailing_list: MailingList, thread_id: int) -> Thread:
    """A thread ``person`` may read (for acting on it)."""
    found = db.session.scalar(
        visible_messages(person, Thread)
        .where(Thread.id == thread_id, Thread.list_id == mailing_list.id)
        .limit(1)
    )
    if found is None:
        raise hidden()
    return found


# ------------------------------------------------------------------------- quarantine


def quarantine_statement():
    """Quarantined messages not yet re-imported, newest first (staff only, see views)."""
    return (
        select(Quarantine, MailingList.name)
        .join(MailingList, MailingList.id == Quarantine.list_id)
        .where(Quarantine.resolved_at.is_(None))
        .order_by(Quarantine.received_at.desc(), Quarantine.id.desc())
    )


def get_quarantined(actor: Any, quarantine_id: int) -> Quarantine:
    require(actor, Permission.ARCHIVE_QUARANTINE)
    found = db.session.get(Quarantine, quarantine_id)
    if found is None:
        raise NotFound("There is no such quarantined message.")
    return found


def quarantined_text(item: Quarantine) -> str:
    """The raw bytes for reading on the page (never as HTML: the template escapes it)."""
    return zlib.decompress(item.raw).decode("utf-8", "replace")


def reimport_quarantined(actor: Any, item: Quarantine) -> bool:
    """Try a quarantined message again through the store function (after a parser fix,
    say). True when it is in the archive now; otherwise it stays quarantined."""
    require(actor, Permission.ARCHIVE_QUARANTINE)
    if item.resolved_at is not None:
        raise Conflict("That message was re-imported already.")
    mailing_list = db.session.get(MailingList, item.list_id)
    assert mailing_list is not None
    raw = zlib.decompress(item.raw)
    result = store_messages(
        db.session(),
        mailing_list,
        [Incoming(raw, f"re-import of quarantine #{item.id}")],
        archive_dir=archive_dir(),
        publish=True,
        quarantine=False,
    )
    if result.quarantined:
        item.attempts += 1
        item.reason = next(iter(result.reasons), item.reason)
        audit.record(actor, Action.ARCHIVE_REIMPORT_FAILED, item, item.reason)
        return False
    item.resolved_at = utcnow()
    item.message_pk = result.message_pks[0] if result.message_pks else None
    audit.record(
        actor, Action.ARCHIVE_REIMPORTED, item, "imported" if result.imported else "duplicate"
    )
    return True
