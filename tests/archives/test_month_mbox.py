"""A whole month of a list downloads as an mbox, of what the person may read (R16)."""

from __future__ import annotations

import mailbox
import zlib
from collections import Counter
from itertools import islice

import pytest
from sqlalchemy import select

from infrawg.archives.mbox import iter_mbox
from infrawg.archives.models import MailingList, Message, Quarantine, Visibility
from infrawg.archives.service import EXPORT_BATCH
from infrawg.extensions import db
from infrawg.governance.models import Role
from infrawg.membership.models import MembershipStatus
from tests.archives.conftest import build_message
from tests.archives.factories import set_level, store, thread_of
from tests.conftest import html

LIST = "infra"
MAY = "Thu, 02 May 2019 10:00:00 +0000"
JUNE = "Mon, 03 Jun 2019 10:00:00 +0000"


@pytest.fixture
def app_config(tmp_path) -> dict:
    return {"ARCHIVE_DIR": str(tmp_path / "archive")}


def month_of(date: str, message_id: str, subject: str, body: str = "Hello.\n") -> bytes:
    return build_message(message_id=f"<{message_id}>", subject=subject, date=date, body=body)


def parsed_ids(response, tmp_path) -> list[str]:
    """The Message-IDs of a downloaded mbox, read back with Python's mailbox module."""
    path = tmp_path / "download.mbox"
    path.write_bytes(response.get_data())
    return [(m["Message-ID"] or "").strip("<>") for m in mailbox.mbox(path)]


def month_ids(list_name: str, month: str) -> list[str]:
    """The month's messages as the archive holds them ("" for one that came without an
    id: the archive made one up, the download has none), in date order."""
    return [
        "" if synthetic else message_id
        for message_id, synthetic in db.session.execute(
            select(Message.message_id, Message.message_id_synthetic)
            .join(MailingList, MailingList.id == Message.list_id)
            .where(MailingList.name == list_name, Message.month == month, Message.published)
            .order_by(Message.date, Message.id)
        )
    ]


@pytest.fixture
def archive(app):
    store(
        LIST,
        month_of(MAY, "may-1@example.org", "Rotation", "From the start, a line to escape.\n"),
        month_of(MAY, "may-2@example.org", "Incident", "quokkasecret\n"),
        month_of(MAY, "may-3@example.org", "Mirror"),
        month_of(JUNE, "june-1@example.org", "Next month"),
        b"\x00\x01 not mail\n",  # quarantined: never a message of any month
    )
    store(LIST, month_of(MAY, "may-pending@example.org", "Not yet"), publish=False)
    set_level(thread_of(LIST, "may-2@example.org"), Visibility.STAFF)
    assert db.session.scalar(select(Quarantine.id)) is not None


def test_month_downloads_as_an_mbox_of_the_messages_the_member_may_read(
    app, people, archive, tmp_path
):
    member = people.sign_in(app.test_client(), people.make("Mia Member"))
    page = html(member.get(f"/archives/{LIST}/months/2019-05"))
    link = page.select_one("#month-mbox")
    assert link["href"] == f"/archives/{LIST}/months/2019-05.mbox"

    response = member.get(link["href"])
    assert response.status_code == 200
    assert response.mimetype == "application/mbox"
    assert response.is_streamed
    assert response.headers["Content-Disposition"] == "attachment; filename=infra-2019-05.mbox"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    # Not the staff-only thread, not the unpublished message, not June, not the quarantine.
    assert parsed_ids(response, tmp_path) == ["may-1@example.org", "may-3@example.org"]
    # mboxrd: the body line starting "From " is escaped (mailbox, an mboxo reader, keeps
    # the ">"), and the archive's own reader gives the message back byte for byte.
    path = tmp_path / "download.mbox"
    assert next(iter(mailbox.mbox(path))).get_payload().startswith(">From the start")
    stored = db.session.scalar(select(Message).where(Message.message_id == "may-1@example.org"))
    assert next(iter_mbox(path)).raw == zlib.decompress(stored.raw)

    staff = people.sign_in(app.test_client(), people.make("Sam Staff", roles=(Role.STAFF,)))
    assert parsed_ids(staff.get(link["href"]), tmp_path) == [
        "may-1@example.org",
        "may-2@example.org",
        "may-3@example.org",
    ]


def test_month_download_refuses_who_may_not_read_and_unknown_months(app, people, archive):
    url = f"/archives/{LIST}/months/2019-05.mbox"
    anonymous = app.test_client().get(url)
    assert anonymous.status_code == 302 and "/signin" in anonymous.headers["Location"]
    former = people.sign_in(
        app.test_client(), people.make("Finn Former", status=MembershipStatus.LEFT)
    )
    assert former.get(url).status_code == 404
    member = people.sign_in(app.test_client(), people.make("Mia Member"))
    for missing in ("2019-07", "2019-13", "nonsense"):
        assert member.get(f"/archives/{LIST}/months/{missing}.mbox").status_code == 404
    assert member.get("/archives/no-such-list/months/2019-05.mbox").status_code == 404
    # A month whose only message is staff-only is empty for a member: not found.
    store(LIST, month_of("Tue, 06 Aug 2019 10:00:00 +0000", "aug@example.org", "Hidden"))
    set_level(thread_of(LIST, "aug@example.org"), Visibility.STAFF)
    assert member.get(f"/archives/{LIST}/months/2019-08.mbox").status_code == 404
    assert not html(member.get(f"/archives/{LIST}/months/2019-08")).select("#month-mbox")


def test_public_month_download_holds_only_the_public_thread(app, people, archive, tmp_path):
    set_level(thread_of(LIST, "may-3@example.org"), Visibility.PUBLIC)
    response = app.test_client().get(f"/archives/{LIST}/months/2019-05.mbox")
    assert response.status_code == 200
    assert parsed_ids(response, tmp_path) == ["may-3@example.org"]


def test_corpus_month_downloads_whole_across_batches(app, people, corpus_xz, tmp_path):
    # Real messages: the corpus's first 600, stored as the import stores them.
    raws = [m.raw for m in islice(iter_mbox(corpus_xz), 600)]
    store("linux-i2c", *raws)
    month, count = Counter(
        db.session.scalars(select(Message.month).where(Message.message_id_synthetic.is_(False)))
    ).most_common(1)[0]
    assert count > EXPORT_BATCH, "the month spans more than one batch of the export"
    member = people.sign_in(app.test_client(), people.make("Mia Member"))
    response = member.get(f"/archives/linux-i2c/months/{month}.mbox")
    assert response.status_code == 200
    assert parsed_ids(response, tmp_path) == month_ids("linux-i2c", month)
