"""R16 acts (public only by the chair, with a reason, audited, undoable) and the live
paths from the list server: the Mailman 3 archiver endpoint and the LMTP server."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import func, select

from infrawg.archives.lmtp import make_server
from infrawg.archives.models import MailingList, Message, Thread, Visibility
from infrawg.audit import AuditEvent
from infrawg.extensions import db
from tests.archives.factories import message, store, thread_of
from tests.conftest import html, migrated_app
from tests.servers.live import fresh_database
from tests.servers.ports import free_port

TOKEN = "archiver-test-token"


@pytest.fixture
def app_config(tmp_path) -> dict:
    return {"ARCHIVE_DIR": str(tmp_path / "archive"), "ARCHIVER_TOKEN": TOKEN}


@pytest.fixture
def thread(app) -> Thread:
    store("infra", message("t@example.org", "Mirror plans", "kangaroo"))
    return thread_of("infra", "t@example.org")


def test_r16_only_the_chair_makes_a_thread_public_with_a_reason(app, people, staff, chair, thread):
    url = f"/archives/infra/threads/{thread.id}/visibility"
    as_staff = people.sign_in(app.test_client(), staff)
    assert as_staff.post(url, data={"level": "public", "reason": "open"}).status_code == 403
    as_chair = people.sign_in(app.test_client(), chair)
    no_reason = as_chair.post(url, data={"level": "public", "reason": " "})
    assert no_reason.status_code == 400
    assert db.session.get(Thread, thread.id).visibility is None

    assert as_chair.post(url, data={"level": "public", "reason": "Board asked"}).status_code == 303
    assert db.session.get(Thread, thread.id).visibility == Visibility.PUBLIC
    event = db.session.scalar(
        select(AuditEvent).where(AuditEvent.action == "archive.thread_visibility.public")
    )
    assert event.actor_id == chair.id and "Board asked" in event.reason
    assert app.test_client().get(f"/archives/infra/threads/{thread.id}").status_code == 200
    anonymous = html(app.test_client().get("/archives/search?q=kangaroo"))
    assert anonymous.select("li.result")

    # Undoable, by the chair again, with a reason.
    assert as_chair.post(url, data={"level": "inherit", "reason": "Mistake"}).status_code == 303
    assert db.session.get(Thread, thread.id).visibility is None
    assert app.test_client().get(f"/archives/infra/threads/{thread.id}").status_code == 302


def test_r16_staff_keep_a_sensitive_thread_to_staff(app, people, staff, member, thread):
    as_staff = people.sign_in(app.test_client(), staff)
    url = f"/archives/infra/threads/{thread.id}/visibility"
    assert as_staff.post(url, data={"level": "staff", "reason": ""}).status_code == 303
    as_member = people.sign_in(app.test_client(), member)
    assert as_member.get(f"/archives/infra/threads/{thread.id}").status_code == 404
    assert as_member.post(url, data={"level": "inherit"}).status_code == 403


def test_r16_making_a_list_public_is_the_chairs_act(app, people, staff, chair, thread):
    as_staff = people.sign_in(app.test_client(), staff)
    refused = as_staff.post("/archives/infra/visibility", data={"level": "public", "reason": "x"})
    assert refused.status_code == 403
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "refused"))
    as_chair = people.sign_in(app.test_client(), chair)
    response = as_chair.post("/archives/infra/visibility", data={"level": "public", "reason": "ok"})
    assert response.status_code == 303
    assert db.session.scalar(select(MailingList.visibility)) == Visibility.PUBLIC


def test_mailman_archiver_endpoint_stores_through_the_same_function(app, client):
    raw = message("mm@example.org", "Via Mailman", "wallaby")
    url = "/archives/api/mailman/archive"
    data = {"mlist": "infra@lists.example.org"}
    assert client.post(url, data=data, csrf=False).status_code == 403  # no token
    wrong = client.post(f"{url}?key=nope", data=data, csrf=False)
    assert wrong.status_code == 403
    import io

    response = client.post(
        f"{url}?key={TOKEN}",
        data={**data, "message": (io.BytesIO(raw), "message.txt")},
        csrf=False,
        content_type="multipart/form-data",
    )
    assert response.status_code == 200, response.data
    assert response.json["url"].endswith("/archives/infra/")
    stored = db.session.scalar(select(Message).where(Message.message_id == "mm@example.org"))
    assert stored.published and stored.source == "mailman"
    # The list is new: created members-only (R16).
    assert db.session.scalar(select(MailingList.visibility)) == Visibility.MEMBERS
    again = client.post(
        url,
        data=raw,
        query_string={"mlist": "infra@lists.example.org"},
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "message/rfc822"},
        csrf=False,
    )
    assert again.status_code == 200
    assert db.session.scalar(select(func.count()).select_from(Message)) == 1
    urls = client.get(
        "/archives/api/mailman/urls",
        query_string={
            "mlist": "infra@lists.example.org",
            "msgid": "<mm@example.org>",
            "key": TOKEN,
        },
    )
    assert urls.json["url"].endswith("/archives/infra/messages/mm@example.org")


@pytest.fixture(scope="module")
def lmtp_site(tmp_path_factory) -> Iterator[tuple[Flask, int]]:
    """A site on its own database (the LMTP server stores from its own thread)."""
    import os

    tmp = tmp_path_factory.mktemp("lmtp")
    with fresh_database(os.environ.get("INFRAWG_TEST_DATABASE_URL"), tmp) as url:
        app = migrated_app(url, ARCHIVE_DIR=str(tmp / "archive"))
        port = free_port()
        server = make_server(app, "127.0.0.1", port)
        server.start()
        try:
            yield app, port
        finally:
            server.stop()
            with app.app_context():
                db.engine.dispose()


def _lmtp_conversation(port: int, recipients: list[str], raw: bytes) -> list[bytes]:
    """Speak LMTP on a socket (smtplib reads only one reply after DATA); return the replies
    to the recipients and to the end of data."""
    import socket

    replies: list[bytes] = []
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        stream = sock.makefile("rwb")

        def reply() -> bytes:
            line = stream.readline()
            while line[3:4] == b"-":
                line = stream.readline()
            return line

        def send(command: bytes) -> bytes:
            stream.write(command + b"\r\n")
            stream.flush()
            return reply()

        reply()  # greeting
        send(b"LHLO test.example.org")
        send(b"MAIL FROM:<list@example.org>")
        accepted = 0
        for recipient in recipients:
            answer = send(f"RCPT TO:<{recipient}>".encode())
            replies.append(answer)
            accepted += answer.startswith(b"250")
        send(b"DATA")
        body = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        stream.write(body.replace(b"\r\n.", b"\r\n..") + b"\r\n.\r\n")
        stream.flush()
        replies.extend(reply() for _ in range(accepted))
        send(b"QUIT")
    return replies


def test_lmtp_delivery_answers_per_recipient_and_stores(lmtp_site):
    app, port = lmtp_site
    raw = message("lmtp@example.org", "Over LMTP", "platypus")
    replies = _lmtp_conversation(
        port, ["infra@archive.example.org", "Bad Name!@x", "ops+archive@archive.example.org"], raw
    )
    assert [r[:3] for r in replies] == [b"250", b"550", b"250", b"250", b"250"]
    assert all(b"Archived" in r for r in replies[3:])
    with smtplib.LMTP("127.0.0.1", port) as lmtp:  # a plain client, one recipient
        lmtp.sendmail("list@example.org", ["infra@archive.example.org"], raw)
    with app.app_context():
        rows = db.session.execute(
            select(MailingList.name, Message.source)
            .join(Message, Message.list_id == MailingList.id)
            .where(Message.message_id == "lmtp@example.org")
        ).all()
        assert sorted(rows) == [("infra", "lmtp"), ("ops", "lmtp")]  # the second was a duplicate
        db.session.remove()


def test_lmtp_quarantines_what_is_not_mail(lmtp_site):
    app, port = lmtp_site
    with smtplib.LMTP("127.0.0.1", port) as lmtp:
        lmtp.sendmail("list@example.org", ["infra@archive.example.org"], b"\n\nno headers here\n")
    with app.app_context():
        from infrawg.archives.models import Quarantine

        item = db.session.scalar(select(Quarantine).where(Quarantine.source == "lmtp"))
        assert item is not None and "no header" in item.reason
        db.session.remove()
