"""The store function and the import: dedupe, quarantine, threading across batches,
publishing at the end, and bad input that must not crash or reach a page."""

from __future__ import annotations

import base64
import lzma
from pathlib import Path

import pytest
from sqlalchemy import func, select

from infrawg.archives.ingest import import_mbox
from infrawg.archives.models import (
    Attachment,
    MailingList,
    Message,
    Quarantine,
    Thread,
    Visibility,
)
from infrawg.audit import AuditEvent
from infrawg.extensions import db
from tests.archives.conftest import build_message
from tests.archives.factories import message, set_level, store, thread_of
from tests.conftest import html


@pytest.fixture
def app_config(tmp_path) -> dict:
    return {"ARCHIVE_DIR": str(tmp_path / "archive")}


def mbox(path: Path, *raws: bytes) -> Path:
    chunks = []
    for raw in raws:
        chunks.append(b"From sender@example.org Mon Apr 29 11:00:05 2019\n" + raw.rstrip(b"\n"))
    path.write_bytes(b"\n\n".join(chunks) + b"\n")
    return path


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_r16_import_accounts_for_every_message_and_reimport_adds_nothing(app, tmp_path):
    raws = [
        message("a@example.org", "First"),
        message("b@example.org", "Re: First", **{"In-Reply-To": "<a@example.org>"}),
        message("a@example.org", "First (the same id again)"),
        build_message(message_id=None, subject="No id at all"),
        b"\x00\x01 not mail\n",
    ]
    path = mbox(tmp_path / "list.mbox", *raws)
    summary = import_mbox(db.session, "infra", path, batch_size=2)
    assert (summary.read, summary.imported, summary.duplicates, summary.quarantined) == (5, 3, 1, 1)
    assert summary.read == summary.imported + summary.duplicates + summary.quarantined
    assert "quarantined 1" in summary.line() and "no header fields" in summary.line()
    assert db.session.scalar(select(MailingList.visibility)) == Visibility.MEMBERS
    assert count(Message) == 3
    assert db.session.scalar(select(func.count()).where(Message.published.is_(False))) == 0
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "archive.imported"))

    again = import_mbox(db.session, "infra", path)
    assert (again.imported, again.duplicates, again.quarantined) == (0, 4, 1)
    assert count(Message) == 3 and count(Quarantine) == 1


def test_r16_import_publishes_only_at_the_end(app, tmp_path, monkeypatch):
    from infrawg.archives import ingest

    seen: list[int] = []
    real_store = ingest.store_messages

    def spying_store(*args, **kwargs):
        assert kwargs["publish"] is False
        result = real_store(*args, **kwargs)
        seen.append(db.session.scalar(select(func.count()).where(Message.published.is_(True))))
        return result

    monkeypatch.setattr(ingest, "store_messages", spying_store)
    raws = [message(f"m{i}@example.org", f"Message {i}") for i in range(5)]
    import_mbox(db.session, "infra", mbox(tmp_path / "l.mbox", *raws), batch_size=2)
    assert seen == [0, 0, 0]  # between batches, nothing is readable
    assert db.session.scalar(select(func.count()).where(Message.published.is_(True))) == 5


def test_threads_join_across_batches_and_keep_their_row(app, tmp_path):
    # The reply arrives first (its parent is a ghost), the parent in a later batch.
    reply = message("r@example.org", "Re: Plan", **{"References": "<root@example.org>"})
    store("infra", reply)
    thread = thread_of("infra", "root@example.org")
    assert thread is not None
    store("infra", message("root@example.org", "Plan"))
    rows = db.session.execute(select(Message.message_id, Message.thread_id)).all()
    assert {thread_id for _, thread_id in rows} == {thread.id}
    parent = db.session.scalar(
        select(Message.parent_message_id).where(Message.message_id == "r@example.org")
    )
    assert parent == "root@example.org"
    assert db.session.get(Thread, thread.id).subject == "Plan"


def test_r16_a_reply_joining_a_staff_thread_stays_staff_only(app):
    store("infra", message("s@example.org", "Sensitive"))
    set_level(thread_of("infra", "s@example.org"), Visibility.STAFF)
    # A message that links the staff thread with a members one merges them: strictest wins.
    store("infra", message("o@example.org", "Other"))
    store(
        "infra",
        message("j@example.org", "Re: both", **{"References": "<s@example.org> <o@example.org>"}),
    )
    levels = {
        mid: db.session.get(Thread, tid).visibility
        for mid, tid in db.session.execute(select(Message.message_id, Message.thread_id))
    }
    assert set(levels.values()) == {Visibility.STAFF}


def test_subject_fallback_across_calls(app):
    store("infra", message("orig@example.org", "Broken client"))
    store("infra", message("reply@example.org", "Re: Broken client"))
    thread_ids = set(db.session.scalars(select(Message.thread_id)))
    assert len(thread_ids) == 1


