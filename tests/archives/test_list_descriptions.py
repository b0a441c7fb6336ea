"""Lists have descriptions: staff write them (audited, for staff), their readers see them
on the archive index and above the threads; nobody else learns them."""

from __future__ import annotations

from sqlalchemy import select

from infrawg.archives.models import MailingList, Visibility
from infrawg.audit import AuditEvent
from infrawg.extensions import db
from tests.archives.factories import message, store
from tests.conftest import html

WORDS = "Mirrors, DNS and the servers the group runs."


def describe(client, text: str, list_name: str = "infra"):
    return client.post(f"/archives/{list_name}/description", data={"description": text})


def test_staff_describe_a_list_and_its_readers_see_it(app, people, staff, member):
    store("infra", message("d1@example.org", "Mirror plans"))
    as_staff = people.sign_in(app.test_client(), staff)
    assert describe(as_staff, f"  {WORDS}\n ").status_code == 303
    assert db.session.scalar(select(MailingList.description)) == WORDS
    event = db.session.scalar(
        select(AuditEvent).where(AuditEvent.action == "archive.list_described")
    )
    assert event is not None and event.actor_id == staff.id

    as_member = people.sign_in(app.test_client(), member)
    assert html(as_member.get("/archives/infra/")).select_one("#list-description").text == WORDS
    index = html(as_member.get("/archives/"))
    assert index.select_one("#lists .description").text == WORDS
    # Members do not write descriptions, nor read who changed one in the trail.
    assert describe(as_member, "Mine now").status_code == 403
    assert db.session.scalar(select(MailingList.description)) == WORDS
    assert "described" not in html(as_member.get("/audit")).get_text()
    assert html(as_member.get("/archives/infra/")).select_one("#describe-list") is None


def test_a_too_long_description_is_refused_and_changes_nothing(app, people, staff):
    store("infra", message("d2@example.org", "Mirror plans"))
    as_staff = people.sign_in(app.test_client(), staff)
    assert describe(as_staff, WORDS).status_code == 303
    refused = describe(as_staff, "x" * 501)
    assert refused.status_code == 400
    assert "500 characters" in refused.get_data(as_text=True)
    assert db.session.scalar(select(MailingList.description)) == WORDS


def test_a_staff_only_lists_description_reaches_no_member(app, people, staff, member):
    store("infra", message("d3@example.org", "Mirror plans"))
    mailing_list = db.session.scalar(select(MailingList))
    mailing_list.visibility = Visibility.STAFF
    db.session.commit()
    as_staff = people.sign_in(app.test_client(), staff)
    assert describe(as_staff, "Incidents with tenants, kept to staff.").status_code == 303
    as_member = people.sign_in(app.test_client(), member)
    for path in ("/archives/", "/archives/infra/", "/audit", "/audit.csv"):
        assert "Incidents with tenants" not in as_member.get(path).get_data(as_text=True), path
    assert describe(as_member, "x").status_code in (403, 404)
