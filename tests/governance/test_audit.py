"""The audit trail at /audit: members read it, filtered by action and person, paginated,
and each person reads only the events they may see elsewhere on the site."""

from __future__ import annotations

import csv
import io

from sqlalchemy import func, select

from infrawg import audit
from infrawg.archives import service as archives
from infrawg.archives.models import MailingList, Thread, Visibility
from infrawg.audit import AuditEvent
from infrawg.extensions import db
from infrawg.governance import service as governance
from infrawg.governance.models import StaffRequest
from infrawg.membership import service as membership
from infrawg.membership.models import MembershipStatus
from infrawg.provisioning.models import Service, ServiceType
from infrawg.tenants import service as tenants
from tests.conftest import html, make_organisation
from tests.queries import counted_queries


def rows(client, url: str = "/audit") -> list[tuple[str, str, str]]:
    """(action, subject, reason) of every row the page shows."""
    page = html(client.get(url))
    return [
        tuple(cell.text.strip() for cell in row.select("td")[2:5])
        for row in page.select("tr.audit-event")
    ]


def actions_offered(client) -> list[str]:
    page = html(client.get("/audit"))
    return [o["value"] for o in page.select("#filter-action option") if o["value"]]


def everything_shown(client) -> str:
    """All a reader learns from the page, the filter drop-down and the CSV export."""
    page = html(client.get("/audit"))
    return page.select_one("main").text + client.get("/audit.csv").get_data(as_text=True)


def dns_service(organisation, requester, chair) -> Service:
    service_type = ServiceType(
        name=f"DNS hosting for {organisation.slug}",
        kind="dns",
        provider="zonefile",
        created_by_id=chair.id,
    )
    db.session.add(service_type)
    db.session.flush()
    service = Service(
        organisation_id=organisation.id,
        service_type_id=service_type.id,
        name="secret-zone.example",
        requested_by_id=requester.id,
    )
    db.session.add(service)
    db.session.flush()
    return service


def test_audit_trail_filters_by_action_and_person_and_paginates(client, people, member):
    other = people.make("Otto Other")
    for i in range(60):
        audit.record(member, "goal.commented", member, f"comment {i}")
    audit.record(other, "staff.granted", other, "welcome")
    db.session.commit()
    people.sign_in(client, member)

    page = html(client.get("/audit?action=goal.commented"))
    found = page.select("tr.audit-event")
    assert len(found) == 50
    assert found[0].select_one(".action").text == "goal.commented"
    assert "Page 1 of 2 (60 in all)" in page.select_one(".pager").text
    second = html(client.get("/audit?action=goal.commented&page=2"))
    assert len(second.select("tr.audit-event")) == 10

    by_person = html(client.get(f"/audit?person={other.email}"))
    assert [r.select_one(".action").text for r in by_person.select("tr.audit-event")] == [
        "staff.granted"
    ]


def test_audit_person_filter_does_not_tell_whether_an_account_exists(client, people, member):
    quiet = people.make("Quentin Quiet")
    audit.record(quiet, "account.password_changed", quiet)  # his own business
    db.session.commit()
    people.sign_in(client, member)

    unknown = html(client.get("/audit?person=nobody@example.org"))
    known = html(client.get(f"/audit?person={quiet.email}"))
    assert unknown.select_one("#audit-rows .empty").text == "No event matches."
    assert known.select_one("#audit-rows .empty").text == "No event matches."
    assert unknown.select_one("#audit-rows").text.replace("nobody@example.org", "") == (
        known.select_one("#audit-rows").text.replace(quiet.email, "")
    )


def test_audit_filter_by_htmx_returns_only_the_rows(client, people, member):
    audit.record(member, "goal.commented", member)
    db.session.commit()
    people.sign_in(client, member)
    fragment = html(client.get("/audit?action=goal.commented", headers={"HX-Request": "true"}))
    assert fragment.select_one("html") is None
    assert fragment.select_one("#audit-rows tr.audit-event")


