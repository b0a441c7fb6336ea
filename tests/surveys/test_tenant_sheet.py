"""R15: two tenant members edit their organisation's one answer sheet; the second to save
is told the sheet changed (409, a message on the form), and nothing of the first is lost."""

from __future__ import annotations

import pytest
from flask import g
from sqlalchemy import select, update

from infrawg.extensions import db
from infrawg.surveys import responses
from infrawg.surveys.models import Answer, Audience, Response, SurveyDraft
from tests.conftest import html
from tests.surveys.factories import make_survey, organisation, question, sheet_version, tenant_form


def reliable_answer(survey) -> list[int | None]:
    reliable = question(survey, "Are your services reliable?")
    return list(db.session.scalars(select(Answer.option).where(Answer.question_id == reliable.id)))


@pytest.mark.parametrize("anonymous", [False, True], ids=["named", "anonymous"])
def test_r15_second_tenant_member_to_save_a_changed_sheet_is_told_and_overwrites_nothing(
    app, people, chair, anonymous
):
    survey = make_survey(chair, Audience.TENANTS, anonymous=anonymous)
    first, second = people.make("First Liaison"), people.make("Second Liaison")
    organisation("Packaging WG", first, second, slug="packaging-wg")
    url = f"/surveys/{survey.id}/answer/packaging-wg"
    one = people.sign_in(app.test_client(), first)
    two = people.sign_in(app.test_client(), second)
    # Both open the empty sheet; the first sends "Yes".
    seen_by_one = sheet_version(html(one.get(url)))
    seen_by_two = sheet_version(html(two.get(url)))
    assert seen_by_one == seen_by_two
    sent = one.post(url, data=tenant_form(survey, reliable=0, need="More DNS", version=seen_by_one))
    assert sent.status_code == 303

    # The second, from the sheet as it was, sends "No": refused, told why, answers kept.
    late = two.post(url, data=tenant_form(survey, reliable=1, need="Backups", version=seen_by_two))
    assert late.status_code == 409
    page = html(late)
    assert "saved these answers after you opened them" in page.select_one("#sheet-changed").text
    reliable = question(survey, "Are your services reliable?")
    need = question(survey, "What do you need?")
    assert page.select_one(f"#q{reliable.id}-1").has_attr("checked")  # what they typed
    assert page.select_one(f"[name=q{need.id}]").text == "Backups"
    assert reliable_answer(survey) == [0]  # the first's answers stand
    (stored,) = db.session.scalars(select(Response).where(Response.survey_id == survey.id))
    assert stored.version == 1
    assert stored.person_id == (None if anonymous else first.id)

    # Having been told, a save from the sheet as it now is goes through.
    again = tenant_form(survey, reliable=1, need="Backups", version=sheet_version(page))
    assert two.post(url, data=again).status_code == 303
    assert reliable_answer(survey) == [1]
    db.session.refresh(stored)
    assert stored.version == 2


def test_r15_a_stale_draft_does_not_overwrite_the_other_members_draft(app, people, chair):
    survey = make_survey(chair, Audience.TENANTS)
    first, second = people.make("First"), people.make("Second")
    organisation("Docs WG", first, second, slug="docs-wg")
    url = f"/surveys/{survey.id}/answer/docs-wg"
    one = people.sign_in(app.test_client(), first)
    two = people.sign_in(app.test_client(), second)
    seen = sheet_version(html(one.get(url)))
    assert sheet_version(html(two.get(url))) == seen
    draft = {**tenant_form(survey, reliable=0, need="first's words", version=seen)}
    assert one.post(url, data={**draft, "action": "draft"}).status_code == 303
    stale = tenant_form(survey, reliable=1, need="second's words", version=seen)
    refused = two.post(url, data={**stale, "action": "draft"})
    assert refused.status_code == 409
    assert html(refused).select_one("#sheet-changed")
    (kept,) = db.session.scalars(select(SurveyDraft.answers))
    assert "first's words" in kept and "second's words" not in kept
    # Submitting from the stale sheet is refused too: the draft changed the sheet.
    assert two.post(url, data=stale).status_code == 409
    assert not db.session.scalars(select(Response)).all()


def test_r15_a_save_racing_on_the_same_version_loses_at_the_update(app, people, chair):
    # Both saves read version 1; the other commits first. The version check in the
    # service has already passed, so it is the UPDATE ... WHERE version = 1 that refuses.
    survey = make_survey(chair, Audience.TENANTS)
    tenant = people.make("Racer")
    org = organisation("Race WG", tenant, slug="race-wg")
    g.pop("_roles", None)
    responses.submit_tenant_response(tenant, survey, org, tenant_form(survey, reliable=0), "0.0")
    db.session.commit()
    g.pop("_roles", None)
    sheet = responses.tenant_sheet(tenant, survey, org)
    assert sheet.version == "1.0"
    # The other request's commit, on the database behind this session's back.
    db.session.connection().execute(
        update(Response.__table__).values(version=Response.__table__.c.version + 1)
    )
    with pytest.raises(responses.SheetChanged):
        responses.submit_tenant_response(
            tenant, survey, org, tenant_form(survey, reliable=1), sheet.version
        )
    assert reliable_answer(survey) == [0]
