"""The group's mailing list behind a small interface; joining and leaving change it.

Backends are chosen by INFRAWG_LIST_BACKEND. ``log`` (the default) records each call in
the ``list_call`` table, which is also what ``members()`` and the drift report read.
"""

from __future__ import annotations

from typing import Protocol

from flask import current_app
from sqlalchemy import func, select

from infrawg.extensions import db
from infrawg.membership.models import ListCall

SUBSCRIBE = "subscribe"
UNSUBSCRIBE = "unsubscribe"


class ListBackend(Protocol):
    def subscribe(self, email: str) -> None: ...

    def unsubscribe(self, email: str) -> None: ...

    def members(self) -> set[str]: ...


class LogListBackend:
    """Records calls in the database (same transaction as the membership change)."""

    def __init__(self, list_address: str) -> None:
        self.list_address = list_address

    def _record(self, email: str, action: str) -> None:
        db.session.add(ListCall(list_address=self.list_address, email=email, action=action))

    def subscribe(self, email: str) -> None:
        self._record(email, SUBSCRIBE)

    def unsubscribe(self, email: str) -> None:
        self._record(email, UNSUBSCRIBE)

    def members(self) -> set[str]:
        latest = (
            select(func.max(ListCall.id))
            .where(ListCall.list_address == self.list_address)
            .group_by(ListCall.email)
        )
        return set(
            db.session.scalars(
                select(ListCall.email).where(ListCall.id.in_(latest), ListCall.action == SUBSCRIBE)
            )
        )


BACKENDS = {"log": LogListBackend}


def list_backend() -> ListBackend:
    name = current_app.config["LIST_BACKEND"]
    try:
        backend_cls = BACKENDS[name]
    except KeyError:
        raise RuntimeError(
            f"INFRAWG_LIST_BACKEND={name!r} is not one of {', '.join(BACKENDS)}"
        ) from None
    return backend_cls(current_app.config["LIST_ADDRESS"])