def test_audit_page_queries_do_not_grow_with_rows(app, client, people, member):
    people.sign_in(client, member)
    actors = [people.make(f"Actor {i}") for i in range(20)]
    for actor in actors:
        audit.record(actor, "goal.commented", actor)
    db.session.commit()
    with counted_queries() as statements:
        assert client.get("/audit").status_code == 200
    # user, roles, count, page, actors (one selectin), actions for the filter, nav counts
    # (surveys waiting, impact notices to acknowledge)
    assert len(statements) <= 9, statements


def test_applicant_and_former_member_cannot_read_the_audit_trail(client, people, applicant):
    people.sign_in(client, applicant)
    assert client.get("/audit").status_code == 403
    assert client.get("/audit.csv").status_code == 403


# Visibility: what roles hide elsewhere stays hidden here ---------------------------------


def test_r5_member_does_not_see_another_organisations_dns_records_and_plans(
    client, people, member, tenant_member, chair
):
    organisation = make_organisation("Secret WG", tenant_member)
    service = dns_service(organisation, tenant_member, chair)
    audit.record(tenant_member, "service.requested", service, "DNS hosting for Secret WG")
    audit.record(tenant_member, "dns.record_added", service, "vpn.secret-zone.example A 10.9.8.7")
    audit.record(tenant_member, "dns.apply_requested", service, "+ vpn 300 A 10.9.8.7")
    audit.record(chair, "goal.commented", chair, "visible to all")
    db.session.commit()

    people.sign_in(client, member)
    assert rows(client) == [("goal.commented", chair.audit_label, "visible to all")]
    shown = everything_shown(client)
    assert "secret-zone" not in shown and "10.9.8.7" not in shown
    assert actions_offered(client) == ["goal.commented"]
    assert rows(client, "/audit?action=dns.record_added") == []
    assert rows(client, f"/audit?person={tenant_member.email}") == []


def test_r5_tenant_member_sees_their_own_organisations_events(
    app, people, member, tenant_member, chair
):
    colleague = people.make("Cole League")
    organisation = make_organisation("Secret WG", tenant_member, colleague)
    service = dns_service(organisation, tenant_member, chair)
    audit.record(tenant_member, "dns.record_added", service, "vpn 300 A 10.9.8.7")
    audit.record(chair, "service.approved", service, "fine")
    elsewhere = dns_service(make_organisation("Other WG", member), member, chair)
    audit.record(member, "dns.record_added", elsewhere, "www 300 A 192.0.2.1")
    db.session.commit()

    client = people.sign_in(app.test_client(), colleague)
    assert {r[0] for r in rows(client)} == {"dns.record_added", "service.approved"}
    assert "192.0.2.1" not in everything_shown(client)
    assert "10.9.8.7" in everything_shown(client)


def test_r16_member_does_not_see_events_of_threads_kept_to_staff(client, people, member, staff):
    mailing_list = MailingList(name="infrastructure-staff-test")
    db.session.add(mailing_list)
    db.session.flush()
    earlier = Thread(list_id=mailing_list.id, root_key="<a@x>", subject="Breach at the DC")
    open_thread = Thread(list_id=mailing_list.id, root_key="<b@x>", subject="Meeting notes")
    db.session.add_all([earlier, open_thread])
    db.session.flush()
    # An event about the thread while members could read it, then it is kept to staff.
    audit.record(None, "archive.thread_visibility.inherit", earlier, "imported")
    archives.set_thread_visibility(staff, earlier, Visibility.STAFF, "sensitive")
    archives.set_thread_visibility(staff, open_thread, Visibility.STAFF, "for now")
    archives.set_thread_visibility(staff, open_thread, None, "fine after all")
    db.session.commit()

    people.sign_in(client, member)
    assert "Breach" not in everything_shown(client)
    assert [r[1] for r in rows(client)] == ["thread Meeting notes"]
    staff_client = people.sign_in(client.application.test_client(), staff)
    assert sum("Breach" in r[1] for r in rows(staff_client)) == 2


