"""R5: tenant members are the point of contact and receive the notices when their services
will be impacted: mail with an .ics, on-site notices, updates, the all-clear, acknowledgement."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from icalendar import Calendar
from sqlalchemy import select

from infrawg.actions import Action
from infrawg.audit import AuditEvent
from infrawg.errors import NotAllowed
from infrawg.extensions import db
from infrawg.notices.models import OutboxAttachment, OutboxMail
from infrawg.status import service as notices
from infrawg.status.models import ImpactNotice, NoticeKind, NoticeRecipient, NoticeState
from infrawg.timeutil import utcnow
from tests.conftest import html, outbox_to
from tests.queries import count
from tests.status.conftest import notice_form


def announce(client, people, staff, *services, **overrides):
    """Staff fill the form, check their answers, and send; returns the notice."""
    people.sign_in(client, staff)
    form = notice_form(*services, **overrides)
    before = count(ImpactNotice)
    asked = client.post("/status/notices/new", data=form)
    assert asked.status_code == 200, asked.get_data(as_text=True)
    assert html(asked).select_one("#audience") is not None
    assert count(ImpactNotice) == before  # nothing is sent before the answers are confirmed
    done = client.post("/status/notices/new", data=form | {"confirmed": "1"})
    assert done.status_code == 303, done.get_data(as_text=True)
    return db.session.scalars(select(ImpactNotice).order_by(ImpactNotice.id.desc())).first()


def calendar_of(data: bytes):
    calendar = Calendar.from_ical(data)
    (event,) = calendar.walk("VEVENT")
    return calendar, event


class TestOverSMTP:
    @pytest.fixture
    def app_config(self, smtp_config):
        return smtp_config

    def test_r5_maintenance_notice_reaches_tenant_members_with_ics(
        self, client, people, staff, tenants, mailbox
    ):
        # R5
        notice = announce(client, people, staff, tenants.service_a, tenants.service_b)
        got = {p.email: mailbox.wait_for(p.email) for p in (tenants.ann, tenants.abe, tenants.bea)}
        # Ann is a tenant member of both organisations: one mail, naming both services.
        assert len(mailbox.to(tenants.ann.email)) == 1
        assert len(mailbox.received) == 3
        for mail in got.values():
            assert mail.subject == "[Infra-WG] Planned maintenance: Name server upgrade"
            assert mail.recipients in (
                [tenants.ann.email],
                [tenants.abe.email],
                [tenants.bea.email],
            )
        assert "alpha-zone.example.org." in got["ann@example.org"].body
        assert "beta-secret.example.org." in got["ann@example.org"].body
        # Each is told only of their own organisation's services.
        assert "beta-secret.example.org." not in got["abe@example.org"].body
        assert "Beta Project WG" not in got["abe@example.org"].body
        assert "alpha-zone.example.org." not in got["bea@example.org"].body

        (attachment,) = list(got["abe@example.org"].message.iter_attachments())
        assert attachment.get_content_type() == "text/calendar"
        assert attachment.get_filename() == f"notice-{notice.id}.ics"
        calendar, event = calendar_of(attachment.get_content())
        assert str(calendar["METHOD"]) == "PUBLISH"
        assert str(event["UID"]) == f"impact-notice-{notice.id}@localhost"
        assert int(event["SEQUENCE"]) == 0
        assert event.decoded("DTSTART") == notice.starts_at.replace(tzinfo=UTC)
        assert event.decoded("DTEND") == notice.ends_at.replace(tzinfo=UTC)
        assert "Name server upgrade" in str(event["SUMMARY"])
        assert "beta-secret" not in str(event["DESCRIPTION"])
        told = db.session.scalars(
            select(NoticeRecipient.person_id).where(NoticeRecipient.notice_id == notice.id)
        ).all()
        assert sorted(told) == sorted([tenants.ann.id, tenants.abe.id, tenants.bea.id])
        (event_row,) = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == Action.NOTICE_ANNOUNCED)
        ).all()
        assert event_row.actor_id == staff.id and "3 tenant member(s) told" in event_row.reason


def _ics_of(mail: OutboxMail):
    (attachment,) = db.session.scalars(
        select(OutboxAttachment).where(OutboxAttachment.mail_id == mail.id)
    ).all()
    return calendar_of(attachment.data)[1]


def test_r5_update_and_all_clear_go_to_the_same_people(client, people, staff, tenants, member):
    # R5
    notice = announce(client, people, staff, tenants.service_a)
    first = {p.email for p in (tenants.ann, tenants.abe) if outbox_to(p.email)}
    assert first == {"ann@example.org", "abe@example.org"}
    assert outbox_to(tenants.bea.email) == [] and outbox_to(member.email) == []

    later = notice.starts_at + timedelta(hours=3)
    response = client.post(
        f"/status/notices/{notice.id}/update",
        data={"body": "It takes an hour longer.", "ends_at": later.strftime("%Y-%m-%dT%H:%M")},
    )
    assert response.status_code == 303
    response = client.post(
        f"/status/notices/{notice.id}/all-clear", data={"body": "Done; all zones serve again."}
    )
    assert response.status_code == 303

    for person in (tenants.ann, tenants.abe):
        notice_mail, update_mail, all_clear_mail = outbox_to(person.email)
        assert update_mail.subject == "[Infra-WG] Update: Planned maintenance: Name server upgrade"
        assert "It takes an hour longer." in update_mail.body
        assert all_clear_mail.subject.startswith("[Infra-WG] All clear: ")
        events = [_ics_of(m) for m in (notice_mail, update_mail, all_clear_mail)]
        # The same event, replaced: one UID, a rising SEQUENCE, the new end.
        assert {str(e["UID"]) for e in events} == {f"impact-notice-{notice.id}@localhost"}
        assert [int(e["SEQUENCE"]) for e in events] == [0, 1, 2]
        assert events[1].decoded("DTEND") == later.replace(tzinfo=UTC)
        assert str(events[2]["SUMMARY"]).startswith("Resolved: ")
    assert outbox_to(tenants.bea.email) == [] and outbox_to(member.email) == []
    db.session.refresh(notice)
    assert notice.state == NoticeState.RESOLVED and notice.resolved_at is not None
    # After the all-clear nothing more can be said on it.
    again = client.post(f"/status/notices/{notice.id}/update", data={"body": "More?"})
    assert again.status_code == 409
    actions = db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.action.like("notice.%")).order_by(AuditEvent.id)
    ).all()
    assert actions == [Action.NOTICE_ANNOUNCED, Action.NOTICE_UPDATED, Action.NOTICE_RESOLVED]


def test_r5_tenant_member_acknowledges(client, people, staff, tenants, member):
    # R5
    notice = announce(client, people, staff, tenants.service_a)
    people.sign_in(client, tenants.abe)
    page = html(client.get("/dashboard"))
    assert "1 impact notice" in page.select_one("#waiting-heading").find_next("ul").text
    mine = html(client.get("/status/mine"))
    article = mine.select_one(f"#notice-{notice.id}")
    assert "alpha-zone.example.org." in article.select_one(".services").text
    assert article.select_one("button").text == "Acknowledge"
    response = client.post(f"/status/notices/{notice.id}/acknowledge")
    assert response.status_code == 303
    receipt = db.session.scalar(
        select(NoticeRecipient).where(
            NoticeRecipient.notice_id == notice.id, NoticeRecipient.person_id == tenants.abe.id
        )
    )
    assert receipt.acknowledged_at is not None
    mine = html(client.get("/status/mine"))
    assert mine.select_one(f"#notice-{notice.id} .acknowledged") is not None
    assert mine.select_one(f"#notice-{notice.id} button") is None
    assert client.post(f"/status/notices/{notice.id}/acknowledge").status_code == 409
    # Ann has not acknowledged: staff see who has.
    people.sign_in(client, staff)
    rows = html(client.get(f"/status/notices/{notice.id}")).select("#recipients tbody tr")
    acknowledged = {r.td.text: r.select_one(".acknowledged").text for r in rows}
    assert acknowledged["Ann Alpha"] == "not yet" and acknowledged["Abe Alpha"] != "not yet"
    # Someone who was not told has nothing to acknowledge, and learns nothing.
    people.sign_in(client, tenants.bea)
    assert client.post(f"/status/notices/{notice.id}/acknowledge").status_code == 404
    assert html(client.get("/status/mine")).select_one(f"#notice-{notice.id}") is None
    (event,) = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == Action.NOTICE_ACKNOWLEDGED)
    ).all()
    assert event.actor_id == tenants.abe.id


SECRETS = ("beta-secret", "Beta Project WG", "Confidential rebuild", "Bea Beta", "bea@")


def _assert_private(response) -> None:
    text = response.get_data(as_text=True)
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} leaked in {response.request.path}"


def test_r5_status_page_names_nothing_private(app, client, people, staff, tenants, member):
    # R5, R16: the status page, its .ics, its counts and its errors show outsiders only the
    # public summary: no organisation, service, title or tenant member.
    notice = announce(
        client,
        people,
        staff,
        tenants.service_b,
        title="Confidential rebuild",
        what="Rebuild of beta-secret.example.org. for Beta Project WG.",
        public_summary="Maintenance of a hosted zone",
        starts_at=(utcnow() - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M"),
    )
    outsiders = [None, member, tenants.abe]  # anonymous, a member, another tenant's liaison
    for outsider in outsiders:
        client = app.test_client()
        if outsider is not None:
            people.sign_in(client, outsider)
        page = client.get("/status")
        assert page.status_code == 200
        _assert_private(page)
        current = html(page).select("#current .notice")
        assert [n.select_one(".summary").text for n in current] == ["Maintenance of a hosted zone"]
        ics = client.get(f"/status/{notice.id}.ics")
        assert ics.status_code == 200 and ics.mimetype == "text/calendar"
        _assert_private(ics)
        _, event = calendar_of(ics.data)
        assert str(event["SUMMARY"]) == "Planned maintenance: Maintenance of a hosted zone"
        assert "DESCRIPTION" not in event
        for path in (
            f"/status/{notice.id + 1000}.ics",
            "/status/mine",
            "/status/notices",
            f"/status/notices/{notice.id}",
            f"/status/notices/{notice.id + 1000}",
        ):
            _assert_private(client.get(path))
        _assert_private(client.post(f"/status/notices/{notice.id}/acknowledge"))
        _assert_private(client.get("/dashboard"))
        if outsider is not None:
            # The audit trail names the notice by number only (and staff's events stay staff's).
            _assert_private(client.get("/audit"))
            _assert_private(client.get("/audit.csv"))
    # The tenant member told of it reads it in full, in the .ics too.
    people.sign_in(client, tenants.bea)
    _, event = calendar_of(client.get(f"/status/{notice.id}.ics").data)
    assert str(event["SUMMARY"]) == "Planned maintenance: Confidential rebuild"
    assert "beta-secret.example.org." in str(event["DESCRIPTION"])


def test_r5_only_staff_announce(client, people, staff, chair, tenants, member):
    # R5: staff (and the chair) announce; tenant members and members cannot.
    for person in (member, tenants.ann):
        people.sign_in(client, person)
        for confirmed in ({}, {"confirmed": "1"}):
            response = client.post(
                "/status/notices/new", data=notice_form(tenants.service_a) | confirmed
            )
            assert response.status_code == 403
        assert client.get("/status/notices/new").status_code == 403
        with pytest.raises(NotAllowed):
            notices.announce(
                person,
                notices.NoticeInput(
                    NoticeKind.INCIDENT, "t", "w", "i", "p", utcnow(), None, [tenants.service_a.id]
                ),
            )
        db.session.rollback()
    assert count(ImpactNotice) == 0
    assert count(OutboxMail) == 0
    assert count(AuditEvent, AuditEvent.action == Action.REFUSED) >= 2
    assert announce(client, people, chair, tenants.service_a) is not None


def test_a_notice_needs_services_and_an_end_after_its_start(client, people, staff, tenants):
    people.sign_in(client, staff)
    form = notice_form(tenants.service_a)
    response = client.post("/status/notices/new", data=form | {"ends_at": form["starts_at"]})
    assert response.status_code == 422
    assert "The end must come after the start." in html(response).select_one("#ends_at-errors").text
    response = client.post("/status/notices/new", data=form | {"services": []})
    assert response.status_code == 422
    # Changing one's answers brings the form back filled in.
    response = client.post("/status/notices/new", data=form | {"change": "1"})
    assert html(response).select_one("#title")["value"] == "Name server upgrade"
    assert count(ImpactNotice) == 0


def test_the_status_page_lists_current_upcoming_and_recently_resolved(
    client, people, staff, tenants
):
    now = utcnow()
    soon = announce(client, people, staff, tenants.service_a, public_summary="Soon")
    now_on = announce(
        client,
        people,
        staff,
        tenants.service_a,
        public_summary="Now",
        starts_at=(now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
    )
    done = announce(client, people, staff, tenants.service_a, public_summary="Done")
    notices.give_all_clear(staff, done, "Finished early.")
    old = announce(client, people, staff, tenants.service_a, public_summary="Old")
    notices.give_all_clear(staff, old, "Finished.")
    old.resolved_at = datetime(2020, 1, 1)
    db.session.commit()
    page = html(client.get("/status"))
    summaries = {
        section: [n.select_one(".summary").text for n in page.select(f"#{section} .notice")]
        for section in ("current", "upcoming", "resolved")
    }
    assert summaries == {"current": ["Now"], "upcoming": ["Soon"], "resolved": ["Done"]}
    assert soon.id != now_on.id


def test_r5_an_update_reaches_a_new_liaison_and_not_one_who_left(client, people, staff, tenants):
    # R5: the contacts are the organisation's tenant members now.
    from infrawg.tenants.models import TenantMember

    notice = announce(client, people, staff, tenants.service_a)
    tenancy = db.session.scalar(
        select(TenantMember).where(
            TenantMember.person_id == tenants.abe.id,
            TenantMember.organisation_id == tenants.org_a.id,
        )
    )
    tenancy.ended_at = utcnow()
    newcomer = people.make("Nia New", email="nia@example.org")
    db.session.add(TenantMember(organisation_id=tenants.org_a.id, person_id=newcomer.id))
    db.session.commit()
    response = client.post(f"/status/notices/{notice.id}/update", data={"body": "Moved."})
    assert response.status_code == 303
    assert [m.subject.split(":")[0] for m in outbox_to(newcomer.email)] == ["[Infra-WG] Update"]
    assert len(outbox_to(tenants.abe.email)) == 1  # the notice only
    assert len(outbox_to(tenants.ann.email)) == 2
    # Abe no longer reads the notice; Nia does, and can acknowledge it.
    people.sign_in(client, tenants.abe)
    assert client.post(f"/status/notices/{notice.id}/acknowledge").status_code == 404
    people.sign_in(client, newcomer)
    assert client.post(f"/status/notices/{notice.id}/acknowledge").status_code == 303


def test_the_development_outbox_shows_the_notice_ics(client, people, staff, tenants):
    notice = announce(client, people, staff, tenants.service_a)
    page = html(client.get("/dev/outbox"))
    attached = page.select(".mail .attachment")
    assert len(attached) == 2  # Ann's and Abe's mail
    assert attached[0].summary.text == f"Attached: notice-{notice.id}.ics (text/calendar)"
    assert "BEGIN:VCALENDAR" in attached[0].pre.text


def test_acknowledging_with_htmx_swaps_the_notice_in_place(client, people, staff, tenants):
    notice = announce(client, people, staff, tenants.service_a)
    people.sign_in(client, tenants.ann)
    response = client.post(f"/status/notices/{notice.id}/acknowledge", htmx=True)
    assert response.status_code == 200
    fragment = html(response)
    assert fragment.select_one("html") is None
    assert fragment.select_one(f"article#notice-{notice.id} .acknowledged") is not None
    assert fragment.select_one("button") is None
