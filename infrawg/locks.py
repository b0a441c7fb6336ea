"""Locks for guards that read then write (races are rules too).

On PostgreSQL a guard locks the rows its rule is about (``SELECT ... FOR UPDATE``), or a
name when there is no row yet; the second of two concurrent acts waits, then reads what
the first committed. On SQLite every transaction that may write starts with
``BEGIN IMMEDIATE`` (see ``web._sqlite_begin``), so writers run one at a time and these
calls need to do nothing there (SQLite ignores FOR UPDATE).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable

from sqlalchemy import func, select

from infrawg.extensions import db


def lock_rows(model, ids: Iterable[int]) -> None:
    """Lock these rows of ``model`` until the transaction ends, in id order.

    Always in the same order, so two transactions locking overlapping sets cannot deadlock.
    FOR NO KEY UPDATE: lockers wait for each other, but rows that merely refer to the
    locked one (a new tenant member, an audit event: FOR KEY SHARE) do not wait.
    """
    wanted = sorted(set(ids))
    if wanted:
        db.session.execute(
            select(model.id)
            .where(model.id.in_(wanted))
            .order_by(model.id)
            .with_for_update(key_share=True)
        ).all()


def lock_name(name: str) -> None:
    """Lock a name until the transaction ends, for a rule with no row to lock (one chair)."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(select(func.pg_advisory_xact_lock(zlib.crc32(name.encode()))))
