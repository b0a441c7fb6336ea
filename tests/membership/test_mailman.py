"""The `mailman3` list backend against a real Mailman 3 core (Debian's `mailman3`).

Joining and leaving change the real roster through jobs that run after the site's commit;
Mailman being down never fails a join; drift is found both ways and repaired; people who
subscribe or unsubscribe on the list itself hear from the site.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from infrawg.audit import AuditEvent
from infrawg.extensions import db
from infrawg.jobs.models import Job, JobState
from infrawg.jobs.runner import run_due_jobs
from infrawg.membership import lists
from infrawg.membership.lists import ListUnavailable, Mailman3ListBackend, list_backend
from infrawg.membership.models import ListException, MembershipStatus, Person, RosterEntry
from infrawg.timeutil import utcnow
from tests.conftest import PASSWORD, html, link_in, outbox_to
from tests.membership.conftest import LIST_ADDRESS
from tests.servers.ports import free_port

PASSWORD_ENV = "INFRAWG_TEST_MAILMAN_PASSWORD"
JOIN = {"name": "Grace Hopper", "password": PASSWORD, "foundation_member": "y"}


@pytest.fixture
def app_config(mailman, monkeypatch) -> dict:
    monkeypatch.setenv(PASSWORD_ENV, mailman.admin_password)
    return {
        "LIST_BACKEND": "mailman3",
        "LIST_ADDRESS": LIST_ADDRESS,
        "MAILMAN_URL": mailman.url,
        "MAILMAN_USER": mailman.admin_user,
        "MAILMAN_PASSWORD": f"env:{PASSWORD_ENV}",
        "MEMBERSHIP_VERIFIER": "roster",
    }


def roster(mailman) -> set[str]:
    return mailman.roster(mailman.list_id)


def subscribe_directly(mailman, email: str) -> None:
    """Someone subscribes on the list itself (Postorius, or a mail to -join)."""
    mailman.call(
        "POST",
        "members",
        data={
            "list_id": mailman.list_id,
            "subscriber": email,
            "pre_verified": "True",
            "pre_confirmed": "True",
            "pre_approved": "True",
        },
    )


def list_jobs() -> list[Job]:
    return list(db.session.scalars(select(Job).where(Job.kind == lists.SYNC_JOB).order_by(Job.id)))


def join_and_confirm(client, email: str) -> Person:
    db.session.add(RosterEntry(email=email))
    db.session.commit()
    client.post("/join", data=JOIN | {"email": email})
    confirm = link_in(outbox_to(email)[0].body, "/join/confirm/")
    response = client.post(confirm, follow_redirects=True)
    assert html(response).select_one("#membership-status .status").text == "Member"
    return db.session.scalar(select(Person).where(Person.email == email))


def actions() -> list[str]:
    return list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def test_the_backend_is_built_from_a_secret_reference_and_never_shows_it(app, mailman):
    backend = list_backend()
    assert isinstance(backend, Mailman3ListBackend)
    assert mailman.admin_password not in repr(backend._password)
    assert backend.members() == set()


def test_subscribe_and_unsubscribe_are_idempotent_on_the_real_list(app, mailman):
    backend = list_backend()
    backend.subscribe("ada@example.org")
    backend.subscribe("ada@example.org")  # already subscribed: success
    assert roster(mailman) == {"ada@example.org"}
    assert backend.members() == {"ada@example.org"}
    backend.unsubscribe("ada@example.org")
    backend.unsubscribe("ada@example.org")  # not a member: success
    backend.unsubscribe("never@example.org")
    assert roster(mailman) == set()


def test_r2_join_confirm_member_lands_on_the_real_roster_after_commit(client, mailman, smtp_server):
    person = join_and_confirm(client, "grace@example.org")
    assert person.status == MembershipStatus.MEMBER
    # The list call is a job: committed with the admission, run after it.
    (queued,) = list_jobs()
    assert queued.state == JobState.QUEUED and queued.args == {"email": "grace@example.org"}
    assert roster(mailman) == set()
    assert run_due_jobs() == 1
    assert queued.state == JobState.SUCCEEDED
    assert roster(mailman) == {"grace@example.org"}
    # Pre-verified, pre-confirmed, pre-approved: a moderated list did not hold it, and the
    # welcome is the site's own (Mailman sends none).
    assert outbox_to("grace@example.org")[-1].subject == "[Infra-WG] Welcome to the Infra-WG"
    with pytest.raises(AssertionError, match="no mail"):
        smtp_server.sink.wait_for("grace@example.org", timeout=3)  # Mailman's runners are live


def test_leave_takes_the_member_off_the_real_roster(client, people, mailman):
    member = people.make("Lee Leaver", email="lee@example.org")
    subscribe_directly(mailman, "lee@example.org")
    people.sign_in(client, member)
    response = client.post("/account/leave", data={"reason": "Moving on", "confirmed": "1"})
    assert response.status_code == 303
    assert member.status == MembershipStatus.LEFT
    assert roster(mailman) == {"lee@example.org"}  # not yet: the job runs after the commit
    run_due_jobs()
    assert roster(mailman) == set()
    assert outbox_to("lee@example.org")[-1].subject == "[Infra-WG] You left the Infra-WG"


@pytest.fixture
def closed_port() -> int:
    return free_port()


def test_mailman_down_the_join_succeeds_and_the_subscription_lands_when_it_is_back(
    app, client, people, mailman, closed_port, staff_member
):
    real = dict(app.config)
    # Mailman is down: nothing listens where the site looks for it.
    app.extensions[lists.EXTENSION_KEY] = lists.build_list_backend(
        real | {"MAILMAN_URL": f"http://127.0.0.1:{closed_port}"}
    )
    person = join_and_confirm(client, "hedy@example.org")
    assert person.status == MembershipStatus.MEMBER
    run_due_jobs()
    (failed,) = list_jobs()
    assert failed.state == JobState.FAILED
    assert "unreachable" in failed.last_error
    assert failed.next_run_at > utcnow()
    # Staff see it on the jobs page.
    people.sign_in(client, staff_member)
    row = html(client.get("/jobs")).select_one(f"#job-{failed.id}")
    assert row.select_one(".status").text == "Failed, will retry"
    assert "unreachable" in row.text

    # Mailman is back; the retry (due after its back-off) subscribes.
    app.extensions[lists.EXTENSION_KEY] = lists.build_list_backend(real)
    failed.next_run_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert run_due_jobs() == 1
    assert failed.state == JobState.SUCCEEDED and failed.attempts == 2
    assert roster(mailman) == {"hedy@example.org"}


def test_a_job_that_retries_late_follows_the_membership_as_it_is_then(
    app, client, people, mailman, closed_port
):
    real = dict(app.config)
    app.extensions[lists.EXTENSION_KEY] = lists.build_list_backend(
        real | {"MAILMAN_URL": f"http://127.0.0.1:{closed_port}"}
    )
    person = join_and_confirm(client, "late@example.org")
    run_due_jobs()  # fails: Mailman is down
    people.sign_in(client, person)
    client.post("/account/leave", data={"reason": "", "confirmed": "1"})
    run_due_jobs()  # the leave's job fails too
    app.extensions[lists.EXTENSION_KEY] = lists.build_list_backend(real)
    for queued in list_jobs():
        queued.next_run_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert run_due_jobs() == 2
    assert roster(mailman) == set()  # left: never subscribed by the late retry


def test_drift_is_found_both_ways_and_each_row_is_repaired_with_one_action(
    client, people, mailman, staff_member
):
    staff = staff_member
    kept_off = people.make("Kim Kept", email="kim@example.org")
    member = people.make("Max Member", email="max@example.org")
    subscribe_directly(mailman, "stranger@example.org")
    subscribe_directly(mailman, "archive@example.org")
    subscribe_directly(mailman, staff.email)
    people.sign_in(client, staff)

    page = html(client.get("/membership/drift"))
    on_list = [td.text for td in page.select("#on-list-not-members td.email")]
    off_list = [td.text for td in page.select("#members-not-on-list td.email")]
    assert on_list == ["archive@example.org", "stranger@example.org"]
    assert off_list == [kept_off.email, member.email]
    row = page.select("#on-list-not-members tbody tr")[1]
    assert [b.text for b in row.select("button")] == [
        "Unsubscribe from the list",
        "Invite to join",
        "Mark as a known exception",
    ]

    def resolve(email, action, reason=""):
        return client.post(
            "/membership/drift/resolve", data={"email": email, "action": action, "reason": reason}
        )

    # A known exception needs a reason.
    refused = resolve("archive@example.org", "exception")
    assert refused.status_code == 422
    assert "Say why" in html(refused).select_one("#on-list-not-members .error").text
    assert resolve("archive@example.org", "exception", "The archiver's address").status_code == 303
    assert resolve("kim@example.org", "exception", "Reads the archives only").status_code == 303
    assert resolve("stranger@example.org", "unsubscribe").status_code == 303
    assert resolve(member.email, "subscribe").status_code == 303
    # An action that does not fit the row is refused.
    assert resolve(member.email, "invite").status_code == 422
    run_due_jobs()

    assert roster(mailman) == {"archive@example.org", staff.email, member.email}
    page = html(client.get("/membership/drift"))
    assert page.select("#on-list-not-members, #members-not-on-list") == []
    kept = [td.text for td in page.select("#list-exceptions td.email")]
    assert kept == ["archive@example.org", "kim@example.org"]
    assert actions().count("membership.list_exception_recorded") == 2
    assert "membership.list_unsubscribed" in actions()
    assert "membership.list_subscribed" in actions()
    # A row already resolved by someone else is a conflict, not a second call.
    assert resolve("stranger@example.org", "unsubscribe").status_code == 409
    # Exceptions are respected by the job: kim stays off even after another sync job.
    lists.follow_membership("kim@example.org")
    db.session.commit()
    run_due_jobs()
    assert "kim@example.org" not in roster(mailman)
    exception = db.session.scalar(
        select(ListException).where(ListException.email == "kim@example.org")
    )
    assert client.post(f"/membership/drift/exceptions/{exception.id}/remove").status_code == 303
    page = html(client.get("/membership/drift"))
    assert [td.text for td in page.select("#members-not-on-list td.email")] == ["kim@example.org"]


@pytest.fixture
def staff_member(people):
    from infrawg.governance.models import Role

    return people.make("Sam Staff", email="sam@example.org", roles=(Role.STAFF,))


def test_staff_invite_a_list_subscriber_who_joins_with_the_email_already_confirmed(
    client, people, mailman, staff_member
):
    subscribe_directly(mailman, "newcomer@example.org")
    people.sign_in(client, staff_member)
    response = client.post(
        "/membership/drift/resolve", data={"email": "newcomer@example.org", "action": "invite"}
    )
    assert response.status_code == 303
    (invitation,) = outbox_to("newcomer@example.org")
    assert invitation.subject == "[Infra-WG] Complete your Infra-WG membership"
    assert "membership.list_invited" in actions()

    visitor = client.application.test_client()
    link = link_in(invitation.body, "/join?invite=")
    form = html(visitor.get(link)).select_one("form#join-form")
    assert form.select_one("input#email")["value"] == "newcomer@example.org"
    assert form.select_one("input#email").has_attr("readonly")
    db.session.add(RosterEntry(email="newcomer@example.org"))
    db.session.commit()
    # A tampered email field changes nothing: the invitation names the address.
    response = visitor.post(
        link, data=JOIN | {"email": "someone-else@example.org"}, follow_redirects=True
    )
    assert html(response).select_one("#membership-status .status").text == "Member"
    person = db.session.scalar(select(Person).where(Person.email == "newcomer@example.org"))
    assert person.email_confirmed_at is not None
    assert len(outbox_to("newcomer@example.org")) == 2  # the invitation and the welcome
    run_due_jobs()
    assert "newcomer@example.org" in roster(mailman)


def test_list_sync_invites_direct_subscribers_asks_unsubscribers_and_tells_staff(
    runner, people, mailman, staff_member
):
    member = people.make("Uma Unsub", email="uma@example.org")
    subscribe_directly(mailman, staff_member.email)
    subscribe_directly(mailman, member.email)
    first = runner.invoke(args=["infrawg", "list", "sync"])
    assert first.exit_code == 0, first.output
    assert "First sync" in first.output
    assert outbox_to("walkin@example.org") == []

    subscribe_directly(mailman, "walkin@example.org")
    # The list's subscription is moderated: this one waits for a moderator.
    mailman.call(
        "POST",
        "members",
        data={
            "list_id": mailman.list_id,
            "subscriber": "held@example.org",
            "pre_verified": "True",
            "pre_confirmed": "True",
        },
    )
    assert "held@example.org" not in roster(mailman)
    mailman.call("DELETE", f"lists/{mailman.list_id}/member/{member.email}")
    result = runner.invoke(args=["infrawg", "list", "sync"])
    assert result.exit_code == 0, result.output
    assert "invited 2, asked 1" in result.output
    assert "/join?invite=" in outbox_to("held@example.org")[0].body
    (invitation,) = outbox_to("walkin@example.org")
    assert "/join?invite=" in invitation.body
    (asked,) = outbox_to(member.email)
    assert asked.subject == "[Infra-WG] Did you mean to leave the Infra-WG?"
    report = outbox_to(staff_member.email)[-1]
    assert report.subject == "[Infra-WG] Mailing list drift: 2 new"
    assert "walkin@example.org" in report.body and member.email in report.body

    # Nothing new: nobody is mailed twice.
    again = runner.invoke(args=["infrawg", "list", "sync"])
    assert "invited 0, asked 0" in again.output and "0 new drift rows" in again.output
    assert len(outbox_to("walkin@example.org")) == 1
    assert len(outbox_to(staff_member.email)) == 1


def test_drift_page_and_sync_say_when_mailman_is_unreachable(
    app, client, runner, people, staff_member, closed_port
):
    app.extensions[lists.EXTENSION_KEY] = lists.build_list_backend(
        dict(app.config) | {"MAILMAN_URL": f"http://127.0.0.1:{closed_port}"}
    )
    with pytest.raises(ListUnavailable):
        list_backend().members()
    people.sign_in(client, staff_member)
    response = client.get("/membership/drift")
    assert response.status_code == 503
    assert "unreachable" in html(response).select_one("#drift-error").text
    result = runner.invoke(args=["infrawg", "list", "sync"])
    assert result.exit_code == 1 and "nothing changed" in result.output
