"""A member saving a survey draft from two tabs at once: both saves are answered (never a
500), and the draft holds one of them whole (real concurrent requests)."""

from __future__ import annotations

import json

from sqlalchemy import select

from infrawg.extensions import db
from infrawg.governance.models import Role, RoleGrant
from infrawg.surveys.models import Audience, SurveyDraft
from tests.concurrency import Visitor, at_once, live_site, make_person
from tests.surveys.factories import make_survey, member_form, question

ROUNDS = 4


def test_two_draft_saves_at_once_by_one_member_both_succeed(tmp_path):
    with live_site(tmp_path) as site:
        with site.app.app_context():
            chair = make_person("Cleo Chair", "cleo@example.org")
            db.session.add(RoleGrant(person_id=chair.id, role=Role.CHAIR, authority="t"))
            make_person("Mo Member", "mo@example.org")
            db.session.commit()
            survey = make_survey(chair, Audience.MEMBERS)
            survey_id = survey.id
            text_q = question(survey, "What should we do next year?").id
            forms = [
                {**member_form(survey, text=f"tab {tab}"), "action": "draft"} for tab in (1, 2)
            ]
        tabs = [Visitor(site.url).sign_in("mo@example.org") for _ in range(2)]
        path = f"/surveys/{survey_id}/answer"
        for round_no in range(ROUNDS):
            responses = at_once(
                [lambda t=t, f=f: t.post(path, f) for t, f in zip(tabs, forms, strict=True)]
            )
            statuses = [r.status_code for r in responses]
            assert statuses == [303, 303], (round_no, statuses)
            with site.app.app_context():
                db.session.remove()
                drafts = db.session.scalars(
                    select(SurveyDraft).where(SurveyDraft.survey_id == survey_id)
                ).all()
                assert len(drafts) == 1
                saved = json.loads(drafts[0].answers)[str(text_q)]
                assert saved in (["tab 1"], ["tab 2"]), saved