def test_quarantine_is_viewable_and_reimportable_by_staff(app, people, staff, member):
    store("infra", b"\n\nthis is not a mail message\n")
    item = db.session.scalar(select(Quarantine))
    client = people.sign_in(app.test_client(), staff)
    page = html(client.get("/archives/quarantine"))
    assert page.select("#quarantine tbody tr")
    detail = html(client.get(f"/archives/quarantine/{item.id}"))
    assert "this is not a mail message" in detail.select_one("pre.raw").get_text()
    response = client.post(f"/archives/quarantine/{item.id}/reimport")
    assert response.status_code == 303
    assert db.session.get(Quarantine, item.id).attempts == 2  # still unparseable
    assert people.sign_in(app.test_client(), member).get("/archives/quarantine").status_code == 403


def test_reimport_stores_a_message_the_parser_now_reads(app, staff):
    import zlib

    from infrawg.archives import service

    mailing_list = MailingList(name="infra")
    db.session.add(mailing_list)
    db.session.flush()
    raw = message("fixed@example.org", "Now readable")
    item = Quarantine(
        list_id=mailing_list.id,
        raw=zlib.compress(raw),
        raw_sha256="0" * 64,
        size=len(raw),
        reason="an older parser gave up",
        source="test",
    )
    db.session.add(item)
    db.session.commit()
    assert service.reimport_quarantined(staff, item) is True
    db.session.commit()
    assert item.resolved_at is not None and item.message_pk is not None
    assert db.session.get(Message, item.message_pk).published


# ----------------------------------------------------------------------------- bad input

SCRIPTED_HTML = (
    "<html><body><p>Click <a href=\"javascript:alert('x')\">here</a></p>"
    "<script>alert('owned')</script><img src=x onerror=alert(1)>"
    '<a href="https://example.org/" onclick="steal()">ok link</a>'
    '<style>body{display:none}</style><iframe src="https://evil.example"></iframe></body></html>'
)


def _bad_mbox(tmp_path: Path) -> Path:
    twenty_mb = base64.encodebytes(b"\xff" * (20 * 1024 * 1024)).decode("ascii")
    references = " ".join(f"<ref{i}@example.org>" for i in range(1000))
    raws = [
        # HTML only, with scripts, handlers and javascript: links.
        build_message(
            message_id="<html@example.org>",
            subject="HTML <script>alert(1)</script> subject",
            headers={"MIME-Version": "1.0", "Content-Type": "text/html; charset=utf-8"},
            body=SCRIPTED_HTML,
        ),
        # A text part and an HTML part: the text is shown, the HTML never as is.
        build_message(
            message_id="<alt@example.org>",
            subject="Alternative",
            headers={
                "MIME-Version": "1.0",
                "Content-Type": 'multipart/alternative; boundary="x"',
            },
            body=f"--x\nContent-Type: text/plain\n\nplain words\n--x\n"
            f"Content-Type: text/html\n\n{SCRIPTED_HTML}\n--x--\n",
        ),
        # Wrong charsets: declared utf-8 but Latin-1 bytes; an unknown charset.
        build_message(
            message_id="<latin@example.org>",
            subject="=?utf-8?q?caf=E9?=",
            headers={"Content-Type": "text/plain; charset=utf-8"},
            body="Gr\xfc\xdfe aus K\xf6ln\n".encode("latin-1"),
        ),
        build_message(
            message_id="<unknown@example.org>",
            subject="=?x-no-such-charset?b?SGVsbG8=?=",
            headers={"Content-Type": "text/plain; charset=x-no-such-charset"},
            body=b"\x8f\x90 bytes\n",
        ),
        # A 20 MB attachment.
        build_message(
            message_id="<big@example.org>",
            subject="Big attachment",
            headers={"MIME-Version": "1.0", "Content-Type": 'multipart/mixed; boundary="b"'},
            body="--b\nContent-Type: text/plain\n\nSee attached.\n--b\n"
            "Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n"
            'Content-Disposition: attachment; filename="../../etc/big.bin"\n\n'
            f"{twenty_mb}--b--\n",
        ),
        # 1,000 References.
        build_message(
            message_id="<refs@example.org>",
            subject="Re: many refs",
            headers={"References": references, "In-Reply-To": "<ref999@example.org>"},
        ),
        # Truncated in the middle of its headers, and one cut inside a multipart.
        b"From: Cut <cut@example.org>\nSubject: cut short\nMessage-ID: <cut@exa",
        build_message(
            message_id="<cutmime@example.org>",
            subject="Cut MIME",
            headers={"MIME-Version": "1.0", "Content-Type": 'multipart/mixed; boundary="q"'},
            body="--q\nContent-Type: text/plain\n\nhalf a mess",
        ),
    ]
    path = tmp_path / "bad.mbox.xz"
    chunks = [b"From x@example.org Mon Apr 29 11:00:05 2019\n" + raw for raw in raws]
    # The file itself ends without a newline, inside the last message.
    path.write_bytes(lzma.compress(b"\n\n".join(chunks)))
    return path


def _assert_safe(page_html: str) -> None:
    page = html_of(page_html)
    scripts = page.find_all("script")
    assert all(s.get("src", "").startswith("/static/") and not s.string for s in scripts)
    for tag in page.find_all(True):
        for name, value in tag.attrs.items():
            assert not name.startswith("on"), f"{tag.name} has {name}"
            text = " ".join(value) if isinstance(value, list) else str(value)
            assert "javascript:" not in text.lower(), f"{tag.name} {name}={text}"
    assert page.find("iframe") is None and page.find("img") is None
    assert page.find("style") is None


