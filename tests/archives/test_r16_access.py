"""R16: the archives are for members; every archive URL, as every kind of person.

The crawl builds a URL with real ids for every route under /archives (a new route
without a URL here fails the test) and asserts who sees what: pages, htmx fragments,
search results, attachments and exports.
"""

from __future__ import annotations

import pytest
from flask import Flask

from infrawg.archives.models import Attachment, Message, Visibility
from infrawg.extensions import db
from infrawg.governance.models import Role
from infrawg.membership.models import MembershipStatus
from tests.archives.factories import PNG, message, set_level, store, thread_of, with_attachment
from tests.conftest import html

LIST = "infra"
KINDS = ("anonymous", "applicant", "former_member", "member", "staff")
READERS = {"member", "staff"}


@pytest.fixture
def app_config(tmp_path) -> dict:
    return {"ARCHIVE_DIR": str(tmp_path / "archive")}


@pytest.fixture
def archive(app: Flask) -> dict:
    """A members-only list with three threads: members-level, staff-only and public."""
    store(
        LIST,
        with_attachment(
            "members-1@example.org",
            "Backup rotation plan",
            "zebrafinch members",
            "plan.png",
            PNG,
            "image/png",
        ),
        message(
            "members-2@example.org",
            "Re: Backup rotation plan",
            "> zebrafinch\nAgreed.",
            **{"In-Reply-To": "<members-1@example.org>"},
        ),
        with_attachment(
            "staff-1@example.org",
            "Incident with a tenant",
            "quokkasecret staff only",
            "incident.txt",
            b"secret log",
            "text/plain",
        ),
        message("public-1@example.org", "Announcing the new mirror", "wombatpublic for all"),
    )
    set_level(thread_of(LIST, "staff-1@example.org"), Visibility.STAFF)
    set_level(thread_of(LIST, "public-1@example.org"), Visibility.PUBLIC)
    found = {}
    for key in ("members-1", "staff-1", "public-1"):
        m = db.session.query(Message).filter_by(message_id=f"{key}@example.org").one()
        attachment = db.session.query(Attachment).filter_by(message_pk=m.id).first()
        found[key] = {
            "thread": m.thread_id,
            "message": m.message_id,
            "month": m.month,
            "attachment": attachment.id if attachment else None,
            "filename": attachment.filename if attachment else None,
        }
    return found


def _client(app, people, kind: str):
    client = app.test_client()
    if kind == "anonymous":
        return client
    person = {
        "applicant": lambda: people.make(
            "Ann Applicant", status=MembershipStatus.AWAITING_APPROVAL
        ),
        "former_member": lambda: people.make("Finn Former", status=MembershipStatus.LEFT),
        "member": lambda: people.make("Mia Member"),
        "staff": lambda: people.make("Sam Staff", roles=(Role.STAFF,)),
    }[kind]()
    return people.sign_in(client, person)


def _urls(archive: dict) -> dict[str, dict[str, str]]:
    """Per object level, a URL for every GET route of the archive (by endpoint)."""
    urls: dict[str, dict[str, str]] = {}
    for level, key in (("members", "members-1"), ("staff", "staff-1"), ("public", "public-1")):
        item = archive[key]
        thread = f"/archives/{LIST}/threads/{item['thread']}"
        urls[level] = {
            "archives.thread": thread,
            "archives.thread_export": thread + ".mbox",
            "archives.message": f"/archives/{LIST}/messages/{item['message']}",
        }
        if item["attachment"]:
            urls[level]["archives.attachment"] = (
                f"/archives/attachments/{item['attachment']}/{item['filename']}"
            )
    return urls


# Routes the crawl reaches in other ways (listing pages, acts, the list server's API).
LIST_ROUTES = {
    "archives.index": "/archives/",
    "archives.search_page": "/archives/search?q=zebrafinch",
    "archives.list_threads": f"/archives/{LIST}/",
    "archives.list_months": f"/archives/{LIST}/months",
}
NOT_CRAWLED = {
    # POST acts and the quarantine have their own tests and rows in tests/archives/routes.py.
    "archives.list_visibility",
    "archives.list_description",
    "archives.thread_visibility",
    "archives.quarantine",
    "archives.quarantined",
    "archives.quarantine_reimport",
    "archives.mailman_archive",
    "archives.mailman_urls",
    "archives.month",
    # A month's mbox mixes every level: tests/archives/test_month_mbox.py, person by person.
    "archives.month_export",
}


def test_r16_every_archive_route_is_in_the_crawl(app):
    crawled = {
        *LIST_ROUTES,
        *NOT_CRAWLED,
        "archives.thread",
        "archives.thread_export",
        "archives.message",
        "archives.attachment",
    }
    routes = {r.endpoint for r in app.url_map.iter_rules() if r.rule.startswith("/archives")}
    assert routes <= crawled, f"archive routes the crawl does not know: {routes - crawled}"


