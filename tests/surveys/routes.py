"""Route access rows of the surveys area: surveys, goals, milestones (see tests/route_access.py)."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from flask import g

from infrawg.extensions import db
from infrawg.surveys import answers, goals, milestones
from infrawg.surveys.models import (
    Audience,
    CalendarToken,
    MilestoneStatus,
    ProjectKind,
    Section,
)
from infrawg.timeutil import utcnow
from tests.route_access import (
    CHAIR,
    DECIDERS,
    MEMBERS,
    PUBLIC,
    Row,
    World,
    post_profile,
    profile,
)
from tests.surveys.factories import close, make_survey, member_form, organisation, question

MEMBERS_NOW = {"member", "tenant_member", "staff", "chair"}
DECIDING = {"staff", "chair"}
CALENDAR_SECRET = "route-access-calendar-secret"
TENANT_ONLY = profile(403, anonymous=302, tenant_member=200)


def populate(world: World) -> None:
    """An open survey (both sections), a closed one with a response, a draft; a published
    and a draft goal; a project with a milestone and the chair's calendar link."""
    people = world.people
    chair = people["chair"]
    g.pop("_roles", None)
    org = organisation("Route Access WG", people["tenant_member"], slug="route-access-wg")
    open_survey = make_survey(chair, Audience.BOTH)
    closed = make_survey(chair, Audience.MEMBERS, year=utcnow().year - 1)
    answers.submit_member_response(people["member"], closed, member_form(closed, text="More"))
    db.session.commit()
    close(chair, closed)
    draft = make_survey(chair, Audience.MEMBERS, opened=False)
    year = utcnow().year
    published = goals.draft_goal(
        chair, goals.GoalInput(year, "Published goal", "", None, None, closed.id, [])
    )
    db.session.flush()
    goals.publish_year(chair, year)
    draft_goal = goals.draft_goal(
        chair, goals.GoalInput(year + 1, "Draft goal", "", None, None, None, [])
    )
    project = milestones.create_project(
        chair, "Route project", "route-project", "", ProjectKind.OWN, None
    )
    milestone = milestones.add_milestone(
        chair,
        project,
        milestones.MilestoneInput(
            "First", utcnow().date() + timedelta(days=30), None, MilestoneStatus.PLANNED, ""
        ),
    )
    db.session.add(
        CalendarToken(
            project_id=project.id,
            person_id=chair.id,
            token_hash=hashlib.sha256(CALENDAR_SECRET.encode()).hexdigest(),
        )
    )
    db.session.commit()
    world.objects.update(
        survey=open_survey,
        member_question=question(open_survey, "Which service matters most?"),
        closed_survey=closed,
        text_question=question(closed, "What should we do next year?"),
        draft_survey=draft,
        organisation=org,
        goal=published,
        draft_goal=draft_goal,
        project=project,
        milestone=milestone,
    )
    assert Section.TENANTS in open_survey.audience.sections


def _s(w: World) -> str:
    return f"/surveys/{w.objects['survey'].id}"


def _q(w: World) -> str:
    return f"{_s(w)}/questions/{w.objects['member_question'].id}"


def _closed(w: World) -> str:
    return f"/surveys/{w.objects['closed_survey'].id}"


def _year(w: World) -> int:
    return w.objects["goal"].year


