"""The one function that stores mail in the archive: import, LMTP and Mailman all call it.

:func:`store_messages` takes a batch of raw messages for one list and, in the caller's
transaction: parses each one, quarantines what cannot be parsed, skips duplicates (by
Message-ID per list; a message without one has a content-hash id), threads the new
messages together with the stored threads they touch (the incremental recipe of
threading.py, one batch at a time), writes the messages, their references, attachments
(content-addressed files, files.py) and tells the search index (search.py owns it).
Nothing else writes those tables, so an imported message and a delivered one are
indistinguishable.

R16: messages are written with ``published`` false unless the caller publishes them at
once (live delivery to a list whose level is already set); an import publishes the whole
run in one UPDATE at its end (:func:`publish_list`).
"""

from __future__ import annotations

import hashlib
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from sqlalchemy import CursorResult, Table, bindparam, delete, insert, select, text, update
from sqlalchemy.orm import Session

from infrawg.archives import search
from infrawg.archives.files import (
    Background,
    compress_all,
    write_attachments,
)
from infrawg.archives.models import (
    ID_LENGTH,
    Attachment,
    MailingList,
    Message,
    MessageReference,
    Quarantine,
    Thread,
    Visibility,
)
from infrawg.archives.parse import ParsedMessage, Unparseable, parse_message
from infrawg.archives.threading import (
    DEFAULT_SUBJECT_WINDOW,
    ThreadInput,
    Threads,
    related_ids,
    thread_messages,
)
from infrawg.timeutil import utcnow

# Bound parameters per IN (...) list: far below SQLite's and PostgreSQL's limits.
_CHUNK = 500
# From this many new messages on, compression and attachment files go to a worker
# thread (zlib and file writes release the GIL) while threading and inserts run here.
_BACKGROUND_FROM = 32
# The tables written with Core executemany (typed as tables, which __table__ is).
_MESSAGES = cast(Table, Message.__table__)
_REFERENCES = cast(Table, MessageReference.__table__)
_ATTACHMENTS = cast(Table, Attachment.__table__)


@dataclass(frozen=True, slots=True)
class Incoming:
    """A raw message to store, with where it came from (shown on quarantined ones)."""

    raw: bytes
    source: str
    note: str | None = None  # e.g. the mbox reader saw the file end inside this message


@dataclass
class StoreResult:
    """What one call (or a whole import, added up) did with the messages it was given."""

    read: int = 0
    imported: int = 0
    duplicates: int = 0
    quarantined: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    message_pks: list[int] = field(default_factory=list)

    def add(self, other: StoreResult) -> None:
        self.read += other.read
        self.imported += other.imported
        self.duplicates += other.duplicates
        self.quarantined += other.quarantined
        self.reasons.update(other.reasons)
        self.message_pks.extend(other.message_pks)


def id_key(message_id: str) -> str:
    """The stored form of a message id: itself, or a hash of it when too long to index."""
    if len(message_id.encode("utf-8")) <= ID_LENGTH - 100:
        return message_id
    return f"sha256.{hashlib.sha256(message_id.encode('utf-8')).hexdigest()}@long-id.invalid"


def subject_key(thread_subject: str) -> str:
    """What the subject fallback compares: a fixed-size hash of the normalised subject."""
    if not thread_subject:
        return ""
    return hashlib.sha256(thread_subject.encode("utf-8")).hexdigest()[:32]


def get_or_create_list(session: Session, name: str) -> MailingList:
    """The list called ``name``; a new one is members-only (R16: confidential by default)."""
    found = session.scalar(select(MailingList).where(MailingList.name == name))
    if found is None:
        found = MailingList(name=name, visibility=Visibility.MEMBERS)
        session.add(found)
        session.flush()
    return found


