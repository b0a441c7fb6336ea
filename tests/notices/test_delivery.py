"""Mail is never lost: stored with the act that causes it, delivered by a job that retries
while the relay is down, visible to staff until it is delivered (real aiosmtpd relay)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from infrawg.errors import Invalid
from infrawg.extensions import db
from infrawg.jobs.models import Job, JobState
from infrawg.jobs.runner import run_due_jobs
from infrawg.membership.models import Person
from infrawg.notices.mail import DELIVER, send_mail
from infrawg.notices.models import MailState, OutboxMail
from infrawg.timeutil import utcnow
from tests.conftest import PASSWORD, html, link_in
from tests.queries import count
from tests.servers.ports import free_port
from tests.servers.smtp import MailSink

JOIN = {
    "name": "Grace Hopper",
    "email": "grace@example.org",
    "password": PASSWORD,
    "foundation_member": "y",
}


class Relay:
    """An aiosmtpd relay of this test's own, on a fixed port, that can go down and come back."""

    def __init__(self) -> None:
        self.port = free_port()
        self.sink = MailSink()
        self.controller: Controller | None = None

    def start(self) -> MailSink:
        self.controller = Controller(self.sink, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self.sink

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def relay() -> Iterator[Relay]:
    relay = Relay()
    yield relay
    relay.stop()


@pytest.fixture
def app_config(relay):
    return {"MAIL_BACKEND": "smtp", "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": relay.port}


def mail_to(address: str) -> list[OutboxMail]:
    return list(
        db.session.scalars(
            select(OutboxMail)
            .where(OutboxMail.recipients.contains(address))
            .order_by(OutboxMail.id)
        )
    )


def make_due(mail: OutboxMail) -> None:
    job = db.session.get(Job, mail.job_id)
    job.next_run_at = utcnow() - timedelta(seconds=1)
    db.session.commit()


def test_mail_survives_smtp_outage(client, relay):
    # The relay is down: joining still succeeds, and its mail waits in the database.
    response = client.post("/join", data=JOIN)
    assert response.status_code == 200
    assert html(response).select_one(".status").text == "Awaiting email confirmation"
    (mail,) = mail_to("grace@example.org")
    assert mail.state == MailState.PENDING
    job = db.session.get(Job, mail.job_id)
    assert (job.kind, job.state, job.attempts) == (DELIVER, JobState.FAILED, 1)
    assert "Connection refused" in job.last_error
    assert timedelta(seconds=25) < job.next_run_at - utcnow() <= timedelta(seconds=31)

    # The relay comes back: the job's next attempt delivers, and the link in it works.
    server = relay.start()
    make_due(mail)
    assert run_due_jobs() == 1
    received = server.wait_for("grace@example.org")
    assert received.subject == "[Infra-WG] Confirm your email"
    db.session.refresh(mail)
    assert mail.state == MailState.SENT and mail.sent_at is not None
    assert db.session.get(Job, mail.job_id).state == JobState.SUCCEEDED
    confirm = client.post(link_in(received.body, "/join/confirm/"), follow_redirects=True)
    assert confirm.status_code == 200
    # Delivered once: another run finds nothing to send.
    assert run_due_jobs() == 0
    assert len(server.to("grace@example.org")) == 1


def test_with_the_relay_up_mail_leaves_at_once_after_the_commit(client, relay):
    server = relay.start()
    client.post("/join", data=JOIN)
    assert server.wait_for("grace@example.org").subject == "[Infra-WG] Confirm your email"
    (mail,) = mail_to("grace@example.org")
    assert mail.state == MailState.SENT


def test_without_send_at_once_only_the_job_runner_sends(app, client, relay):
    app.config.update(MAIL_SEND_AT_ONCE=False)
    server = relay.start()
    client.post("/join", data=JOIN)
    (mail,) = mail_to("grace@example.org")
    assert mail.state == MailState.PENDING
    assert db.session.get(Job, mail.job_id).attempts == 0
    assert server.to("grace@example.org") == []
    assert run_due_jobs() == 1
    assert server.wait_for("grace@example.org").subject == "[Infra-WG] Confirm your email"


def test_password_reset_and_invitation_keep_their_mail_while_the_relay_is_down(
    app, client, people, member, tenant_member, relay
):
    assert client.post("/signin/reset", data={"email": member.email}).status_code == 200
    inviter = people.sign_in(app.test_client(), tenant_member)
    invited = inviter.post(
        "/organisations/tenant-fixture-wg/invite", data={"email": "newcomer@example.org"}
    )
    assert invited.status_code == 303
    reset, invitation = mail_to(member.email)[-1], mail_to("newcomer@example.org")[-1]
    assert reset.state == invitation.state == MailState.PENDING

    server = relay.start()
    make_due(reset)
    make_due(invitation)
    assert run_due_jobs() == 2
    assert "/signin/reset/" in server.wait_for(member.email).body
    assert "/invitations/" in server.wait_for("newcomer@example.org").body


def test_a_mail_whose_relay_never_answers_fails_after_the_timeout_and_is_retried(app, client):
    # A relay that accepts the connection and never says hello (a hung server).
    hung = socket.socket()
    hung.bind(("127.0.0.1", 0))
    hung.listen(8)
    app.config.update(MAIL_PORT=hung.getsockname()[1], MAIL_TIMEOUT=1)
    try:
        started = time.monotonic()
        assert client.post("/join", data=JOIN).status_code == 200
        assert time.monotonic() - started < 8
    finally:
        hung.close()
    (mail,) = mail_to("grace@example.org")
    job = db.session.get(Job, mail.job_id)
    assert mail.state == MailState.PENDING and job.state == JobState.FAILED
    assert "timed out" in job.last_error


def test_a_mail_that_runs_out_of_attempts_waits_for_staff_who_send_it_again(
    app, client, people, staff, member, relay
):
    client.post("/join", data=JOIN)
    (mail,) = mail_to("grace@example.org")
    job = db.session.get(Job, mail.job_id)
    job.attempts = job.max_attempts - 1
    db.session.commit()
    make_due(mail)
    run_due_jobs()
    db.session.refresh(mail)
    assert mail.state == MailState.FAILED
    assert db.session.get(Job, mail.job_id).state == JobState.DEAD

    # Staff see it with its attempts and last error; a member may not.
    outsider = people.sign_in(app.test_client(), member)
    assert outsider.get("/staff/mail").status_code == 403
    assert outsider.post(f"/staff/mail/{mail.id}/retry").status_code == 403
    desk = people.sign_in(app.test_client(), staff)
    row = html(desk.get("/staff/mail")).select_one(f"#mail-{mail.id}")
    assert row.select_one(".status").text == "Not delivered"
    assert row.select_one(".attempts").text == f"{job.max_attempts} of {job.max_attempts}"
    assert "Connection refused" in row.select_one(".error").text

    # The relay is back; "send now" delivers it within the request.
    server = relay.start()
    assert desk.post(f"/staff/mail/{mail.id}/retry").status_code == 303
    assert server.wait_for("grace@example.org").subject == "[Infra-WG] Confirm your email"
    db.session.refresh(mail)
    assert mail.state == MailState.SENT
    page = html(desk.get("/staff/mail"))
    assert page.select_one(f"#mail-{mail.id}") is None
    assert page.select_one(".empty").text == "Every mail has been delivered to the relay."


def test_a_line_break_in_a_name_is_refused_on_the_join_form_and_nothing_is_stored(client):
    before = count(Person)
    response = client.post("/join", data=JOIN | {"name": "Eve\r\nBcc: victim@example.org"})
    assert response.status_code == 422
    error = html(response).select_one("form#join-form .error")
    assert error.text.strip() == "Your name must be on one line: no line breaks."
    assert count(Person) == before
    assert mail_to("grace@example.org") == []


def test_a_line_break_in_a_new_profile_name_is_refused(client, people, member):
    people.sign_in(client, member)
    response = client.post("/account/profile", data={"name": "Mia\nSubject: spoofed"})
    assert response.status_code == 422
    assert "must be on one line" in html(response).text
    db.session.refresh(member)
    assert member.name == "Mia Member"


def test_a_subject_with_a_line_break_is_refused_before_anything_is_stored(app, member):
    with pytest.raises(Invalid, match="line breaks cannot go into mail"):
        send_mail(member.email, "Hello\nBcc: everyone@example.org", "welcome", person=member)
    assert count(OutboxMail) == 0
