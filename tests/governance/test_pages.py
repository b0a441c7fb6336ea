"""The charter page, the people directory and the queues: content, htmx, no N+1."""

from __future__ import annotations

from infrawg.extensions import db
from infrawg.membership.models import MembershipStatus
from tests.conftest import html
from tests.queries import counted_queries


def test_charter_is_public_and_names_chair_board_and_staff(client, chair, board, staff):
    page = html(client.get("/charter"))
    assert chair.name in page.select_one("#current-chair").text
    assert board.name in page.select_one("#board-list").text
    assert staff.name in page.select_one("#staff-list").text
    assert len(page.select("ol.rules li")) == 17


def test_directory_searches_as_you_type_and_returns_only_rows(client, people, member):
    people.make("Grace Hopper", email="grace@example.org")
    people.sign_in(client, member)
    response = client.get("/people?q=grace", headers={"HX-Request": "true"})
    fragment = html(response)
    assert fragment.select_one("html") is None
    assert [td.text for td in fragment.select("tr.person td:first-child")] == ["Grace Hopper"]
    full = html(client.get("/people?q=nobody"))
    assert "No member matches" in full.select_one("#people-rows .empty").text


def test_directory_is_paginated_and_runs_the_same_queries_for_more_people(client, people, member):
    people.sign_in(client, member)
    db.session.expire_all()
    with counted_queries() as few:
        client.get("/people")
    for _ in range(30):
        people.make()
    db.session.expire_all()
    with counted_queries() as many:
        page = html(client.get("/people"))
    assert len(many) == len(few)
    assert len(page.select("tr.person")) == 25
    assert "Page 1 of 2" in page.select_one(".pager").text


def test_a_person_page_shows_current_roles_and_history(client, people, member, staff):
    people.sign_in(client, member)
    page = html(client.get(f"/people/{staff.id}"))
    assert page.select_one(".current-roles").text == "member, staff"
    assert "test fixture" in page.select_one("tr.grant-staff").text


def test_board_queue_counts_what_waits_for_the_board(client, people, board):
    people.sign_in(client, board)
    page = html(client.get("/board"))
    assert page.select_one("#nav-board-queue .count") is None
    assert "No application waits for the board" in page.text


def count_statements(statements: list[str]) -> list[str]:
    return [s for s in statements if "count(" in s.lower()]


def test_nav_counts_are_not_counted_for_a_fragment_that_shows_none(client, people, member):
    people.sign_in(client, member)
    db.session.expire_all()
    with counted_queries() as page:
        client.get("/people")
    with counted_queries() as fragment:
        response = client.get("/people?q=mia", headers={"HX-Request": "true"})
    assert html(response).select_one("nav") is None
    # The page counts the people (the pager) and what waits in the nav; the rows do not
    # show the nav, so only the pager's count runs.
    assert len(count_statements(fragment)) == len(count_statements(page)) - 1


def test_the_chairs_nav_counts_of_every_area_come_from_one_statement(client, people, member, chair):
    from infrawg.governance.models import StaffRequest, StaffRequestState

    db.session.add(
        StaffRequest(person_id=member.id, motivation="DNS", state=StaffRequestState.OPEN)
    )
    people.make("Ada Applicant", status=MembershipStatus.AWAITING_APPROVAL)
    db.session.commit()
    people.sign_in(client, chair)
    db.session.expire_all()
    with counted_queries() as statements:
        page = html(client.get("/dashboard"))
    assert page.select_one("#nav-chair-queue .count").text == "1"
    nav = [s for s in statements if "staff_request" in s or "AS applications" in s]
    assert len(nav) == 1
    assert "membership application" in page.select_one("main").text