ROWS = [
    Row("surveys.surveys", "GET", "/surveys", MEMBERS),
    Row("surveys.new_survey", "GET", "/surveys/new", CHAIR),
    Row("surveys.new_survey", "POST", "/surveys/new", post_profile({"chair"}, 422)),
    Row("surveys.survey", "GET", _s, MEMBERS),
    Row(
        "surveys.survey",
        "GET",
        lambda w: f"/surveys/{w.objects['draft_survey'].id}",
        profile(404, anonymous=302, applicant=403, board=403, former_member=403, chair=200),
    ),
    Row(
        "surveys.update_survey", "POST", lambda w: f"{_s(w)}/settings", post_profile({"chair"}, 422)
    ),
    Row("surveys.copy_survey", "POST", lambda w: f"{_s(w)}/copy", post_profile({"chair"}, 303)),
    Row(
        "surveys.add_question", "POST", lambda w: f"{_s(w)}/questions", post_profile({"chair"}, 422)
    ),
    Row("surveys.edit_question", "GET", _q, CHAIR),
    # The form keeps the question's values; an open survey's questions no longer change.
    Row("surveys.edit_question", "POST", _q, post_profile({"chair"}, 409)),
    Row(
        "surveys.remove_question", "POST", lambda w: f"{_q(w)}/remove", post_profile({"chair"}, 409)
    ),
    Row(
        "surveys.move_question", "POST", lambda w: f"{_q(w)}/move/up", post_profile({"chair"}, 409)
    ),
    Row("surveys.delegate", "POST", lambda w: f"{_s(w)}/delegates", post_profile({"chair"}, 422)),
    Row("surveys.open_survey", "POST", lambda w: f"{_s(w)}/open", post_profile({"chair"}, 409)),
    Row("surveys.close_survey", "POST", lambda w: f"{_s(w)}/close", post_profile({"chair"}, 303)),
    Row("surveys.preview", "GET", lambda w: f"{_s(w)}/preview", CHAIR),
    Row("surveys.answer", "GET", lambda w: f"{_s(w)}/answer", MEMBERS),
    Row("surveys.answer", "POST", lambda w: f"{_s(w)}/answer", post_profile(MEMBERS_NOW, 422)),
    Row(
        "surveys.answer_tenant",
        "GET",
        lambda w: f"{_s(w)}/answer/{w.objects['organisation'].slug}",
        TENANT_ONLY,
    ),
    Row(
        "surveys.answer_tenant",
        "POST",
        lambda w: f"{_s(w)}/answer/{w.objects['organisation'].slug}",
        post_profile({"tenant_member"}, 422),
    ),
    Row("surveys.invited", "GET", lambda w: f"{_s(w)}/invited/not-a-token", profile(400)),
    Row("surveys.reminders_off", "GET", "/surveys/reminders-off/not-a-token", profile(400)),
    Row("surveys.reminders_on", "POST", "/surveys/reminders-on/not-a-token", profile(400)),
    Row("surveys.results_page", "GET", lambda w: f"{_closed(w)}/results", MEMBERS),
    Row("surveys.results_print", "GET", lambda w: f"{_closed(w)}/results/print", MEMBERS),
    Row("surveys.results_csv", "GET", lambda w: f"{_closed(w)}/results.csv", MEMBERS),
    Row(
        "surveys.text_answers",
        "GET",
        lambda w: f"{_closed(w)}/results/questions/{w.objects['text_question'].id}",
        MEMBERS,
    ),
    Row("surveys.goals_index", "GET", "/goals", PUBLIC),
    Row("surveys.goals_year", "GET", lambda w: f"/goals/{_year(w)}", PUBLIC),
    Row("surveys.goals_feed", "GET", lambda w: f"/goals/{_year(w)}/feed.atom", PUBLIC),
    Row("surveys.goal", "GET", lambda w: f"/goal/{w.objects['goal'].id}", PUBLIC),
    # R16: a draft goal is the group's own until published.
    Row(
        "surveys.goal",
        "GET",
        lambda w: f"/goal/{w.objects['draft_goal'].id}",
        profile(404, member=200, tenant_member=200, staff=200, chair=200),
    ),
    Row("surveys.new_goal", "GET", "/goals/new", CHAIR),
    Row("surveys.new_goal", "POST", "/goals/new", post_profile({"chair"}, 422)),
    Row("surveys.edit_goal", "GET", lambda w: f"/goal/{w.objects['goal'].id}/edit", CHAIR),
    Row(
        "surveys.edit_goal",
        "POST",
        lambda w: f"/goal/{w.objects['goal'].id}/edit",
        post_profile({"chair"}, 303),
    ),
    Row(
        "surveys.comment",
        "POST",
        lambda w: f"/goal/{w.objects['goal'].id}/comments",
        post_profile(MEMBERS_NOW, 422),
    ),
    Row(
        "surveys.goal_update",
        "POST",
        lambda w: f"/goal/{w.objects['goal'].id}/updates",
        post_profile({"chair"}, 422),
    ),
    Row(
        "surveys.publish_goals",
        "POST",
        lambda w: f"/goals/{_year(w)}/publish",
        post_profile({"chair"}, 409),
    ),
    Row("surveys.projects", "GET", "/projects", MEMBERS),
    Row("surveys.new_project", "GET", "/projects/new", DECIDERS),
    Row("surveys.new_project", "POST", "/projects/new", post_profile(DECIDING, 422)),
    Row("surveys.project", "GET", "/projects/route-project", MEMBERS),
    Row(
        "surveys.add_milestone",
        "POST",
        "/projects/route-project/milestones",
        post_profile(DECIDING, 422),
    ),
    Row(
        "surveys.edit_milestone",
        "GET",
        lambda w: f"/projects/route-project/milestones/{w.objects['milestone'].id}",
        DECIDERS,
    ),
    Row(
        "surveys.edit_milestone",
        "POST",
        lambda w: f"/projects/route-project/milestones/{w.objects['milestone'].id}",
        post_profile(DECIDING, 303),
    ),
    Row(
        "surveys.calendar_link",
        "POST",
        "/projects/route-project/calendar-link",
        post_profile(MEMBERS_NOW, 200),
    ),
    Row(
        "surveys.revoke_calendar_link",
        "POST",
        "/projects/route-project/calendar-link/revoke",
        post_profile({"chair"}, 303, refused=409)
        | {"applicant": 403, "board": 403, "former_member": 403},
    ),
    Row(
        "surveys.project_calendar",
        "GET",
        f"/projects/route-project/calendar/{CALENDAR_SECRET}.ics",
        PUBLIC,
    ),
]