def _chunks(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


@dataclass(slots=True)
class _New:
    incoming: Incoming
    parsed: ParsedMessage
    key: str
    in_reply_to: str | None
    references: tuple[str, ...]
    subject_key: str
    date: datetime  # aware UTC

    def thread_input(self) -> ThreadInput:
        return ThreadInput(
            self.key,
            self.in_reply_to,
            self.references,
            self.subject_key,
            self.parsed.is_reply,
            self.date,
        )


def store_messages(
    session: Session,
    mailing_list: MailingList,
    batch: Sequence[Incoming],
    *,
    archive_dir: Path,
    publish: bool,
    quarantine: bool = True,
) -> StoreResult:
    """Store ``batch`` in ``mailing_list`` (see the module docs); the caller commits.

    Every message given is counted once: imported, duplicate or quarantined, so
    ``read == imported + duplicates + quarantined``. With ``quarantine`` false (re-trying
    a quarantined message) an unparseable message is counted but not written again.
    """
    result = StoreResult(read=len(batch))
    now = datetime.now(UTC)
    parsed: list[_New] = []
    for incoming in batch:
        try:
            message = parse_message(incoming.raw, fallback_date=now)
        except Unparseable as exc:
            result.quarantined += 1
            result.reasons[exc.reason] += 1
            if quarantine:
                _quarantine(session, mailing_list, incoming, exc.reason)
            continue
        parsed.append(
            _New(
                incoming,
                message,
                id_key(message.message_id),
                id_key(message.in_reply_to) if message.in_reply_to else None,
                tuple(dict.fromkeys(id_key(r) for r in message.references)),
                subject_key(message.thread_subject),
                message.date or now,
            )
        )

    fresh = _drop_duplicates(session, mailing_list, parsed)
    result.duplicates = len(parsed) - len(fresh)
    if not fresh:
        session.flush()
        return result

    with Background(len(fresh) >= _BACKGROUND_FROM) as background:
        return _store_fresh(session, mailing_list, fresh, result, archive_dir, publish, background)


def _store_fresh(
    session: Session,
    mailing_list: MailingList,
    fresh: list[_New],
    result: StoreResult,
    archive_dir: Path,
    publish: bool,
    background: Background,
) -> StoreResult:
    # The bytes work first, so that it overlaps the threading and the queries below.
    # One task each: the worker takes the GIL back between two messages, not a future.
    raws = background.run(compress_all, [new.incoming.raw for new in fresh])
    parts = [part for new in fresh for part in new.parsed.attachments]
    writes = background.run(write_attachments, archive_dir, parts)

    stored, stored_refs = _load_related_threads(session, mailing_list, fresh)
    threads = thread_messages(_thread_inputs(stored, stored_refs, fresh))
    thread_pk = _thread_rows(session, mailing_list, threads.thread, stored, fresh)
    _move_stored(session, stored, threads, thread_pk)
    _drop_emptied_threads(session, {row.thread_id for row in stored}, set(thread_pk.values()))

    rows = _message_rows(mailing_list, fresh, raws.result(), threads, thread_pk, publish)
    pks = _insert_messages(session, mailing_list, fresh, rows)
    result.imported = len(pks)
    result.message_pks = pks
    _insert_references_and_attachments(session, mailing_list, fresh, pks)
    search.index_new_messages(session, pks, rows)
    _keep_statistics(session, len(pks))
    writes.result()  # every file is on disk before the caller commits
    session.flush()
    return result


# The tables whose lookups the next batch makes (by list and Message-ID, by reference).
_LOOKED_UP = ("archive_message", "archive_message_reference", "archive_thread")


def _keep_statistics(session: Session, added: int) -> None:
    """On PostgreSQL, ANALYZE the archive's tables when a batch added more messages than
    the planner believes there are (never analysed: -1). Without statistics it looks
    Message-IDs up by the list alone and filters every row of the list: each batch of
    an import read the whole archive (10k messages at 782 msg/s, 40k at 509). Once
    analysed, the shape (one list, unique ids) holds as the tables grow, so an import
    analyses after its first batch, a live delivery almost never."""
    if session.get_bind().dialect.name != "postgresql":
        return
    believed = session.scalar(
        text("SELECT reltuples FROM pg_class WHERE oid = 'archive_message'::regclass")
    )
    if believed is None or believed < added:
        for table in _LOOKED_UP:
            session.execute(text(f"ANALYZE {table}"))


def _thread_inputs(
    stored: list[Any], stored_refs: dict[int, tuple[str, ...]], fresh: list[_New]
) -> list[ThreadInput]:
    """What threading reads: the stored messages of the threads touched, then the new ones."""
    inputs = [
        ThreadInput(
            row.message_id,
            row.in_reply_to,
            stored_refs.get(row.id, ()),
            row.subject_key,
            row.is_reply,
            row.date.replace(tzinfo=UTC),
        )
        for row in stored
    ]
    inputs.extend(new.thread_input() for new in fresh)
    return inputs


def _move_stored(
    session: Session, stored: list[Any], threads: Threads, thread_pk: dict[str, int]
) -> None:
    """Stored messages whose thread or parent changed (a new message joined two trees,
    or arrived as the missing ancestor of earlier replies)."""
    moved = [
        {"pk": row.id, "thread": thread_pk[threads.thread[row.message_id]],
         "parent": threads.parent[row.message_id]}
        for row in stored
        if thread_pk[threads.thread[row.message_id]] != row.thread_id
        or threads.parent[row.message_id] != row.parent_message_id
    ]  # fmt: skip
    if moved:
        session.execute(
            update(_MESSAGES)
            .where(_MESSAGES.c.id == bindparam("pk"))
            .values(thread_id=bindparam("thread"), parent_message_id=bindparam("parent")),
            moved,
        )


def _message_rows(
    mailing_list: MailingList,
    fresh: list[_New],
    raws: list[bytes],
    threads: Threads,
    thread_pk: dict[str, int],
    publish: bool,
) -> list[dict[str, Any]]:
    """The archive_message rows of the new messages, in their order."""
    received = utcnow()
    rows = []
    for new, raw in zip(fresh, raws, strict=True):
        message = new.parsed
        notes = list(message.warnings)
        if new.incoming.note:
            notes.insert(0, new.incoming.note)
        date = new.date.astimezone(UTC).replace(tzinfo=None)
        rows.append(
            {
                "list_id": mailing_list.id,
                "thread_id": thread_pk[threads.thread[new.key]],
                "message_id": new.key,
                "message_id_synthetic": message.message_id_synthetic,
                "parent_message_id": threads.parent[new.key],
                "in_reply_to": new.in_reply_to,
                "subject": message.subject,
                "subject_key": new.subject_key,
                "is_reply": message.is_reply,
                "from_name": message.from_name,
                "from_email": message.from_email,
                "to_addrs": message.to,
                "cc_addrs": message.cc,
                "date": date,
                "date_source": message.date_source if message.date else "received",
                "month": date.strftime("%Y-%m"),
                "body_text": message.body_text,
                "body_html": message.body_html_sanitised,
                "content_hash": message.content_hash,
                "size": message.size,
                "warnings": "\n".join(notes),
                "raw": raw,
                "published": publish,
                "source": new.incoming.source[:40],
                "received_at": received,
            }
        )
    return rows


def _insert_messages(
    session: Session, mailing_list: MailingList, fresh: list[_New], rows: list[dict[str, Any]]
) -> list[int]:
    """Insert ``rows``; the new ids in the order of ``fresh``."""
    # One executemany of Core inserts, then the new ids by (list, Message-ID): RETURNING
    # in parameter order would make SQLite insert row by row.
    session.execute(insert(_MESSAGES), rows)
    pk_of: dict[str, int] = {}
    keys = [new.key for new in fresh]
    for chunk in _chunks(keys):
        for key, pk in session.execute(
            select(Message.message_id, Message.id).where(
                Message.list_id == mailing_list.id, Message.message_id.in_(chunk)
            )
        ):
            pk_of[key] = pk
    return [pk_of[key] for key in keys]


def _insert_references_and_attachments(
    session: Session, mailing_list: MailingList, fresh: list[_New], pks: list[int]
) -> None:
    references: list[dict[str, Any]] = []
    attachments: list[dict[str, Any]] = []
    for pk, new in zip(pks, fresh, strict=True):
        for position, ref in enumerate(new.references):
            references.append(
                {"message_pk": pk, "position": position, "list_id": mailing_list.id, "ref_id": ref}
            )
        if new.in_reply_to:
            references.append(
                {"message_pk": pk, "position": -1, "list_id": mailing_list.id,
                 "ref_id": new.in_reply_to}
            )  # fmt: skip
        for position, part in enumerate(new.parsed.attachments):
            attachments.append(
                {
                    "message_pk": pk,
                    "position": position,
                    "filename": part.filename[:255],
                    "content_type": part.content_type[:255],
                    "size": part.size,
                    "sha256": part.sha256,
                }
            )
    if references:
        session.execute(insert(_REFERENCES), references)
    if attachments:
        session.execute(insert(_ATTACHMENTS), attachments)


def publish_list(session: Session, mailing_list: MailingList) -> int:
    """Make every unpublished message of the list readable, in one UPDATE (R16).

    Called at the end of an import, once the list's visibility is what it will be:
    before this the messages are in no page, search result or export.
    """
    # An UPDATE's result is a cursor result, which counts the rows it changed.
    outcome = cast(
        CursorResult[Any],
        session.execute(
            update(Message)
            .where(Message.list_id == mailing_list.id, Message.published.is_(False))
            .values(published=True)
            .execution_options(synchronize_session=False)
        ),
    )
    return outcome.rowcount or 0


def _quarantine(
    session: Session, mailing_list: MailingList, incoming: Incoming, reason: str
) -> None:
    digest = hashlib.sha256(incoming.raw).hexdigest()
    existing = session.scalar(
        select(Quarantine).where(
            Quarantine.list_id == mailing_list.id, Quarantine.raw_sha256 == digest
        )
    )
    if existing is not None:
        existing.attempts += 1  # the same bytes again (a re-import): kept once
        return
    session.add(
        Quarantine(
            list_id=mailing_list.id,
            raw=zlib.compress(incoming.raw, 6),
            raw_sha256=digest,
            size=len(incoming.raw),
            reason=reason,
            source=incoming.source[:200],
        )
    )
    session.flush()


def _drop_duplicates(session: Session, mailing_list: MailingList, parsed: list[_New]) -> list[_New]:
    keys = list(dict.fromkeys(new.key for new in parsed))
    known: set[str] = set()
    for chunk in _chunks(keys):
        known.update(
            session.scalars(
                select(Message.message_id).where(
                    Message.list_id == mailing_list.id, Message.message_id.in_(chunk)
                )
            )
        )
    fresh: list[_New] = []
    for new in parsed:
        if new.key not in known:
            known.add(new.key)  # a second copy in the same batch is a duplicate too
            fresh.append(new)
    return fresh


def _load_related_threads(
    session: Session, mailing_list: MailingList, fresh: list[_New]
) -> tuple[list[Any], dict[int, tuple[str, ...]]]:
    """The stored messages of every thread the new ones may join, and their References."""
    ids: set[str] = set()
    for new in fresh:
        ids |= related_ids(new.thread_input())
    id_list = sorted(ids)
    thread_ids: set[int] = set()
    for chunk in _chunks(id_list):
        thread_ids.update(
            session.scalars(
                select(Message.thread_id).where(
                    Message.list_id == mailing_list.id, Message.message_id.in_(chunk)
                )
            )
        )
        thread_ids.update(
            session.scalars(
                select(Message.thread_id)
                .join(MessageReference, MessageReference.message_pk == Message.id)
                .where(
                    MessageReference.list_id == mailing_list.id, MessageReference.ref_id.in_(chunk)
                )
            )
        )
        thread_ids.update(
            session.scalars(
                select(Thread.id).where(
                    Thread.list_id == mailing_list.id, Thread.root_key.in_(chunk)
                )
            )
        )
    # Threading's subject fallback: replies without any reference may join the thread of
    # an earlier message with the same subject.
    orphans = [
        new
        for new in fresh
        if new.parsed.is_reply and new.subject_key and not new.references and not new.in_reply_to
    ]
    if orphans:
        earliest = min(new.date for new in orphans) - DEFAULT_SUBJECT_WINDOW
        subjects = sorted({new.subject_key for new in orphans})
        for chunk in _chunks(subjects):
            thread_ids.update(
                session.scalars(
                    select(Message.thread_id).where(
                        Message.list_id == mailing_list.id,
                        Message.subject_key.in_(chunk),
                        Message.date >= earliest.replace(tzinfo=None),
                    )
                )
            )
    if not thread_ids:
        return [], {}
    columns = (
        Message.id,
        Message.message_id,
        Message.in_reply_to,
        Message.subject_key,
        Message.is_reply,
        Message.date,
        Message.thread_id,
        Message.parent_message_id,
        Message.subject,
    )
    stored: list[Any] = []
    for chunk in _chunks(sorted(thread_ids)):
        stored.extend(session.execute(select(*columns).where(Message.thread_id.in_(chunk))))
    refs: dict[int, list[str]] = {}
    for chunk in _chunks([row.id for row in stored]):
        for pk, ref in session.execute(
            select(MessageReference.message_pk, MessageReference.ref_id)
            .where(MessageReference.message_pk.in_(chunk), MessageReference.position >= 0)
            .order_by(MessageReference.message_pk, MessageReference.position)
        ):
            refs.setdefault(pk, []).append(ref)
    return stored, {pk: tuple(values) for pk, values in refs.items()}


def _thread_rows(
    session: Session,
    mailing_list: MailingList,
    thread_of: dict[str, str],
    stored: list[Any],
    fresh: list[_New],
) -> dict[str, int]:
    """Thread root key -> Thread row id, creating rows for new threads and updating the
    subject of every affected thread to its earliest message's."""
    roots = sorted(set(thread_of.values()))
    existing: dict[str, Thread] = {}
    for chunk in _chunks(roots):
        for thread in session.scalars(
            select(Thread).where(Thread.list_id == mailing_list.id, Thread.root_key.in_(chunk))
        ):
            existing[thread.root_key] = thread

    # Threads that the new messages merge into one keep the strictest level (R16: a
    # staff-only conversation does not become readable by joining another one).
    old_threads = {row.thread_id for row in stored}
    previous: dict[int, Thread] = {}
    for chunk in _chunks(sorted(old_threads)):
        for thread in session.scalars(select(Thread).where(Thread.id.in_(chunk))):
            previous[thread.id] = thread
    merged_into: dict[str, list[Thread]] = {}
    for row in stored:
        old = previous.get(row.thread_id)
        if old is not None:
            group = merged_into.setdefault(thread_of[row.message_id], [])
            if old not in group:
                group.append(old)

    earliest: dict[str, tuple[datetime, str]] = {}
    for row in stored:
        root = thread_of[row.message_id]
        candidate = (row.date.replace(tzinfo=UTC), row.subject)
        if root not in earliest or candidate[0] < earliest[root][0]:
            earliest[root] = candidate
    for new in fresh:
        root = thread_of[new.key]
        candidate = (new.date, new.parsed.subject)
        if root not in earliest or candidate[0] < earliest[root][0]:
            earliest[root] = candidate

    # The thread's subject is its root message's, when archived; else the earliest one's.
    for row in stored:
        if row.message_id == thread_of[row.message_id]:
            earliest[row.message_id] = (datetime.min.replace(tzinfo=UTC), row.subject)
    for new in fresh:
        if new.key == thread_of[new.key]:
            earliest[new.key] = (datetime.min.replace(tzinfo=UTC), new.parsed.subject)

    for root in roots:
        found = existing.get(root)
        sources = merged_into.get(root, [])
        if found is None and sources:
            # A new ancestor arrived above a stored thread: the row (and its id in
            # links) stays, under its new root.
            found = sources[0]
            found.root_key = root
        elif found is None:
            found = Thread(list_id=mailing_list.id, root_key=root, subject="")
            session.add(found)
        existing[root] = found
        if sources:
            found.visibility = _strictest(mailing_list, [found, *sources])
        found.subject = earliest[root][1]
    session.flush()
    return {root: existing[root].id for root in roots}


def _strictest(mailing_list: MailingList, threads: Iterable[Thread]) -> Visibility | None:
    levels = [t.visibility for t in threads]
    effective = [level or mailing_list.visibility for level in levels]
    strictest = max(effective, key=lambda level: level.strictness)
    if strictest == mailing_list.visibility and None in levels:
        return None
    return strictest


def _drop_emptied_threads(session: Session, old: set[int], kept: set[int]) -> None:
    gone = sorted(old - kept)
    if gone:
        session.execute(delete(Thread).where(Thread.id.in_(gone)))