@pytest.mark.parametrize("kind", KINDS)
def test_r16_crawl_every_archive_url_as_each_kind_of_person(app, people, archive, kind):
    client = _client(app, people, kind)
    readable = {"public"}
    if kind in READERS:
        readable.add("members")
    if kind == "staff":
        readable.add("staff")

    for level, routes in _urls(archive).items():
        for endpoint, url in routes.items():
            response = client.get(url)
            if level in readable:
                assert response.status_code == 200, (kind, url)
            elif kind == "anonymous":
                assert response.status_code == 302, (kind, url)
                assert "/signin" in response.headers["Location"]
            else:
                assert response.status_code == 404, (kind, url)
            if endpoint == "archives.thread" and level in readable:
                fragment = client.get(url, headers={"HX-Request": "true"})
                assert fragment.status_code == 200
                assert html(fragment).find("html") is None, "htmx gets the fragment only"
                assert html(fragment).select("article.mail")

    month = archive["members-1"]["month"]
    for url in [*LIST_ROUTES.values(), f"/archives/{LIST}/months/{month}"]:
        response = client.get(url)
        assert response.status_code in (200, 302, 404), url
        if kind == "anonymous" and url != "/archives/" and "search" not in url:
            # The list has a public thread: anonymous visitors see only that.
            assert response.status_code == 200, url

    words = {"members": "zebrafinch", "staff": "quokkasecret", "public": "wombatpublic"}
    for level, word in words.items():
        for headers in ({}, {"HX-Request": "true"}):
            page = html(client.get(f"/archives/search?q={word}", headers=headers))
            results = page.select("#search-results li.result")
            if level in readable:
                assert results, (kind, level, headers)
                assert page.select("mark"), "the hit is highlighted"
            else:
                assert not results, (kind, level, headers)
                assert word not in page.get_text()
    # Staff-only threads never show in member search results, not even by sender or date.
    page = html(client.get("/archives/search?sender=ann&since=2000-01-01"))
    text = page.get_text()
    assert ("Incident with a tenant" in text) == (kind == "staff")


def test_r16_thread_list_counts_only_what_the_person_may_read(app, people, archive):
    member = _client(app, people, "member")
    staff = _client(app, people, "staff")
    member_rows = html(member.get(f"/archives/{LIST}/")).select("#threads tbody tr")
    staff_rows = html(staff.get(f"/archives/{LIST}/")).select("#threads tbody tr")
    assert len(member_rows) == 2 and len(staff_rows) == 3
    replies = {
        r.select_one("a").get_text(): r.select_one(".count-cell").get_text() for r in member_rows
    }
    assert replies["Backup rotation plan"] == "1"  # two messages the member may read


def test_r16_attachment_download_headers(app, people, archive):
    member = _client(app, people, "member")
    item = archive["members-1"]
    response = member.get(f"/archives/attachments/{item['attachment']}/{item['filename']}")
    assert response.status_code == 200
    assert response.data == PNG
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response.headers["Content-Security-Policy"]


def test_r16_export_is_an_mbox_of_what_the_person_may_read(app, people, archive):
    member = _client(app, people, "member")
    response = member.get(f"/archives/{LIST}/threads/{archive['members-1']['thread']}.mbox")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment")
    body = response.get_data()
    assert body.count(b"\nFrom ") + body.startswith(b"From ") == 2
    assert b"Message-ID: <members-2@example.org>" in body


def test_r16_a_member_who_leaves_loses_access_at_once(app, people, archive):
    person = people.make("Leaving Member")
    client = people.sign_in(app.test_client(), person)
    url = f"/archives/{LIST}/threads/{archive['members-1']['thread']}"
    assert client.get(url).status_code == 200
    person.status = MembershipStatus.LEFT
    db.session.commit()
    assert client.get(url).status_code == 404
    assert client.get("/archives/search?q=zebrafinch").status_code == 200
    assert not html(client.get("/archives/search?q=zebrafinch")).select("li.result")


def test_r16_unpublished_messages_are_in_no_page(app, people):
    store("pending", message("pending-1@example.org", "Not yet", "gnuimport"), publish=False)
    member = _client(app, people, "member")
    listing = member.get("/archives/pending/")
    assert listing.status_code == 200  # a members-only list, but nothing in it yet
    assert not html(listing).select("#threads tbody tr")
    assert member.get("/archives/pending/messages/pending-1@example.org").status_code == 404
    assert not html(member.get("/archives/search?q=gnuimport")).select("li.result")


def test_r16_a_new_archive_route_without_a_marker_is_members_only(app, people):
    from infrawg.archives import access
    from infrawg.policy import public

    @public
    def sneaky():
        return "secret"

    app.view_functions["archives.sneaky"] = sneaky
    app.add_url_rule("/archives/sneaky-test", "archives.sneaky", sneaky)
    assert getattr(sneaky, "archive_access", None) is None
    assert app.test_client().get("/archives/sneaky-test").status_code == 302
    applicant = _client(app, people, "applicant")
    assert applicant.get("/archives/sneaky-test").status_code == 403
    assert _client(app, people, "member").get("/archives/sneaky-test").status_code == 200
    assert access.PUBLIC_CAPABLE != access.TOKEN
