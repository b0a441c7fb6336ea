"""The audit trail at /audit: members read it, filtered by action and person, paginated."""

from __future__ import annotations

from infrawg import audit
from infrawg.extensions import db
from tests.conftest import html
from tests.queries import counted_queries


def test_audit_trail_filters_by_action_and_person_and_paginates(client, people, member):
    other = people.make("Otto Other")
    for i in range(60):
        audit.record(member, "test.ping", member, f"ping {i}")
    audit.record(other, "test.pong", other, "pong")
    db.session.commit()
    people.sign_in(client, member)

    page = html(client.get("/audit?action=test.ping"))
    rows = page.select("tr.audit-event")
    assert len(rows) == 50
    assert rows[0].select_one(".action").text == "test.ping"
    assert "Page 1 of 2 (60 in all)" in page.select_one(".pager").text
    second = html(client.get("/audit?action=test.ping&page=2"))
    assert len(second.select("tr.audit-event")) == 10

    by_person = html(client.get(f"/audit?person={other.email}"))
    assert [r.select_one(".action").text for r in by_person.select("tr.audit-event")] == [
        "test.pong"
    ]
    unknown = html(client.get("/audit?person=nobody@example.org"))
    assert "No account uses nobody@example.org" in unknown.select_one(".empty").text


def test_audit_filter_by_htmx_returns_only_the_rows(client, people, member):
    audit.record(member, "test.ping", member)
    db.session.commit()
    people.sign_in(client, member)
    fragment = html(client.get("/audit?action=test.ping", headers={"HX-Request": "true"}))
    assert fragment.select_one("html") is None
    assert fragment.select_one("#audit-rows tr.audit-event")


def test_audit_page_queries_do_not_grow_with_rows(app, client, people, member):
    people.sign_in(client, member)
    actors = [people.make(f"Actor {i}") for i in range(20)]
    for actor in actors:
        audit.record(actor, "test.ping", actor)
    db.session.commit()
    with counted_queries() as statements:
        assert client.get("/audit").status_code == 200
    # user, roles, count, page, actors (one selectin), actions for the filter, nav counts
    assert len(statements) <= 8, statements


def test_applicant_and_former_member_cannot_read_the_audit_trail(client, people, applicant):
    people.sign_in(client, applicant)
    assert client.get("/audit").status_code == 403
