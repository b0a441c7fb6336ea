"""The chair closing a survey from two tabs at once: one closes it, the other is told it is
already closed (never a 500), and the response rate is frozen once (real concurrent
requests, on the suite's database)."""

from __future__ import annotations

from sqlalchemy import func, select

from infrawg.actions import Action
from infrawg.audit import AuditEvent
from infrawg.extensions import db
from infrawg.governance.models import Role, RoleGrant
from infrawg.surveys.models import Audience, ClosingFigure
from tests.concurrency import Visitor, at_once, live_site, make_person
from tests.surveys.factories import make_survey


def test_r15_two_closes_at_once_freeze_the_rate_once(tmp_path):
    with live_site(tmp_path) as site:
        with site.app.app_context():
            chair = make_person("Cleo Chair", "cleo@example.org")
            db.session.add(RoleGrant(person_id=chair.id, role=Role.CHAIR, authority="t"))
            db.session.commit()
            survey_id = make_survey(chair, Audience.BOTH).id
            db.session.commit()
        tabs = [Visitor(site.url).sign_in("cleo@example.org") for _ in range(2)]
        path = f"/surveys/{survey_id}/close"
        responses = at_once([lambda t=t: t.post(path, {}) for t in tabs])
        assert sorted(r.status_code for r in responses) == [303, 409]
        refused = next(r for r in responses if r.status_code == 409)
        assert "Only an open survey can be closed" in refused.text
        with site.app.app_context():
            db.session.remove()
            figures = db.session.scalars(
                select(ClosingFigure).where(ClosingFigure.survey_id == survey_id)
            ).all()
            assert sorted(f.section.value for f in figures) == ["members", "tenants"]
            closed = db.session.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.action == Action.SURVEY_CLOSED)
            )
            assert closed == 1
