"""Work that waits for the transaction that asked for it: done once it commits, dropped if
it rolls back. One mechanism for every area (mail to attempt, jobs to push to RQ).

An area registers a handler for its key in its ``init_app`` (``on_commit(key, handler)``);
a service function calls ``after_commit(key, item)`` inside its transaction; when the
session commits, each handler gets the items queued under its key. ``create_app`` installs
the two session listeners once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from infrawg.extensions import db

_PENDING = "infrawg_after_commit"
Handler = Callable[[Session, list[Any]], None]
_HANDLERS: dict[str, Handler] = {}


def on_commit(key: str, handler: Handler) -> None:
    """Call ``handler(session, items)`` with what was queued under ``key``, after commit."""
    _HANDLERS[key] = handler


def after_commit(key: str, item: Any) -> None:
    """Queue ``item`` for ``key``'s handler once the current transaction commits."""
    db.session.info.setdefault(_PENDING, {}).setdefault(key, []).append(item)


def _committed(session: Session) -> None:
    for key, items in (session.info.pop(_PENDING, None) or {}).items():
        _HANDLERS[key](session, items)


def _rolled_back(session: Session) -> None:
    session.info.pop(_PENDING, None)


def install() -> None:
    """The session listeners, once per process (``create_app`` calls it for every app)."""
    if not event.contains(Session, "after_commit", _committed):
        event.listen(Session, "after_commit", _committed)
        event.listen(Session, "after_rollback", _rolled_back)
