"""R15: an anonymous survey keeps nothing that links a response to the person who gave it."""

from __future__ import annotations

import csv
import io

from sqlalchemy import inspect, select

from infrawg.audit import AuditEvent
from infrawg.extensions import db
from infrawg.surveys.models import Answer, Audience, Response, SurveyParticipant
from tests.conftest import html
from tests.surveys.factories import close, make_survey, member_form, question


def answer(app, people, survey, person, **choices):
    client = people.sign_in(app.test_client(), person)
    response = client.post(f"/surveys/{survey.id}/answer", data=member_form(survey, **choices))
    assert response.status_code == 303, response.get_data(as_text=True)[-1000:]


def test_r15_nothing_in_the_database_links_an_anonymous_response_to_its_author(app, people, chair):
    survey = make_survey(chair, Audience.MEMBERS, anonymous=True)
    authors = [people.make(f"Anon {i}") for i in range(5)]
    for i, person in enumerate(authors):
        answer(app, people, survey, person, most=i % 3, text=f"secret {i}", rank=(1, 2, 3))

    responses = db.session.scalars(select(Response).where(Response.survey_id == survey.id)).all()
    assert len(responses) == 5
    # No person on the response, and no time at all (not even the day).
    assert {r.person_id for r in responses} == {None}
    assert {r.submitted_at for r in responses} == {None}
    # Who answered is known (once only), but that table points at no response.
    participants = db.session.scalars(
        select(SurveyParticipant.person_id).where(SurveyParticipant.survey_id == survey.id)
    ).all()
    assert sorted(participants) == sorted(p.id for p in authors)
    assert {c.name for c in SurveyParticipant.__table__.columns} == {"survey_id", "person_id"}
    # The schema: only answers point at a response, and answers name nobody.
    pointing = [
        (table.name, fk.parent.name)
        for table in db.metadata.sorted_tables
        for fk in table.foreign_keys
        if fk.column.table.name == "survey_response"
    ]
    assert pointing == [("survey_answer", "response_id")]
    answer_columns = {
        c["name"] for c in inspect(db.session.connection()).get_columns("survey_answer")
    }
    assert not {"person_id", "author_id", "created_at"} & answer_columns
    # The audit trail names the survey, never a response, nor who answered, nor when.
    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "survey.answered")
    ).all()
    assert len(events) == 5
    assert {(e.subject_type, e.subject_id) for e in events} == {("survey", survey.id)}
    assert {e.actor_id for e in events} == {None}
    assert {(e.at.hour, e.at.minute, e.at.second, e.at.microsecond) for e in events} == {
        (0, 0, 0, 0)
    }
    assert not db.session.scalars(
        select(AuditEvent).where(AuditEvent.subject_type == "survey_response")
    ).all()
    # Nor does the export.
    close(chair, survey)
    export = people.sign_in(app.test_client(), chair).get(f"/surveys/{survey.id}/results.csv")
    rows = list(csv.reader(io.StringIO(export.get_data(as_text=True))))
    assert rows[0][:2] == ["response", "section"]
    assert not {"person", "organisation", "submitted"} & set(rows[0])
    assert not any(p.email in cell for row in rows for cell in row for p in authors)
    assert len(rows) == 6


def test_r15_anonymous_breakdown_under_five_responses_is_hidden(app, people, chair, member):
    survey = make_survey(chair, Audience.MEMBERS, anonymous=True)
    for i in range(4):
        answer(app, people, survey, people.make(f"Anon {i}"), most=0, text=f"words {i}")
    close(chair, survey)
    reader = people.sign_in(app.test_client(), member)
    page = html(reader.get(f"/surveys/{survey.id}/results"))
    assert page.select_one("tr.rate .responses").text == "4"
    assert "Fewer than 5 responses" in page.select_one("#section-members .suppressed").text
    assert not page.select(".question-result")
    assert "words" not in page.text
    text_q = question(survey, "What should we do next year?")
    texts = html(reader.get(f"/surveys/{survey.id}/results/questions/{text_q.id}"))
    assert texts.select_one(".suppressed") and "words" not in texts.text


def test_r15_anonymous_results_show_from_five_responses(app, people, chair, member):
    survey = make_survey(chair, Audience.MEMBERS, anonymous=True)
    for i in range(5):
        uses = (0,) if i % 2 == 0 else (0, 1, 2)
        answer(
            app, people, survey, people.make(f"Anon {i}"), most=i % 2, rating=5 - i % 2, uses=uses
        )
    close(chair, survey)
    page = html(people.sign_in(app.test_client(), member).get(f"/surveys/{survey.id}/results"))
    assert not page.select(".suppressed")
    most = question(survey, "Which service matters most?")
    counts = [td.text for td in page.select(f"#result-q{most.id} table.data td.count")]
    assert counts == ["3", "2", "0"]
    used = question(survey, "Which services do you use?")
    block = page.select_one(f"#result-q{used.id}")
    assert block.select_one(".respondents").text.startswith("5 answered")
    assert [td.text for td in block.select("table.data td.percent")] == ["100.0%", "40.0%", "40.0%"]
    rating = question(survey, "How well do we answer?")
    assert page.select_one(f"#result-q{rating.id} .mean").text == "4.6"


def test_r15_non_anonymous_tenant_response_is_not_counted_as_anonymous(app, people, chair):
    # Control: on a named survey the response names its author and the export shows it.
    survey = make_survey(chair, Audience.MEMBERS)
    person = people.make("Named")
    answer(app, people, survey, person, most=1)
    response = db.session.scalar(select(Response).where(Response.survey_id == survey.id))
    assert response.person_id == person.id
    assert db.session.scalars(select(Answer).where(Answer.response_id == response.id)).all()


def test_results_count_one_response_in_the_singular(app, people, chair, member):
    survey = make_survey(chair, Audience.MEMBERS)
    answer(app, people, survey, people.make("Only One"), most=0, text="words")
    close(chair, survey)
    page = html(people.sign_in(app.test_client(), member).get(f"/surveys/{survey.id}/results"))
    assert "· 1 response" in page.select_one("p.kind").text
    assert "1 responses" not in page.select_one("p.kind").text