def html_of(text: str):
    from bs4 import BeautifulSoup

    return BeautifulSoup(text, "html.parser")


@pytest.mark.slow
def test_r16_bad_input_never_crashes_and_no_script_reaches_a_page(app, people, member, tmp_path):
    summary = import_mbox(db.session, "infra", _bad_mbox(tmp_path))
    assert summary.read == 8
    assert summary.read == summary.imported + summary.duplicates + summary.quarantined
    assert summary.imported >= 7
    big = db.session.scalar(
        select(Attachment)
        .join(Message, Message.id == Attachment.message_pk)
        .where(Message.message_id == "big@example.org")
    )
    assert big.size == 20 * 1024 * 1024 and big.filename == "big.bin"
    refs = db.session.scalar(select(Message).where(Message.message_id == "refs@example.org"))
    assert refs.parent_message_id is None  # its ancestors are not archived
    assert "references" in refs.warnings

    client = people.sign_in(app.test_client(), member)
    for message_id in db.session.scalars(select(Message.message_id)):
        response = client.get(f"/archives/infra/messages/{message_id}")
        assert response.status_code == 200, message_id
        _assert_safe(response.get_data(as_text=True))
    for thread_id in db.session.scalars(select(Thread.id)):
        for suffix in ("", "?view=flat"):
            response = client.get(f"/archives/infra/threads/{thread_id}{suffix}")
            assert response.status_code == 200
            _assert_safe(response.get_data(as_text=True))
    for query in ("owned", "alert", "script", "click", "plain"):
        response = client.get(f"/archives/search?q={query}")
        assert response.status_code == 200
        _assert_safe(response.get_data(as_text=True))

    html_page = html(client.get("/archives/infra/messages/html@example.org"))
    # An HTML-only message is shown as the text of its HTML (the text body is preferred).
    assert "Click here" in html_page.select_one("article.mail .body").get_text()
    stored_html = db.session.scalar(
        select(Message.body_html).where(Message.message_id == "html@example.org")
    )
    assert "<script" not in stored_html and "javascript:" not in stored_html
    assert "onerror" not in stored_html and "onclick" not in stored_html
    alt_page = html(client.get("/archives/infra/messages/alt@example.org"))
    assert "plain words" in alt_page.select_one("article.mail .body").get_text()
    assert alt_page.select_one(".html-body") is None  # the text body is preferred
    latin = html(client.get("/archives/infra/messages/latin@example.org"))
    assert "aus K" in latin.select_one("article.mail .body").get_text()  # best effort
    attachment = client.get(f"/archives/attachments/{big.id}/big.bin")
    assert attachment.status_code == 200 and len(attachment.data) == big.size


def test_r16_search_snippets_are_escaped(app, people, member):
    store("infra", message("x@example.org", "Escaping", "<b>bold</b> keyword & <script>x</script>"))
    client = people.sign_in(app.test_client(), member)
    page = html(client.get("/archives/search?q=keyword"))
    snippet = page.select_one("p.snippet")
    assert snippet.find("b") is None and snippet.find("script") is None
    # SQLite keeps the tags as text (escaped); PostgreSQL's ts_headline drops them.
    assert "bold" in snippet.get_text()
    assert [m.get_text() for m in snippet.find_all("mark")] == ["keyword"]


def test_quoted_text_is_folded_and_views_switch(app, people, member):
    store(
        "infra",
        message("q1@example.org", "Quoting", "Own words.\n"),
        message(
            "q2@example.org",
            "Re: Quoting",
            "> Own words.\n> more quote\n\nMy answer.\n",
            **{"In-Reply-To": "<q1@example.org>"},
        ),
    )
    client = people.sign_in(app.test_client(), member)
    thread_id = thread_of("infra", "q1@example.org").id
    page = html(client.get(f"/archives/infra/threads/{thread_id}"))
    details = page.select("details.quote")
    assert len(details) == 1 and "2 quoted lines" in details[0].summary.get_text()
    assert page.select("ol.thread ol article.mail"), "the reply is nested under its parent"
    flat = html(client.get(f"/archives/infra/threads/{thread_id}?view=flat"))
    assert not flat.select("ol.thread ol") and len(flat.select("article.mail")) == 2
    permalink = html(client.get("/archives/infra/messages/q2@example.org"))
    assert permalink.select_one("a[rel=prev]")["href"].endswith("/messages/q1@example.org")
    months = html(client.get("/archives/infra/months"))
    assert months.select_one("#months td").get_text() == "2019-04"


def test_r16_stored_html_is_cleaned_again_when_shown(app):
    from infrawg.archives.views import _sanitised_html

    shown = html_of(str(_sanitised_html(SCRIPTED_HTML)))
    assert shown.find("script") is None and shown.find("img") is None
    assert all(not (a.get("href") or "").startswith("javascript:") for a in shown.find_all("a"))
    assert all(not name.startswith("on") for t in shown.find_all(True) for name in t.attrs)
