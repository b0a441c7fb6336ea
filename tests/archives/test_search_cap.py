"""The ranking cap of the archive search: with more matches than the cap, only the newest
``cap`` matches are ranked (and counted, "more than cap"), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest

from infrawg.archives import service
from infrawg.archives.search import SearchQuery
from tests.archives.conftest import build_message
from tests.archives.factories import store
from tests.conftest import html


@pytest.fixture
def app_config(tmp_path) -> dict:
    return {"ARCHIVE_DIR": str(tmp_path / "archive")}


def _day(n: int) -> str:
    return f"Mon, {n:02d} Apr 2019 11:00:05 +0000"


@pytest.fixture
def five_matches(app) -> None:
    # The two oldest have the word in the subject (the best rank); the three newest only in
    # the body. Every one of them matches "zebrafish".
    raws = [
        build_message(
            message_id=f"<z{n}@example.org>",
            subject="About zebrafish" if n <= 2 else f"Note {n}",
            body=f"Plain text {n}, with a zebrafish in it.\n",
            date=_day(n),
        )
        for n in range(1, 6)
    ]
    store("infra", *raws)


def _ids(page) -> list[str]:
    return [row[0].message_id for row in page.items]


def test_search_ranks_every_match_under_the_cap(five_matches, member):
    page = service.search_messages(member, SearchQuery(text="zebrafish"), 1, per_page=20)
    assert page.total == 5 and not page.more
    # Subject hits first, each group newest first.
    assert _ids(page)[:2] == ["z2@example.org", "z1@example.org"]
    assert sorted(_ids(page)) == [f"z{n}@example.org" for n in range(1, 6)]


def test_search_ranks_only_the_newest_matches_over_the_cap(five_matches, member):
    query = SearchQuery(text="zebrafish")
    page = service.search_messages(member, query, 1, per_page=20, cap=3)
    # More than 3 match: the newest 3 are ranked; the older subject hits are left out.
    assert page.more and page.total == 3
    assert _ids(page) == ["z5@example.org", "z4@example.org", "z3@example.org"]
    # Paging walks the same 3 candidates, without repeats.
    first = service.search_messages(member, query, 1, per_page=2, cap=3)
    second = service.search_messages(member, query, 2, per_page=2, cap=3)
    assert _ids(first) + _ids(second) == _ids(page)
    # A prefix of the last word is the same search, under the same rule.
    prefix = service.search_messages(member, SearchQuery(text="zebraf"), 1, cap=3)
    assert _ids(prefix) == _ids(page)
    # The cap applies to the matches of the filters too: within the two oldest, both rank.
    older = SearchQuery(text="zebrafish", until=date(2019, 4, 2))
    assert _ids(service.search_messages(member, older, 1, cap=3)) == [
        "z2@example.org",
        "z1@example.org",
    ]


def test_search_page_explains_the_cap(app, people, member):
    client = people.sign_in(app.test_client(), member)
    help_text = html(client.get("/archives/search")).select_one("#search-help").get_text()
    assert "more than 1,000 matches, the newest 1,000 are ranked" in " ".join(help_text.split())
