"""`flask infrawg bench-data` (what `make bench` loads at a foundation's size): the rows it
adds on top of the demo, and the corpus repeated as new mail."""

from __future__ import annotations

import io

from sqlalchemy import func, select

from infrawg.archives.models import Message, Thread
from infrawg.benchdata import replicate_mbox
from infrawg.extensions import db
from infrawg.membership.models import Person
from infrawg.surveys.models import Response
from infrawg.tenants.models import TenantOrganisation
from tests.test_demo import demo_app  # noqa: F401  (the fixture)

MBOX = (
    b"From a@example.org Mon Jan  1 00:00:00 2024\n"
    b"From: Ann <a@example.org>\nMessage-ID: <root@example.org>\nSubject: Clock stretching\n"
    b"Date: Mon, 1 Jan 2024 00:00:00 +0000\n\nThe first.\n\n"
    b"From b@example.org Mon Jan  1 01:00:00 2024\n"
    b"From: Bo <b@example.org>\nMessage-ID: <reply@example.org>\n"
    b"In-Reply-To: <root@example.org>\nReferences:\n <root@example.org>\n"
    b"Subject: Re: Clock stretching\nDate: Mon, 1 Jan 2024 01:00:00 +0000\n\nThe reply.\n\n"
)


def test_the_corpus_repeated_renames_each_copys_message_ids_and_keeps_its_threads(tmp_path):
    source = tmp_path / "two.mbox"
    source.write_bytes(MBOX)
    out = io.BytesIO()
    assert replicate_mbox(source, out, 5) == 5
    text = out.getvalue()
    assert text.count(b"Message-ID: <root@example.org>") == 1
    assert text.count(b"Message-ID: <bench1.root@example.org>") == 1
    assert b"In-Reply-To: <bench1.root@example.org>" in text
    assert b"References:\n <bench1.root@example.org>" in text
    assert b"Message-ID: <bench2.root@example.org>" in text
    # Addresses are not message names: the senders stay who they were.
    assert text.count(b"From: Ann <a@example.org>") == 3


def test_bench_data_adds_a_foundations_rows_on_top_of_the_demo(demo_app, tmp_path):  # noqa: F811
    source = tmp_path / "two.mbox"
    source.write_bytes(MBOX)
    runner = demo_app.test_cli_runner()
    assert runner.invoke(args=["infrawg", "demo"]).exit_code == 0
    with demo_app.app_context():
        people_before = db.session.scalar(select(func.count()).select_from(Person))
        responses_before = db.session.scalar(select(func.count()).select_from(Response))
        messages_before = db.session.scalar(select(func.count()).select_from(Message))
        threads_before = db.session.scalar(select(func.count()).select_from(Thread))
    added = runner.invoke(
        args=[
            "infrawg",
            "bench-data",
            "--members",
            "30",
            "--organisations",
            "3",
            "--responses",
            "12",
            "--messages",
            "6",
            "--list",
            "bench",
            "--corpus",
            str(source),
        ]
    )
    assert added.exit_code == 0, added.output
    with demo_app.app_context():
        count = lambda model: db.session.scalar(select(func.count()).select_from(model))  # noqa: E731
        assert count(Person) == people_before + 30
        assert count(Response) == responses_before + 12
        assert (
            db.session.scalar(
                select(func.count()).where(TenantOrganisation.slug.like("bench-wg-%"))
            )
            == 3
        )
        assert count(Message) == messages_before + 6
        assert count(Thread) == threads_before + 3  # each copy of the two-message thread is one
        db.session.remove()
