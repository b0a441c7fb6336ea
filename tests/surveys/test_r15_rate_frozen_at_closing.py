"""R15: a closed survey's response rate is the one it had when it closed."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from infrawg.extensions import db
from infrawg.jobs.runner import enqueue, run_due_jobs
from infrawg.membership import service as membership
from infrawg.surveys.jobs import FREEZE
from infrawg.surveys.models import Audience, ClosingFigure
from infrawg.timeutil import today
from tests.conftest import html
from tests.surveys.factories import close, make_survey, member_form, organisation


def answer(app, people, survey, person):
    client = people.sign_in(app.test_client(), person)
    response = client.post(f"/surveys/{survey.id}/answer", data=member_form(survey, most=0))
    assert response.status_code == 303


def rates(client, survey) -> dict[str, tuple[str, str, str]]:
    page = html(client.get(f"/surveys/{survey.id}/results"))
    return {
        row["data-section"]: tuple(
            row.select_one(c).text for c in (".responses", ".audience", ".percent")
        )
        for row in page.select("tr.rate")
    }


def test_r15_closed_survey_rate_does_not_move_when_people_join_or_leave(app, people, chair):
    members = [people.make(f"Member {i}") for i in range(3)]
    tenant = people.make("Tenant")
    organisation("Docs WG", tenant)
    survey = make_survey(chair, Audience.BOTH)
    answer(app, people, survey, members[0])
    close(chair, survey)
    reader = people.sign_in(app.test_client(), members[1])
    # chair, 3 members and the tenant member: 5; one organisation receives services.
    before = rates(reader, survey)
    assert before == {"members": ("1", "5", "20.0%"), "tenants": ("0", "1", "0.0%")}

    for i in range(4):
        people.make(f"Newcomer {i}")
    organisation("Infra WG", people.make("Second tenant"))
    membership.leave(members[2], "moving on")
    db.session.commit()

    assert rates(reader, survey) == before


def test_r15_open_survey_rate_follows_the_audience(app, people, chair):
    member = people.make("Member")
    survey = make_survey(chair, Audience.MEMBERS)
    answer(app, people, survey, member)
    manager = people.sign_in(app.test_client(), chair)
    assert rates(manager, survey) == {"members": ("1", "2", "50.0%")}
    people.make("Newcomer")
    assert rates(manager, survey) == {"members": ("1", "3", "33.3%")}
    assert not db.session.scalars(select(ClosingFigure)).all()


def test_r15_survey_closed_by_its_date_is_frozen_by_the_job(app, people, chair):
    member = people.make("Member")
    survey = make_survey(chair, Audience.MEMBERS)
    answer(app, people, survey, member)
    survey.closes_on = today() - timedelta(days=1)  # its date passed: closed, unfrozen
    db.session.commit()
    enqueue(FREEZE)
    db.session.commit()
    assert run_due_jobs() >= 1
    stored = db.session.scalars(
        select(ClosingFigure).where(ClosingFigure.survey_id == survey.id)
    ).all()
    assert [(f.section.value, f.responses, f.audience) for f in stored] == [("members", 1, 2)]

    people.make("Newcomer")
    reader = people.sign_in(app.test_client(), member)
    assert rates(reader, survey) == {"members": ("1", "2", "50.0%")}
    # Run again: nothing more to freeze, the figures stay.
    enqueue(FREEZE)
    db.session.commit()
    run_due_jobs()
    assert len(db.session.scalars(select(ClosingFigure)).all()) == 1


def test_r15_frozen_rate_keeps_the_anonymity_threshold(app, people, chair):
    survey = make_survey(chair, Audience.MEMBERS, anonymous=True)
    for i in range(4):
        answer(app, people, survey, people.make(f"Anon {i}"))
    close(chair, survey)
    for i in range(3):
        people.make(f"Newcomer {i}")
    page = html(people.sign_in(app.test_client(), chair).get(f"/surveys/{survey.id}/results"))
    # 4 responses of 5 members at closing (the chair and the four), and still too few to show.
    assert page.select_one("tr.rate .responses").text == "4"
    assert page.select_one("tr.rate .audience").text == "5"
    assert "Fewer than 5 responses" in page.select_one("#section-members .suppressed").text
    assert not page.select(".question-result")
