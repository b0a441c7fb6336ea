"""R6 and R9 under races: real concurrent requests against a live site (both databases).

(R4's races are in tests/tenants/test_races.py.)
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from infrawg.extensions import db
from infrawg.governance.models import Role, RoleGrant
from infrawg.membership.models import MembershipStatus, Person
from infrawg.provisioning.models import Service, ServiceState, ServiceType
from tests.concurrency import Visitor, at_once, live_site, make_person
from tests.conftest import make_organisation

ROUNDS = 4


def test_r6_two_appointments_at_once_leave_one_chair(tmp_path):
    with live_site(tmp_path) as site:
        with site.app.app_context():
            boards = [make_person(f"Board {n}", f"board{n}@example.org") for n in range(2)]
            for person in boards:
                person.status = MembershipStatus.LEFT  # the board is outside the group
                db.session.add(RoleGrant(person_id=person.id, role=Role.BOARD, authority="t"))
            db.session.commit()
            board_emails = [p.email for p in boards]
        visitors = [Visitor(site.url).sign_in(email) for email in board_emails]
        for round_no in range(ROUNDS):
            with site.app.app_context():
                candidates = [
                    make_person(f"Candidate {round_no}-{n}", f"cand{round_no}-{n}@example.org")
                    for n in range(2)
                ]
                db.session.commit()
                emails = [p.email for p in candidates]
            for visitor in visitors:
                visitor.get("/board")
            forms = [
                {
                    "email": email,
                    "resolution_ref": f"2026-{round_no}-{n}",
                    "resolution_date": date.today().isoformat(),
                    "confirmed": "1",
                }
                for n, email in enumerate(emails)
            ]
            responses = at_once(
                [
                    lambda v=v, form=form: v.post("/board/chair", form)
                    for v, form in zip(visitors, forms, strict=True)
                ]
            )
            statuses = [r.status_code for r in responses]
            assert all(status in (303, 409) for status in statuses), statuses
            with site.app.app_context():
                db.session.remove()
                chairs = db.session.scalar(
                    select(func.count())
                    .select_from(RoleGrant)
                    .where(RoleGrant.role == Role.CHAIR, RoleGrant.ended_at.is_(None))
                )
                assert chairs == 1, f"round {round_no}: {chairs} chairs, {statuses}"


def test_r9_two_approvals_at_once_cannot_both_take_the_last_place(tmp_path):
    with live_site(tmp_path) as site:
        with site.app.app_context():
            chair = make_person("Cleo Chair", "chair@example.org")
            db.session.add(RoleGrant(person_id=chair.id, role=Role.CHAIR, authority="t"))
            tenant = make_person("Tess Tenant", "tess@example.org")
            organisation = make_organisation("Capacity WG", tenant)
            db.session.commit()
            chair_email, tenant_id, org_id = chair.email, tenant.id, organisation.id
        tabs = [Visitor(site.url).sign_in(chair_email) for _ in range(2)]
        for round_no in range(ROUNDS):
            with site.app.app_context():
                dns = ServiceType(
                    name=f"DNS {round_no}", kind="dns", provider="zonefile", capacity=1
                )
                db.session.add(dns)
                db.session.flush()
                services = [
                    Service(
                        organisation_id=org_id,
                        service_type_id=dns.id,
                        name=f"zone{n}.r{round_no}.example.org",
                        requested_by_id=tenant_id,
                    )
                    for n in range(2)
                ]
                db.session.add_all(services)
                db.session.commit()
                ids, type_id = [s.id for s in services], dns.id
            for tab, service_id in zip(tabs, ids, strict=True):
                tab.get(f"/services/{service_id}")
            responses = at_once(
                [
                    lambda t=t, path=f"/services/{service_id}/decide/approve": t.post(
                        path, {"reason": "Fine"}
                    )
                    for t, service_id in zip(tabs, ids, strict=True)
                ]
            )
            statuses = sorted(r.status_code for r in responses)
            assert statuses == [303, 409], f"round {round_no}: {statuses}"
            refused = next(r for r in responses if r.status_code == 409)
            assert "at capacity (1 of 1 in use)" in refused.text
            with site.app.app_context():
                db.session.remove()
                approved = db.session.scalar(
                    select(func.count())
                    .select_from(Service)
                    .where(
                        Service.service_type_id == type_id,
                        Service.state == ServiceState.APPROVED,
                    )
                )
                assert approved == 1, f"round {round_no}"


def test_r3_one_open_staff_request_and_one_grant_however_the_clicks_race(tmp_path):
    with live_site(tmp_path) as site:
        with site.app.app_context():
            chair = make_person("Chair", "chair@example.org")
            db.session.add(RoleGrant(person_id=chair.id, role=Role.CHAIR, authority="t"))
            askers = [make_person(f"Asker {n}", f"asker{n}@example.org") for n in range(ROUNDS)]
            db.session.commit()
            emails = [p.email for p in askers]
        chair_visitors = [Visitor(site.url).sign_in("chair@example.org") for _ in range(2)]
        for email in emails:
            # The same member asks twice at once (two tabs): one request is open.
            tabs = [Visitor(site.url).sign_in(email) for _ in range(2)]
            for tab in tabs:
                tab.get("/account/roles")
            motivation = {"motivation": "I run the mail servers."}
            asked = at_once(
                [lambda t=t, m=motivation: t.post("/account/roles/staff-request", m) for t in tabs]
            )
            assert sorted(r.status_code for r in asked) == [303, 409], [
                r.status_code for r in asked
            ]
            # The chair grants the same member staff from two tabs at once: one grant.
            for visitor in chair_visitors:
                visitor.get("/chair")
            grant = {"email": email, "reason": "Runs the mail servers."}
            granted = at_once(
                [lambda v=v, g=grant: v.post("/chair/staff", g) for v in chair_visitors]
            )
            assert sorted(r.status_code for r in granted) == [303, 409], [
                r.status_code for r in granted
            ]
        with site.app.app_context():
            db.session.remove()
            for email in emails:
                grants = db.session.scalar(
                    select(func.count())
                    .select_from(RoleGrant)
                    .join(Person, Person.id == RoleGrant.person_id)
                    .where(
                        Person.email == email,
                        RoleGrant.role == Role.STAFF,
                        RoleGrant.ended_at.is_(None),
                    )
                )
                assert grants == 1