def test_r4_member_does_not_see_invitee_emails_of_other_organisations(
    app, people, member, tenant_member, chair
):
    organisation = make_organisation("Secret WG", tenant_member)
    tenants.invite(tenant_member, organisation, "invitee.secret@example.org")
    db.session.commit()

    outsider = people.sign_in(app.test_client(), member)
    assert "invitee.secret@example.org" not in everything_shown(outsider)
    assert rows(outsider, "/audit?action=tenant_member.invited") == []
    insider = people.sign_in(app.test_client(), tenant_member)
    assert [r[2] for r in rows(insider)] == ["invitee.secret@example.org"]


def test_r3_decline_reasons_are_seen_by_the_person_concerned_not_by_other_members(
    app, people, member, chair
):
    asker = people.make("Ash Asker")
    governance.ask_for_staff(asker, "I want root everywhere.")
    asked = db.session.scalar(select(StaffRequest.id).where(StaffRequest.person_id == asker.id))
    staff_request = governance.get_staff_request(asked)
    governance.decline_staff_request(chair, staff_request, "Not after the incident in May.")
    applicant = people.make("Ada Applicant", status=MembershipStatus.AWAITING_APPROVAL)
    membership.decide_application(chair, applicant, False, "Not a foundation member.")
    db.session.commit()

    other = people.sign_in(app.test_client(), member)
    shown = everything_shown(other)
    for secret in ("incident in May", "root everywhere", "Not a foundation member"):
        assert secret not in shown
    assert rows(other, f"/audit?person={asker.email}") == []

    concerned = people.sign_in(app.test_client(), asker)
    assert {r[0] for r in rows(concerned)} == {"staff.requested", "staff.declined"}
    assert "Not after the incident in May." in [r[2] for r in rows(concerned)]


def test_refused_requests_are_seen_by_the_person_refused_and_staff_only(app, people, member, staff):
    prober = people.make("Pat Prober")
    probing = people.sign_in(app.test_client(), prober)
    assert probing.get("/chair").status_code == 403

    other = people.sign_in(app.test_client(), member)
    assert rows(other, "/audit?action=refused") == []
    assert "refused" not in actions_offered(other)
    assert [r[0] for r in rows(probing)] == ["refused"]
    staff_client = people.sign_in(app.test_client(), staff)
    assert [r[0] for r in rows(staff_client, "/audit?action=refused")] == ["refused"]


def test_staff_and_chair_see_every_event(app, people, member, staff, chair, tenant_member):
    organisation = make_organisation("Secret WG", tenant_member)
    service = dns_service(organisation, tenant_member, chair)
    audit.record(tenant_member, "dns.record_added", service, "vpn 300 A 10.9.8.7")
    audit.record(member, "account.password_changed", member)
    audit.record(chair, "membership.roster_uploaded", None, "3 emails")
    audit.record(None, "some.future_action", None, "not placed yet")
    db.session.commit()
    for person in (staff, chair):
        client = people.sign_in(app.test_client(), person)
        assert len(rows(client)) == 4
        assert "some.future_action" in actions_offered(client)


def test_unknown_actions_fail_closed_to_staff_and_the_chair(app, people, member):
    audit.record(member, "some.future_action", member, "not placed yet")
    db.session.commit()
    assert db.session.scalar(select(AuditEvent.visibility)) == "staff"
    client = people.sign_in(app.test_client(), member)
    assert rows(client) == []
    assert actions_offered(client) == []


def test_audit_counts_and_pages_count_only_what_the_reader_may_see(
    client, people, member, tenant_member, chair
):
    service = dns_service(make_organisation("Secret WG", tenant_member), tenant_member, chair)
    for i in range(70):
        audit.record(tenant_member, "dns.record_added", service, f"host{i} 300 A 10.0.0.{i}")
    for i in range(55):
        audit.record(chair, "goal.commented", chair, f"comment {i}")
    db.session.commit()
    people.sign_in(client, member)

    page = html(client.get("/audit"))
    assert len(page.select("tr.audit-event")) == 50
    assert "Page 1 of 2 (55 in all)" in page.select_one(".pager").text
    last = html(client.get("/audit?page=2"))
    assert len(last.select("tr.audit-event")) == 5
    assert html(client.get("/audit?page=3")).select("tr.audit-event") == []


