"""R15 goals (drafts for members, comments, status updates) and milestones (R16: members)."""

from __future__ import annotations

from datetime import timedelta

from flask import g
from sqlalchemy import select

from infrawg.extensions import db
from infrawg.membership.models import MembershipStatus
from infrawg.surveys import goals
from infrawg.surveys.models import CalendarToken, GoalComment
from infrawg.timeutil import utcnow
from tests.conftest import html


def draft(chair, title="Faster backups", year=None):
    g.pop("_roles", None)
    goal = goals.draft_goal(
        chair,
        goals.GoalInput(year or utcnow().year + 1, title, "Because.", None, None, None, []),
    )
    db.session.commit()
    return goal


def test_r15_draft_goal_is_for_members_who_comment_on_it(app, client, people, chair, member):
    goal = draft(chair)
    assert client.get(f"/goal/{goal.id}").status_code == 404
    reader = people.sign_in(app.test_client(), member)
    page = html(reader.get(f"/goal/{goal.id}"))
    assert page.select_one(".draft")
    response = reader.post(
        f"/goal/{goal.id}/comments", data={"body": "Add offsite copies"}, htmx=True
    )
    assert response.status_code == 200
    fragment = html(response)
    assert fragment.select_one("#comments .comment").text.count("Add offsite copies") == 1
    assert fragment.select_one("header") is None  # only the thread came back
    empty = reader.post(f"/goal/{goal.id}/comments", data={"body": "  "})
    assert empty.status_code == 422
    assert db.session.scalars(select(GoalComment.body)).all() == ["Add offsite copies"]


def test_r15_only_the_chair_publishes_and_publishing_twice_has_nothing_to_publish(
    app, people, chair, staff, member
):
    goal = draft(chair)
    year = goal.year
    for person in (staff, member):
        assert (
            people.sign_in(app.test_client(), person).post(f"/goals/{year}/publish").status_code
            == 403
        )
    boss = people.sign_in(app.test_client(), chair)
    assert boss.post(f"/goals/{year}/publish", data={"confirmed": "1"}).status_code == 303
    again = boss.post(f"/goals/{year}/publish")
    assert again.status_code == 409
    assert "no draft goals" in html(again).select_one(".error-page .message").text


def test_r15_update_needs_a_change_or_a_note(app, people, chair):
    goal = draft(chair)
    boss = people.sign_in(app.test_client(), chair)
    assert boss.post(f"/goal/{goal.id}/updates", data={"status": "done"}).status_code == 409
    boss.post(f"/goals/{goal.year}/publish", data={"confirmed": "1"})
    same = boss.post(f"/goal/{goal.id}/updates", data={"status": "planned", "note": ""})
    assert same.status_code == 422
    assert boss.post(f"/goal/{goal.id}/updates", data={"status": "done"}).status_code == 303
    page = html(boss.get(f"/goal/{goal.id}"))
    assert [li.select_one(".status").text for li in page.select("ol.updates li")] == [
        "Done",
        "Planned",
    ]


def test_r16_milestones_are_for_members_with_a_timeline_and_a_revocable_calendar(
    app, client, people, staff, member
):
    manager = people.sign_in(app.test_client(), staff)
    assert (
        manager.post(
            "/projects/new",
            data={"name": "Mail relay", "slug": "mail-relay", "kind": "own", "description": ""},
        ).status_code
        == 303
    )
    due = utcnow().date() + timedelta(days=20)
    for title, day in (("Pick software", utcnow().date() - timedelta(days=3)), ("Go live", due)):
        response = manager.post(
            "/projects/mail-relay/milestones",
            data={"title": title, "due_on": day.isoformat(), "status": "planned", "notes": ""},
        )
        assert response.status_code == 303, response.get_data(as_text=True)[-800:]
    assert client.get("/projects/mail-relay").status_code == 302  # sign in first
    reader = people.sign_in(app.test_client(), member)
    timeline = html(reader.get("/projects/mail-relay")).select("#timeline li")
    assert [li.get("class")[0] for li in timeline] == ["milestone", "today", "milestone"]
    assert "overdue" in timeline[0]["class"]

    issued = html(reader.post("/projects/mail-relay/calendar-link"))
    link = issued.select_one("#calendar-link")["value"]
    path = link.removeprefix("http://localhost")
    calendar = client.get(path)
    assert calendar.status_code == 200
    assert calendar.mimetype == "text/calendar"
    body = calendar.get_data(as_text=True)
    assert body.startswith("BEGIN:VCALENDAR\r\n")
    assert f"DTSTART;VALUE=DATE:{due.strftime('%Y%m%d')}" in body
    assert "SUMMARY:Mail relay: Go live" in body
    assert db.session.scalar(select(CalendarToken.token_hash)) != path.rsplit("/", 1)[1]

    # Revoked: the link stops working.
    assert reader.post("/projects/mail-relay/calendar-link/revoke").status_code == 303
    assert client.get(path).status_code == 404
    # A new link works until its holder leaves the group (R16).
    fresh = html(reader.post("/projects/mail-relay/calendar-link")).select_one("#calendar-link")
    fresh_path = fresh["value"].removeprefix("http://localhost")
    assert client.get(fresh_path).status_code == 200
    member.status = MembershipStatus.LEFT
    db.session.commit()
    assert client.get(fresh_path).status_code == 404


def test_r15_publishing_asks_to_confirm_and_counts_one_goal_in_the_singular(app, people, chair):
    goal = draft(chair)
    boss = people.sign_in(app.test_client(), chair)
    year_page = html(boss.get(f"/goals/{goal.year}"))
    assert "this goal public" in year_page.select_one("main").text
    asked = boss.post(f"/goals/{goal.year}/publish", data={"note": "Onward"})
    assert asked.status_code == 200
    rows = {
        row.select_one("dt").text: row.select_one("dd").text
        for row in html(asked).select("#confirm-step .summary-list > div")
    }
    assert rows["Goals"] == "1 goal"
    assert rows["Goal 1"] == "Faster backups"
    db.session.refresh(goal)
    assert goal.published_at is None
    assert (
        boss.post(
            f"/goals/{goal.year}/publish", data={"note": "Onward", "confirmed": "1"}
        ).status_code
        == 303
    )
    db.session.refresh(goal)
    assert goal.published_at is not None
