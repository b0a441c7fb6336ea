"""The LMTP server a list server delivers to: each message is stored as it arrives.

`flask infrawg archive lmtp --port N` runs it (aiosmtpd). The list is named by the
recipient's local part (``infra@archive.example.org`` -> list ``infra``; a ``+detail`` is
ignored) unless ``--list`` fixes one. LMTP answers once per recipient (RFC 2033): a list
whose message was stored (or already there) gets 250, a recipient that names no valid
list 550. Storing goes through the same function as the import (store.py).
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.lmtp import LMTP
from flask import Flask

from infrawg.extensions import db

LIST_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,119}\Z")
# Larger than any message the site accepts over HTTP, with room for base64.
DATA_SIZE_LIMIT = 96 * 1024 * 1024


def list_for(address: str, fixed: str | None = None) -> str | None:
    """The list a recipient address names, or None when it names no valid list."""
    if fixed:
        return fixed
    local = address.rsplit("@", 1)[0].split("+", 1)[0].strip("<>").lower()
    return local if LIST_NAME.match(local) else None


class ArchiveHandler:
    """aiosmtpd handler: stores each delivered message in its recipients' lists."""

    def __init__(self, app: Flask, list_name: str | None = None) -> None:
        self.app = app
        self.list_name = list_name

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if list_for(address, self.list_name) is None:
            return "550 5.1.1 No such list"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw: bytes = envelope.original_content or b""
        loop = asyncio.get_running_loop()
        statuses = []
        for address in envelope.rcpt_tos:
            name = list_for(address, self.list_name)
            assert name is not None  # handle_RCPT accepted list addresses only
            status = await loop.run_in_executor(None, self._store, name, raw)
            statuses.append(status)
        # LMTP: one reply line per accepted recipient.
        return "\r\n".join(statuses)

    def _store(self, list_name: str, raw: bytes) -> str:
        from infrawg.archives.ingest import deliver

        with self.app.app_context():
            try:
                result = deliver(db.session(), list_name, raw, "lmtp")
            except Exception:  # the list server retries a 451 later; nothing is lost
                db.session.rollback()
                self.app.logger.exception("LMTP delivery to %s failed", list_name)
                return "451 4.3.0 Could not store the message; try again later"
            finally:
                db.session.remove()
        if result.quarantined:
            return "250 2.0.0 Quarantined: " + next(iter(result.reasons), "unparseable")[:200]
        return "250 2.0.0 Archived"


class LMTPController(Controller):
    """aiosmtpd's controller, speaking LMTP instead of SMTP."""

    def factory(self) -> LMTP:
        return LMTP(self.handler, data_size_limit=DATA_SIZE_LIMIT, enable_SMTPUTF8=True)


def make_server(app: Flask, host: str, port: int, list_name: str | None = None) -> LMTPController:
    """An LMTP server for ``app`` (not started: call ``start()`` / ``stop()``)."""
    return LMTPController(ArchiveHandler(app, list_name), hostname=host, port=port)
