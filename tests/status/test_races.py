"""R5 under races: two staff giving the all-clear (or an update and the all-clear) at once
leave one all-clear, one SEQUENCE per act and nothing after it (real concurrent requests)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from infrawg.extensions import db
from infrawg.governance.models import Role, RoleGrant
from infrawg.status import service as notices
from infrawg.status.models import ImpactNotice, NoticeKind, NoticeUpdate
from infrawg.timeutil import utcnow
from tests.concurrency import Visitor, at_once, live_site, make_person
from tests.conftest import make_organisation
from tests.status.conftest import make_service

ROUNDS = 3


def test_r5_two_all_clears_at_once_resolve_the_notice_once(tmp_path):
    with live_site(tmp_path) as site:
        with site.app.app_context():
            staff = [make_person(f"Staff {n}", f"staff{n}@example.org") for n in range(2)]
            for person in staff:
                db.session.add(RoleGrant(person_id=person.id, role=Role.STAFF, authority="t"))
            tenant = make_person("Tia Tenant", "tia@example.org")
            db.session.commit()
            service = make_service(make_organisation("Race WG", tenant), "race.example.", tenant)
            service_id, actor_id = service.id, staff[0].id
        visitors = [Visitor(site.url).sign_in(f"staff{n}@example.org") for n in range(2)]
        for round_no in range(ROUNDS):
            with site.app.app_context():
                actor = db.session.get(type(tenant), actor_id)
                notice = notices.announce(
                    actor,
                    notices.NoticeInput(
                        NoticeKind.INCIDENT,
                        f"Outage {round_no}",
                        "What",
                        "Impact",
                        "Public",
                        utcnow() - timedelta(hours=1),
                        None,
                        [service_id],
                    ),
                )
                db.session.commit()
                notice_id = notice.id
            paths = [
                f"/status/notices/{notice_id}/all-clear",
                f"/status/notices/{notice_id}/update",
            ]
            if round_no == 0:
                paths[1] = paths[0]
            responses = at_once(
                [
                    lambda v=v, path=path: v.post(path, {"body": "Fixed."})
                    for v, path in zip(visitors, paths, strict=True)
                ]
            )
            statuses = [r.status_code for r in responses]
            assert all(status in (303, 409) for status in statuses), statuses
            with site.app.app_context():
                db.session.remove()
                notice = db.session.get(ImpactNotice, notice_id)
                updates = db.session.scalars(
                    select(NoticeUpdate).where(NoticeUpdate.notice_id == notice_id)
                ).all()
                clears = [u for u in updates if u.all_clear]
                assert len(clears) == 1, (round_no, statuses)
                # Nothing follows the all-clear, and each act took its own SEQUENCE.
                assert updates[-1].all_clear, (round_no, statuses)
                assert notice.sequence == len(updates), (round_no, statuses)
