"""R15: every bad answer is refused clearly, and nothing in the database changes."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from infrawg.extensions import db
from infrawg.surveys import mailing
from infrawg.surveys.models import (
    Answer,
    Audience,
    Response,
    SurveyDraft,
    SurveyParticipant,
)
from tests.conftest import html
from tests.surveys.conftest import count_rows
from tests.surveys.factories import (
    close,
    make_survey,
    member_form,
    organisation,
    question,
    tenant_form,
)


def snapshot() -> tuple[int, ...]:
    return tuple(count_rows(m) for m in (Response, Answer, SurveyParticipant, SurveyDraft))


@pytest.fixture
def survey(chair):
    return make_survey(chair, Audience.BOTH)


def test_r15_answering_twice_is_refused(app, people, survey, member):
    client = people.sign_in(app.test_client(), member)
    assert client.post(f"/surveys/{survey.id}/answer", data=member_form(survey)).status_code == 303
    before = snapshot()
    again = client.post(f"/surveys/{survey.id}/answer", data=member_form(survey, most=2))
    assert again.status_code == 409
    assert "already answered" in html(again).select_one(".error-page .message").text
    assert snapshot() == before
    page = html(client.get(f"/surveys/{survey.id}/answer"))
    assert page.select_one("#already-answered") and not page.select("#answer-form")


def test_r15_answering_after_closing_is_refused(app, people, chair, survey, member):
    close(chair, survey)
    before = snapshot()
    client = people.sign_in(app.test_client(), member)
    response = client.post(f"/surveys/{survey.id}/answer", data=member_form(survey))
    assert response.status_code == 409
    assert "closed" in html(response).select_one(".error-page .message").text
    draft = client.post(f"/surveys/{survey.id}/answer", data={"action": "draft"})
    assert draft.status_code == 409
    assert snapshot() == before


def test_r15_answering_for_an_organisation_one_is_not_a_tenant_member_of_is_refused(
    app, people, survey, member
):
    outsider = people.make("Outsider")
    organisation("Packaging WG", member)
    before = snapshot()
    client = people.sign_in(app.test_client(), outsider)
    url = f"/surveys/{survey.id}/answer/packaging-wg"
    response = client.post(url, data=tenant_form(survey))
    assert response.status_code == 403
    assert "not a tenant member of Packaging WG" in html(response).text
    assert client.get(url).status_code == 403
    assert snapshot() == before


def test_r15_rank_with_duplicate_places_is_refused_next_to_the_question(
    app, people, survey, member
):
    before = snapshot()
    client = people.sign_in(app.test_client(), member)
    response = client.post(f"/surveys/{survey.id}/answer", data=member_form(survey, rank=(1, 1, 2)))
    assert response.status_code == 422
    rank = question(survey, "Rank these for next year")
    errors = html(response).select_one(f"#q{rank.id}-errors").text
    assert "different place" in errors
    # What was typed is shown back.
    assert (
        html(response).select_one(f"#q{question(survey, 'Which service matters most?').id}-0")[
            "checked"
        ]
        is not None
    )
    assert snapshot() == before
    # An incomplete rank is refused on submission too; a draft may keep it for later.
    partial = client.post(f"/surveys/{survey.id}/answer", data=member_form(survey, rank=(1,)))
    assert partial.status_code == 422
    assert snapshot() == before


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("most", "7", "Choose one of the options given."),
        ("rating", "9", "Give a rating from 1 to 5."),
        ("most", "", "needs an answer"),
    ],
)
def test_r15_out_of_range_answers_are_refused(app, people, survey, member, field, value, message):
    data = member_form(survey)
    prompt = {"most": "Which service matters most?", "rating": "How well do we answer?"}[field]
    data[f"q{question(survey, prompt).id}"] = value
    before = snapshot()
    response = people.sign_in(app.test_client(), member).post(
        f"/surveys/{survey.id}/answer", data=data
    )
    assert response.status_code == 422
    assert message in html(response).select_one(f"#q{question(survey, prompt).id}-errors").text
    assert snapshot() == before


def test_r15_tampered_invitation_link_is_refused(app, client, people, survey, member):
    token = mailing.invitation_token(survey, member)
    good = client.get(f"/surveys/{survey.id}/invited/{token}")
    assert good.status_code == 200
    before = snapshot()
    tampered = token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")
    for url in (
        f"/surveys/{survey.id}/invited/{tampered}",
        f"/surveys/{survey.id + 1}/invited/{token}",  # a link for another survey
    ):
        response = client.get(url)
        assert response.status_code in (400, 404)
        assert response.status_code == 400 or url.endswith(token)
    response = client.get(f"/surveys/{survey.id}/invited/{tampered}")
    assert "not valid" in html(response).select_one(".error-page .message").text
    assert snapshot() == before


def test_draft_is_saved_and_resumed_then_submitted(app, people, survey, member):
    client = people.sign_in(app.test_client(), member)
    data = member_form(survey, most=1, text="half done", rank=(2,))
    data["action"] = "draft"
    assert client.post(f"/surveys/{survey.id}/answer", data=data).status_code == 303
    assert count_rows(Response) == 0 and count_rows(SurveyDraft) == 1
    page = html(client.get(f"/surveys/{survey.id}/answer"))
    assert page.select_one("#draft-note")
    assert page.select_one(f"#q{question(survey, 'What should we do next year?').id}").text == (
        "half done"
    )
    most = question(survey, "Which service matters most?")
    assert page.select_one(f"#q{most.id}-1")["checked"] is not None
    final = member_form(survey, most=1, text="done", rank=(2, 1, 3))
    assert client.post(f"/surveys/{survey.id}/answer", data=final).status_code == 303
    assert count_rows(SurveyDraft) == 0 and count_rows(Response) == 1
    rank = question(survey, "Rank these for next year")
    places = db.session.execute(
        select(Answer.option, Answer.value)
        .where(Answer.question_id == rank.id)
        .order_by(Answer.value)
    ).all()
    assert [tuple(p) for p in places] == [(1, 1), (0, 2), (2, 3)]


def test_every_input_of_the_answer_sheet_has_a_label(app, people, survey, member):
    organisation("Packaging WG", member)
    client = people.sign_in(app.test_client(), member)
    for url in (f"/surveys/{survey.id}/answer", f"/surveys/{survey.id}/answer/packaging-wg"):
        page = html(client.get(url))
        fields = page.select(
            "#answer-form input:not([type=hidden]), #answer-form textarea, #answer-form select"
        )
        assert fields
        for field in fields:
            assert page.select_one(f"label[for='{field['id']}']"), field["id"]
