"""Building a survey: questions reordered with htmx, preview, copy of last year's, delegation."""

from __future__ import annotations

from sqlalchemy import select

from infrawg.extensions import db
from infrawg.surveys import building
from infrawg.surveys.models import Audience, Survey
from tests.conftest import html
from tests.surveys.factories import make_survey


def prompts(page) -> list[str]:
    return [li.select_one(".prompt").text for li in page.select("#questions li.question")]


def test_questions_move_up_and_down_with_htmx(app, people, chair):
    survey = make_survey(chair, Audience.MEMBERS, opened=False)
    boss = people.sign_in(app.test_client(), chair)
    before = prompts(html(boss.get(f"/surveys/{survey.id}")))
    second = building.questions_of(survey)[1]
    response = boss.post(f"/surveys/{survey.id}/questions/{second.id}/move/up", htmx=True)
    assert response.status_code == 200
    fragment = html(response)
    assert fragment.select_one("header") is None  # the list only, swapped in place
    assert prompts(fragment) == [before[1], before[0], *before[2:]]
    # Without htmx the same button works as a plain form.
    plain = boss.post(f"/surveys/{survey.id}/questions/{second.id}/move/down")
    assert plain.status_code == 303
    assert prompts(html(boss.get(f"/surveys/{survey.id}"))) == before
    # The buttons are forms with hx-post: no inline script (strict CSP).
    page = boss.get(f"/surveys/{survey.id}")
    assert "<script>" not in page.get_data(as_text=True)
    assert html(page).select_one("#questions form[hx-post]")


def test_preview_shows_the_questions_as_respondents_see_them(app, people, chair):
    survey = make_survey(chair, Audience.BOTH, opened=False)
    page = html(people.sign_in(app.test_client(), chair).get(f"/surveys/{survey.id}/preview"))
    assert [h.text for h in page.select("section h2")] == ["Members", "Tenant organisations"]
    assert page.select("fieldset.question input[disabled]")
    assert not page.select("form#answer-form")


def test_copy_of_last_years_survey_is_a_draft_with_the_same_questions(app, people, chair):
    last = make_survey(chair, Audience.BOTH, year=2025)
    response = people.sign_in(app.test_client(), chair).post(f"/surveys/{last.id}/copy")
    assert response.status_code == 303
    copy = db.session.scalar(select(Survey).where(Survey.copied_from_id == last.id))
    assert copy.year == 2026 and copy.opened_at is None
    assert [q.prompt for q in building.questions_of(copy)] == [
        q.prompt for q in building.questions_of(last)
    ]


def test_chair_delegates_a_survey_to_staff_who_then_manages_only_that_one(
    app, people, chair, staff
):
    mine = make_survey(chair, Audience.MEMBERS, opened=False)
    other = make_survey(chair, Audience.MEMBERS, opened=False)
    helper = people.sign_in(app.test_client(), staff)
    assert helper.get(f"/surveys/{mine.id}/preview").status_code == 404  # drafts are hidden
    boss = people.sign_in(app.test_client(), chair)
    assert (
        boss.post(f"/surveys/{mine.id}/delegates", data={"person_id": staff.id}).status_code == 303
    )
    assert helper.get(f"/surveys/{mine.id}/preview").status_code == 200
    add = helper.post(
        f"/surveys/{mine.id}/questions",
        data={"section": "members", "kind": "text", "prompt": "Anything else?"},
    )
    assert add.status_code == 303
    assert helper.get(f"/surveys/{other.id}/preview").status_code == 404


def test_survey_closing_before_opening_is_refused(app, people, chair):
    response = people.sign_in(app.test_client(), chair).post(
        "/surveys/new",
        data={
            "title": "Backwards",
            "year": 2026,
            "audience": "members",
            "opens_on": "2026-12-10",
            "closes_on": "2026-12-01",
        },
    )
    assert response.status_code == 422
    assert "close after it opens" in html(response).select_one("#closes_on-errors").text
    assert db.session.scalar(select(Survey).where(Survey.title == "Backwards")) is None
