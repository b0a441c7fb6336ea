"""Over the ranking cap, the newest matches are found along the message dates (on SQLite
a covering index, search._sqlite_newest): that walk still starts from visible_messages,
so a hidden or unpublished match neither counts nor takes a candidate's place (R16)."""

from __future__ import annotations

import pytest

from infrawg.archives import service
from infrawg.archives.models import Visibility
from infrawg.archives.search import SearchQuery
from tests.archives.conftest import build_message
from tests.archives.factories import set_level, store, thread_of


@pytest.fixture
def app_config(tmp_path) -> dict:
    return {"ARCHIVE_DIR": str(tmp_path / "archive")}


def _raw(n: int) -> bytes:
    return build_message(
        message_id=f"<w{n}@example.org>",
        subject=f"Note {n}",
        body=f"Plain text {n}, with a zebrafish in it.\n",
        date=f"Mon, {n:02d} Apr 2019 11:00:05 +0000",
    )


@pytest.fixture
def hidden_newest(app) -> None:
    # w1..w3 readable by members; w4 (newer) in a staff-only thread; w5 (newest) stored
    # but not published (an import still running).
    store("infra", *(_raw(n) for n in range(1, 5)))
    set_level(thread_of("infra", "w4@example.org"), Visibility.STAFF)
    store("infra", _raw(5), publish=False)


def _ids(page) -> set[str]:
    return {row[0].message_id for row in page.items}


def test_the_walk_over_the_cap_skips_what_the_reader_may_not_see(hidden_newest, member):
    page = service.search_messages(member, SearchQuery(text="zebrafish"), 1, cap=2)
    assert page.more and page.total == 2
    assert _ids(page) == {"w3@example.org", "w2@example.org"}
    # Under the cap every readable match is ranked, and only those.
    everything = service.search_messages(member, SearchQuery(text="zebraf"), 1, cap=10)
    assert not everything.more and everything.total == 3
    assert _ids(everything) == {f"w{n}@example.org" for n in (1, 2, 3)}


def test_staff_walk_includes_the_staff_thread_but_not_the_unpublished(hidden_newest, staff):
    page = service.search_messages(staff, SearchQuery(text="zebrafish"), 1, cap=2)
    assert page.more and page.total == 2
    assert _ids(page) == {"w4@example.org", "w3@example.org"}
    assert service.search_messages(staff, SearchQuery(text="zebrafish"), 1, cap=10).total == 4


def test_the_walk_keeps_the_filters(hidden_newest, member):
    # The sender filter and the list filter apply to the walk too.
    nobody = SearchQuery(text="zebrafish", sender="nobody-here")
    assert service.search_messages(member, nobody, 1, cap=1).total == 0
    other_list = SearchQuery(text="zebrafish", list_name="no-such-list")
    assert service.search_messages(member, other_list, 1, cap=1).total == 0
