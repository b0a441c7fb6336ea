"""Getting mail into the archive: an mbox import, and one message from a list server.

Both go through :func:`infrawg.archives.store.store_messages`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from infrawg import audit
from infrawg.actions import Action
from infrawg.archives.mbox import iter_mbox
from infrawg.archives.models import MailingList
from infrawg.archives.store import (
    Incoming,
    StoreResult,
    get_or_create_list,
    publish_list,
    store_messages,
)

BATCH_SIZE = 1000


@dataclass
class ImportSummary(StoreResult):
    """A store result with the list it went to and how many messages were published."""

    list_name: str = ""
    published: int = 0

    def line(self) -> str:
        """The closing line of an import: every message read is accounted for."""
        line = (
            f"{self.list_name}: read {self.read}, imported {self.imported}, "
            f"duplicates skipped {self.duplicates}, quarantined {self.quarantined}"
        )
        if self.reasons:
            reasons = "; ".join(
                f"{count}x {reason}" for reason, count in self.reasons.most_common()
            )
            line += f" ({reasons})"
        return line


def archive_dir() -> Path:
    return Path(current_app.config["ARCHIVE_DIR"])


def import_mbox(
    session: Session,
    list_name: str,
    path: str | os.PathLike[str],
    *,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[int], None] | None = None,
) -> ImportSummary:
    """Import the mbox at ``path`` (plain, .gz, .xz, .bz2) into the list ``list_name``.

    Streams the file (memory bounded by one batch), commits each batch, and calls
    ``progress`` with the bytes of the file read so far. R16: the list is created
    members-only if new, and the messages stay unpublished until the last batch is in;
    then one UPDATE publishes them at the list's level. Re-importing adds nothing.
    """
    mailing_list = get_or_create_list(session, list_name)
    session.commit()
    _sqlite_pragmas(session, _IMPORT_PRAGMAS)
    try:
        summary = _import_batches(session, mailing_list, path, batch_size, progress)
    finally:
        _sqlite_pragmas(session, _AFTER_IMPORT_PRAGMAS)
    _refresh_statistics(session)
    summary.message_pks = []  # not needed by callers; do not keep 10,000 ids around
    return summary


def _import_batches(
    session: Session,
    mailing_list: MailingList,
    path: str | os.PathLike[str],
    batch_size: int,
    progress: Callable[[int], None] | None,
) -> ImportSummary:
    list_name = mailing_list.name
    directory = archive_dir()
    summary = ImportSummary(list_name=list_name)
    source = Path(path).name
    batch: list[Incoming] = []

    def flush() -> None:
        summary.add(
            store_messages(session, mailing_list, batch, archive_dir=directory, publish=False)
        )
        session.commit()
        batch.clear()

    for message in iter_mbox(path):
        note = None
        if message.truncated:
            note = message.error or "truncated: the file ends inside this message"
        batch.append(Incoming(message.raw, f"{source}#{message.index + 1}", note))
        if len(batch) >= batch_size:
            flush()
            if progress is not None:
                progress(message.position)
    if batch:
        flush()
    if progress is not None:
        progress(os.path.getsize(path))
    summary.published = publish_list(session, mailing_list)
    audit.record(None, Action.ARCHIVE_IMPORTED, mailing_list, summary.line()[:2000])
    session.commit()
    return summary


def _refresh_statistics(session: Session) -> None:
    """After a bulk load the planner's statistics are stale (PostgreSQL's autovacuum has
    not run yet and picks nested loops over "tiny" tables); refresh them for our tables."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        # The GIN index took the import into its pending list (fastupdate), which every
        # search then reads from end to end until a vacuum merges it: merge it now.
        session.execute(text("SELECT gin_clean_pending_list('ix_archive_message_search')"))
        for table in (
            "archive_list",  # one row: autovacuum's threshold (50 changes) is never met
            "archive_message",
            "archive_thread",
            "archive_message_reference",
        ):
            session.execute(text(f"ANALYZE {table}"))
    elif dialect == "sqlite":
        session.execute(text("PRAGMA optimize"))
    session.commit()


# During an import, SQLite's WAL with synchronous=NORMAL: commits stop waiting on fsync.
# A crash loses at most the last batches (unpublished; a re-import puts them back), never
# the database. And a checkpoint every ~100 MB of WAL instead of every 4 MB: each one
# copied the batch's pages into the database and synced it, and the FTS and index pages
# that every batch rewrites were copied once per batch.
_IMPORT_PRAGMAS = ("PRAGMA synchronous=NORMAL", "PRAGMA wal_autocheckpoint=25000")
# Then SQLite's default interval again, and the WAL written back and emptied.
_AFTER_IMPORT_PRAGMAS = ("PRAGMA wal_autocheckpoint=1000", "PRAGMA wal_checkpoint(TRUNCATE)")


def _sqlite_pragmas(session: Session, pragmas: tuple[str, ...]) -> None:
    """Run ``pragmas`` outside a transaction on the (idle) pooled connection the session
    uses; nothing on PostgreSQL, or for a session bound to one connection (the tests')."""
    engine = session.get_bind()
    if not isinstance(engine, Engine) or engine.dialect.name != "sqlite":
        return
    connection = engine.raw_connection()
    try:
        driver = connection.driver_connection
        assert driver is not None  # a pooled connection that is checked out
        for pragma in pragmas:
            driver.execute(pragma)
    finally:
        connection.close()


def deliver(session: Session, list_name: str, raw: bytes, source: str) -> StoreResult:
    """Store one message from the list server (LMTP or the Mailman archiver) and commit.

    Published at once, at the level its list (or the thread it joins) already has.
    """
    mailing_list = get_or_create_list(session, list_name)
    result = store_messages(
        session, mailing_list, [Incoming(raw, source)], archive_dir=archive_dir(), publish=True
    )
    session.commit()
    return result
