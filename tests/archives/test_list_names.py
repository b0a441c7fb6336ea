"""R16: a list a person cannot read does not exist for them, even once another list (or
another thread) is public: not on the index, not in the counts, not in the search filter,
and its URLs answer exactly as a list that was never there."""

from __future__ import annotations

import pytest

from infrawg.archives.models import Visibility
from infrawg.membership.models import MembershipStatus
from tests.archives.factories import message, set_level, store, thread_of
from tests.conftest import html

OPEN = "open-list"
SECRET = "secret-board-list"


@pytest.fixture
def app_config(tmp_path) -> dict:
    return {"ARCHIVE_DIR": str(tmp_path / "archive")}


@pytest.fixture
def lists(app) -> None:
    """Two members-only lists; one thread of the first made public by the chair's act."""
    store(OPEN, message("open-1@example.org", "Announcing the mirror", "for all"))
    store(SECRET, message("secret-1@example.org", "Board matters", "members only"))
    set_level(thread_of(OPEN, "open-1@example.org"), Visibility.PUBLIC)


def _names_on_index(client) -> set[str]:
    page = html(client.get("/archives/"))
    return {link.text.strip() for link in page.select("#lists a")}


def _search_filter_options(client) -> set[str]:
    page = html(client.get("/archives/search?q=matters"))
    return {option.get("value") for option in page.select("select[name=list] option")}


def test_r16_a_public_thread_does_not_reveal_the_names_of_members_only_lists(lists, client):
    page = client.get("/archives/")
    assert page.status_code == 200
    assert OPEN in _names_on_index(client)
    assert SECRET not in page.get_data(as_text=True)
    assert SECRET not in _search_filter_options(client)
    assert OPEN in _search_filter_options(client)


def test_r16_members_see_every_members_list_beside_the_public_one(lists, app, people):
    client = people.sign_in(app.test_client(), people.make("Mo Member"))
    assert {OPEN, SECRET} <= _names_on_index(client)
    assert SECRET in _search_filter_options(client)


def test_r16_a_hidden_list_answers_like_a_list_that_does_not_exist(lists, app, people):
    applicant = people.make("Ann Applicant", status=MembershipStatus.AWAITING_APPROVAL)
    client = people.sign_in(app.test_client(), applicant)
    for suffix in ("/", "/months"):
        hidden = client.get(f"/archives/{SECRET}{suffix}")
        missing = client.get(f"/archives/no-such-list{suffix}")
        assert hidden.status_code == missing.status_code == 404
        assert html(hidden).select_one("main").text == html(missing).select_one("main").text
    # The public list itself is there, with only its public thread counted.
    assert client.get(f"/archives/{OPEN}/").status_code == 200
    anonymous = app.test_client()
    assert anonymous.get(f"/archives/{SECRET}/").status_code == 302
    assert anonymous.get("/archives/no-such-list/").status_code == 302


def test_r16_searching_a_hidden_list_by_name_finds_nothing(lists, client):
    page = html(client.get(f"/archives/search?q=matters&list={SECRET}"))
    assert not page.select(".result, .results li")
    assert "Board matters" not in page.text
