"""The real corpus: 10,000 linux-i2c messages read from .xz, parsed and threaded."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from infrawg.archives.parse import ParsedMessage
from infrawg.archives.threading import ThreadInput, thread_messages

from .conftest import CORPUS_SIZE, KNOWN_THREADS
from .test_threading import thread_incrementally

pytestmark = pytest.mark.slow

Corpus = tuple[list[ParsedMessage], list[str]]


@pytest.fixture(scope="module")
def threads(corpus_parsed: Corpus):
    parsed, _ = corpus_parsed
    return thread_messages(ThreadInput.from_parsed(m) for m in parsed)


def test_every_message_is_read_and_parsed(corpus_parsed: Corpus) -> None:
    parsed, unparseable = corpus_parsed

    assert len(parsed) + len(unparseable) == CORPUS_SIZE
    assert unparseable == []
    # Five Message-IDs occur more than once: 3 true copies (same content hash) and
    # 2+1 different messages re-sent under an existing id; dedupe by id skips 6.
    ids = Counter(m.message_id for m in parsed)
    assert len(ids) == CORPUS_SIZE - 6
    assert sorted(n for n in ids.values() if n > 1) == [2, 2, 2, 2, 3]
    assert not any(m.message_id_synthetic for m in parsed)
    assert all(m.date is not None and m.date_source == "header" for m in parsed)


def test_corpus_facts(corpus_parsed: Corpus) -> None:
    parsed, _ = corpus_parsed
    dates = [m.date for m in parsed if m.date]

    assert min(dates) == datetime(2019, 4, 29, 9, 0, 5, tzinfo=UTC)
    assert max(dates) == datetime(2021, 1, 21, 11, 58, 43, tzinfo=UTC)
    kinds = Counter(a.content_type for m in parsed for a in m.attachments)
    assert kinds["application/pgp-signature"] == 1554
    assert sum(kinds.values()) == 1652
    assert not any(m.body_html_sanitised for m in parsed)
    cyrillic = [m for m in parsed if m.subject == "Великденски бонуси"]
    assert cyrillic


def test_known_threads(corpus_parsed: Corpus, threads) -> None:
    parsed, _ = corpus_parsed
    by_id = {m.message_id: m for m in parsed}
    members = threads.members()

    for root, (size, subject) in KNOWN_THREADS.items():
        assert by_id[root].subject == subject
        assert len(members[root]) == size, subject
        assert threads.parent[root] is None

    cover = "20200908224006.25636-1-digetx@gmail.com"
    patches = [f"20200908224006.25636-{n}-digetx@gmail.com" for n in range(2, 36)]
    assert all(threads.parent[p] == cover for p in patches)
    assert by_id[patches[0]].subject.startswith("[PATCH v7 01/34] i2c: tegra:")


def test_reply_without_references_joins_its_thread_by_subject(
    corpus_parsed: Corpus, threads
) -> None:
    root = "966f09b8-0936-6d90-2ec8-bcb1b94c81aa@volny.cz"
    orphan = "20191018210115.GA3902@roeck-us.net"  # Guenter Roeck's reply, no references

    assert len(threads.members()[root]) == 4
    assert threads.thread[orphan] == root
    assert threads.parent[orphan] == "20191018205637.GS35946@dtor-ws"
    assert orphan in threads.subject_matched


def test_thread_sizes(threads) -> None:
    sizes = Counter(len(ids) for ids in threads.members().values())

    assert sum(sizes.values()) == 1726
    assert sizes[1] == 440
    assert max(sizes) == 146


def test_incremental_threading_of_the_corpus_matches_the_batch(
    corpus_parsed: Corpus, threads
) -> None:
    parsed, _ = corpus_parsed
    incremental = thread_incrementally(
        [ThreadInput.from_parsed(m) for m in parsed], timedelta(days=90)
    )
    assert incremental.thread == threads.thread
    assert incremental.parent == threads.parent
