"""The whole linux-i2c corpus through `flask infrawg archive import`, once per run, on a
database of its own: every message accounted for, threads formed, search finds them."""

from __future__ import annotations

import lzma
import os
import shutil
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import func, select

from infrawg.archives.models import MailingList, Message, Thread
from infrawg.extensions import db
from infrawg.membership.models import MembershipStatus, Person
from tests.archives.conftest import KNOWN_THREADS
from tests.conftest import html, migrated_app, password_hash, session_user_id
from tests.servers.live import fresh_database

pytestmark = pytest.mark.slow

KNOWN_THREADS_AFTER_IMPORT = {
    **KNOWN_THREADS,
    # Joined by the subject fallback (a reply without references).
    "966f09b8-0936-6d90-2ec8-bcb1b94c81aa@volny.cz": (4, None),
}


@pytest.fixture(scope="module")
def corpus_site(tmp_path_factory, corpus_xz) -> Iterator[tuple[Flask, str]]:
    """One import of the corpus (decompressed first) by the CLI, on a fresh database."""
    tmp = tmp_path_factory.mktemp("corpus")
    mbox = tmp / "linux-i2c.mbox"
    with lzma.open(corpus_xz) as source, mbox.open("wb") as target:
        shutil.copyfileobj(source, target, 1 << 20)
    with fresh_database(os.environ.get("INFRAWG_TEST_DATABASE_URL"), tmp) as url:
        app = migrated_app(url, ARCHIVE_DIR=str(tmp / "archive"))
        result = app.test_cli_runner().invoke(
            args=["infrawg", "archive", "import", "linux-i2c", str(mbox)]
        )
        assert result.exit_code == 0, result.output
        try:
            yield app, result.output
        finally:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()


def test_every_corpus_message_is_accounted_for(corpus_site):
    app, output = corpus_site
    summary = output.strip().splitlines()[-1]
    assert summary.startswith(
        "linux-i2c: read 10000, imported 9994, duplicates skipped 6, quarantined 0"
    ), summary
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Message)) == 9994
        assert db.session.scalar(select(func.count()).where(Message.published.is_(False))) == 0
        assert db.session.scalar(select(func.count()).select_from(Thread)) == 1726
        dates = db.session.execute(select(func.min(Message.date), func.max(Message.date))).one()
        assert dates[0].date().isoformat() >= "2019-04-29" and dates[1].year == 2021
        db.session.remove()


def test_known_threads_have_their_exact_sizes(corpus_site):
    app, _ = corpus_site
    with app.app_context():
        for root, (size, subject) in KNOWN_THREADS_AFTER_IMPORT.items():
            thread = db.session.scalar(select(Thread).where(Thread.root_key == root))
            assert thread is not None, root
            count = db.session.scalar(select(func.count()).where(Message.thread_id == thread.id))
            assert count == size, root
            if subject:
                assert thread.subject == subject
        db.session.remove()


def test_reimporting_the_corpus_adds_nothing(corpus_site, tmp_path, corpus_xz):
    app, _ = corpus_site
    result = app.test_cli_runner().invoke(
        args=["infrawg", "archive", "import", "linux-i2c", str(corpus_xz)]
    )
    assert "read 10000, imported 0, duplicates skipped 10000, quarantined 0" in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Message)) == 9994
        db.session.remove()


@pytest.mark.parametrize(
    ("query", "expected_subject"),
    [
        ("TLV493D", "TLV493D"),
        ("intel_skl_int3472", "intel_skl_int3472"),
        ("devm_platform_request_irq", "devm_platform_request_irq"),
        ("Великденски бонуси", "Великденски бонуси"),
        ("Improvements Tegra I2C driver", "Improvements for Tegra I2C driver"),
    ],
)
def test_search_finds_known_subjects(corpus_site, query, expected_subject):
    app, _ = corpus_site
    with app.app_context():
        person = db.session.scalar(select(Person).where(Person.email == "reader@example.org"))
        if person is None:
            person = Person(
                name="Reader",
                email="reader@example.org",
                password_hash=password_hash(),
                status=MembershipStatus.MEMBER,
                declared_foundation_member=True,
            )
            db.session.add(person)
            db.session.commit()
        user_id = session_user_id(person)
        db.session.remove()
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = user_id
    page = html(client.get("/archives/search", query_string={"q": query}))
    subjects = [a.get_text() for a in page.select("#search-results a.subject")]
    assert any(expected_subject.lower() in s.lower() for s in subjects), subjects
    assert page.select("#search-results mark")
    # Not for anyone else: an anonymous search finds nothing of a members-only list.
    anonymous = html(app.test_client().get("/archives/search", query_string={"q": query}))
    assert not anonymous.select("#search-results li")
    with app.app_context():
        assert db.session.scalar(select(MailingList.name)) == "linux-i2c"
        db.session.remove()
