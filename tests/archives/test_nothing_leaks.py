"""The archive keeps its secrets on the way out too: no cache keeps a page, the files on
disk are the site's only, the archiver's token travels in a header and never reaches a
log, and bad search input gets a page, not a 500."""

from __future__ import annotations

import io
import logging
import stat
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select

from infrawg.archives.models import Attachment, Message
from infrawg.extensions import db
from infrawg.web import QUERY_STRING_FILTER
from tests.archives.factories import PNG, message, store, thread_of, with_attachment
from tests.conftest import html

TOKEN = "archiver-header-token"
ARCHIVE = "/archives/api/mailman/archive"


@pytest.fixture
def app_config(tmp_path) -> dict:
    return {"ARCHIVE_DIR": str(tmp_path / "archive"), "ARCHIVER_TOKEN": TOKEN}


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_archive_pages_are_never_stored_by_a_cache(app: Flask, people, member):
    store("infra", message("c@example.org", "Cache me not", "numbat"))
    thread = thread_of("infra", "c@example.org")
    client = people.sign_in(app.test_client(), member)
    for url in (
        "/archives/",
        "/archives/infra/",
        f"/archives/infra/threads/{thread.id}",
        f"/archives/infra/threads/{thread.id}.mbox",
        "/archives/search?q=numbat",
    ):
        response = client.get(url)
        response.close()
        assert response.status_code == 200, url
        assert response.headers["Cache-Control"] == "no-store", url
    assert "no-store" not in client.get("/").headers.get("Cache-Control", "")


def test_attachment_files_and_their_directories_are_the_sites_only(app: Flask, tmp_path):
    store(
        "infra",
        with_attachment("a@example.org", "Diagram", "see it", "d.png", PNG, "image/png"),
    )
    sha = db.session.scalar(select(Attachment.sha256))
    root = tmp_path / "archive"
    path = root / sha[:2] / sha[2:4] / sha
    assert _mode(path) == 0o600
    for directory in (root, path.parent.parent, path.parent):
        assert _mode(directory) == 0o700, directory


@pytest.mark.parametrize(
    "headers",
    [{"Authorization": f"Bearer {TOKEN}"}, {"X-Archiver-Token": TOKEN}],
    ids=["bearer", "x-archiver-token"],
)
def test_the_archiver_token_is_accepted_from_a_header(client, headers):
    raw = message("h@example.org", "Via a header", "quoll")
    response = client.post(
        ARCHIVE,
        data={"mlist": "infra@lists.example.org", "message": (io.BytesIO(raw), "m.eml")},
        headers=headers,
        csrf=False,
        content_type="multipart/form-data",
    )
    assert response.status_code == 200, response.data
    assert db.session.scalar(select(func.count()).select_from(Message)) == 1
    wrong = client.post(
        ARCHIVE,
        data={"mlist": "infra@lists.example.org"},
        headers={"X-Archiver-Token": "not-it"},
        csrf=False,
    )
    assert wrong.status_code == 403


def test_the_request_log_never_shows_a_query_string(app):
    # What werkzeug's server logs for the mailman-hyperkitty plugin's ?key= request.
    logger = logging.getLogger("werkzeug")
    assert QUERY_STRING_FILTER in logger.filters
    line = f"GET /archives/api/mailman/urls?mlist=infra&key={TOKEN} HTTP/1.1"
    record = logger.makeRecord(
        "werkzeug",
        logging.INFO,
        __file__,
        1,
        '%s - - [%s] "%s" %s %s',
        ("127.0.0.1", "now", line, "200", "-"),
        None,
    )
    assert logger.filter(record)
    logged = record.getMessage()
    assert TOKEN not in logged
    assert "mlist" not in logged
    assert '"GET /archives/api/mailman/urls?… HTTP/1.1" 200' in logged


def test_search_until_the_last_day_there_is_finds_instead_of_failing(client):
    store("infra", message("p@example.org", "Public wombat", "wombat"))
    response = client.get("/archives/search?q=wombat&since=0001-01-01&until=9999-12-31")
    assert response.status_code == 200
    assert html(response).select_one("#no-results, #search-results") is not None


def test_a_page_number_past_any_listing_shows_an_empty_page(app, people, member):
    store("infra", message("n@example.org", "Numbers", "echidna"))
    client = people.sign_in(app.test_client(), member)
    for url in ("/archives/infra/", "/archives/search?q=echidna"):
        response = client.get(f"{url}{'&' if '?' in url else '?'}page={10**20}")
        assert response.status_code == 200, url


@pytest.mark.parametrize("huge", [2**31, 2**63, 10**20])
def test_ids_past_the_database_range_in_archive_urls_are_not_found(app, people, member, huge):
    store("infra", message("i@example.org", "Ids", "bilby"))
    client = people.sign_in(app.test_client(), member)
    for url in (
        f"/archives/infra/threads/{huge}",
        f"/archives/infra/threads/{huge}.mbox",
        f"/archives/attachments/{huge}/x.png",
    ):
        assert client.get(url).status_code == 404, url
