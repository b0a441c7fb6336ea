"""Making archive content in tests: lists, messages through the store function, levels."""

from __future__ import annotations

from pathlib import Path

from flask import current_app

from infrawg.archives.models import MailingList, Thread, Visibility
from infrawg.archives.store import Incoming, StoreResult, get_or_create_list, store_messages
from infrawg.extensions import db
from tests.archives.conftest import build_message

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def with_attachment(
    message_id: str,
    subject: str,
    body: str,
    filename: str,
    payload: bytes,
    content_type: str = "application/octet-stream",
    **extra: str,
) -> bytes:
    """A multipart message: a text part and one base64 attachment."""
    import base64

    encoded = base64.encodebytes(payload).decode("ascii")
    headers = {"MIME-Version": "1.0", "Content-Type": 'multipart/mixed; boundary="b0"', **extra}
    text = (
        "--b0\nContent-Type: text/plain; charset=utf-8\n\n"
        f"{body}\n"
        f"--b0\nContent-Type: {content_type}\nContent-Transfer-Encoding: base64\n"
        f'Content-Disposition: attachment; filename="{filename}"\n\n'
        f"{encoded}\n--b0--\n"
    )
    return build_message(message_id=f"<{message_id}>", subject=subject, headers=headers, body=text)


def message(message_id: str, subject: str, body: str = "Hello.\n", **headers: str) -> bytes:
    return build_message(message_id=f"<{message_id}>", subject=subject, body=body, headers=headers)


def store(list_name: str, *raws: bytes, publish: bool = True) -> StoreResult:
    """Store ``raws`` in the list (created members-only) through the one store function."""
    mailing_list = get_or_create_list(db.session, list_name)
    result = store_messages(
        db.session,
        mailing_list,
        [Incoming(raw, "test") for raw in raws],
        archive_dir=Path(current_app.config["ARCHIVE_DIR"]),
        publish=publish,
    )
    db.session.commit()
    return result


def thread_of(list_name: str, root_key: str) -> Thread:
    from sqlalchemy import select

    return db.session.scalar(
        select(Thread)
        .join(MailingList, MailingList.id == Thread.list_id)
        .where(MailingList.name == list_name, Thread.root_key == root_key)
    )


def set_level(thread: Thread, level: Visibility | None) -> None:
    """Straight in the database (the acts that do it have their own tests)."""
    thread.visibility = level
    db.session.commit()