# The CSV export -------------------------------------------------------------------------


def test_audit_csv_keeps_the_filters_and_the_visibility_and_neutralises_formulas(
    client, people, member, tenant_member, chair
):
    service = dns_service(make_organisation("Secret WG", tenant_member), tenant_member, chair)
    audit.record(tenant_member, "dns.record_added", service, "vpn 300 A 10.9.8.7")
    audit.record(chair, "goal.commented", chair, '=HYPERLINK("http://evil")')
    audit.record(chair, "staff.granted", member, "welcome")
    db.session.commit()
    people.sign_in(client, member)

    page = html(client.get("/audit?action=goal.commented"))
    link = page.select_one("a#audit-csv")["href"]
    assert link == "/audit.csv?action=goal.commented"
    response = client.get(link)
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    table = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert table[0] == ["when", "who", "action", "subject", "reason", "repeats"]
    assert [row[2:5] for row in table[1:]] == [
        ["goal.commented", chair.audit_label, '\'=HYPERLINK("http://evil")']
    ]
    everything = list(csv.reader(io.StringIO(client.get("/audit.csv").get_data(as_text=True))))
    assert sorted(row[2] for row in everything[1:]) == ["goal.commented", "staff.granted"]


def test_audit_csv_streams_every_visible_row_across_batches(client, people, member):
    for i in range(1201):
        audit.record(member, "goal.commented", member, f"comment {i}")
    db.session.commit()
    people.sign_in(client, member)
    response = client.get("/audit.csv?action=goal.commented")
    assert response.is_streamed
    lines = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert len(lines) == 1202
    assert lines[1][4] == "comment 1200" and lines[-1][4] == "comment 0"
    assert len({row[4] for row in lines[1:]}) == 1201


# Refused requests are throttled -----------------------------------------------------------


def test_200_refused_requests_leave_a_bounded_number_of_rows_and_the_first_is_kept(
    client, people, member
):
    people.sign_in(client, member)
    for _ in range(100):
        assert client.get("/chair").status_code == 403
    for i in range(100):
        assert client.get(f"/board?probe={i}").status_code == 403
        client.post(f"/chair/staff/{i}/revoke", data={})  # many paths, one person
    refused = list(
        db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "refused").order_by(AuditEvent.id)
        )
    )
    assert 1 <= len(refused) <= audit.REFUSED_ROWS_PER_WINDOW
    assert refused[0].reason.startswith("GET /chair:")
    assert refused[0].actor_id == member.id
    assert sum(1 + event.repeats for event in refused) == 300
    shown = html(client.get("/audit?action=refused"))
    assert "99 more times" in shown.select("tr.audit-event")[-1].select_one(".repeats").text


def test_refused_rows_are_counted_per_person(app, people, member):
    second = people.make("Second Prober")
    for person in (member, second):
        client = people.sign_in(app.test_client(), person)
        for _ in range(5):
            assert client.get("/chair").status_code == 403
    counts = dict(
        db.session.execute(
            select(AuditEvent.actor_id, func.count())
            .where(AuditEvent.action == "refused")
            .group_by(AuditEvent.actor_id)
        ).all()
    )
    assert counts == {member.id: 1, second.id: 1}


def test_role_grant_event_visibility_is_stored_with_the_event(people, member, chair):
    audit.record(chair, "staff.granted", member, "welcome")
    audit.record(chair, "staff.declined", member, "not yet")
    db.session.commit()
    stored = dict(db.session.execute(select(AuditEvent.action, AuditEvent.visibility)).all())
    assert stored == {"staff.granted": "group", "staff.declined": "concerned"}
    assert set(db.session.scalars(select(AuditEvent.person_id))) == {member.id}
