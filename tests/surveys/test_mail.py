"""Invitations and reminders: to the whole audience, once each, with one-click unsubscribe."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from infrawg.extensions import db
from infrawg.surveys.models import Audience, MailKind, ReminderOptOut, SentMail
from tests.conftest import html, link_in, outbox_to
from tests.surveys.factories import make_survey, member_form, organisation


def subjects(address: str) -> list[str]:
    return [m.subject for m in outbox_to(address)]


def test_r15_opening_invites_the_audience_once_whatever_runs_again(
    app, client, people, chair, applicant, send_due
):
    member = people.make("Mia")
    tenant = people.make("Tess")
    organisation("Packaging WG", tenant)
    survey = make_survey(chair, Audience.BOTH, reminder_days=3)
    send_due()
    send_due()  # cron runs again, and maybe the job too: nobody gets a second copy
    title = f"[Infra-WG] Survey: {survey.title}"
    assert subjects(member.email) == [title]
    assert subjects(chair.email) == [title]
    (invitation,) = outbox_to(tenant.email)
    assert "/answer/packaging-wg" in invitation.body and "Answer as a member" in invitation.body
    assert outbox_to(applicant.email) == []  # not a member yet
    ledger = db.session.scalars(
        select(SentMail.address).where(
            SentMail.kind == MailKind.INVITATION, SentMail.subject_id == survey.id
        )
    ).all()
    assert sorted(ledger) == sorted({chair.email, member.email, tenant.email})
    # The invitation link leads to the survey.
    link = link_in(invitation.body, f"/surveys/{survey.id}/invited/")
    assert html(client.get(link)).select_one("h1").text == survey.title


def test_r15_reminder_goes_to_those_who_have_not_answered_and_stops_in_one_click(
    app, client, people, chair, runner
):
    answered = people.make("Answered")
    waiting = people.make("Waiting")
    quiet = people.make("Quiet")
    survey = make_survey(chair, Audience.MEMBERS, reminder_days=3)
    people.sign_in(app.test_client(), answered).post(
        f"/surveys/{survey.id}/answer", data=member_form(survey)
    )

    def send_on(day):
        result = runner.invoke(args=["infrawg", "surveys", "send", "--on", day.isoformat()])
        assert result.exit_code == 0, result.output
        return result.output

    early = survey.closes_on - timedelta(days=5)
    assert "0 reminders" in send_on(early)  # not due yet
    (invitation,) = outbox_to(quiet.email)
    # Quiet stops reminders with one click on the link of the mail.
    stop = link_in(invitation.body, "/surveys/reminders-off/")
    page = client.get(stop)
    assert page.status_code == 200
    assert "no more reminders" in html(page).select_one("#reminders-state").text
    assert client.get(stop).status_code == 200  # clicking twice is harmless
    assert db.session.get(ReminderOptOut, (survey.id, quiet.id)) is not None

    due = survey.closes_on - timedelta(days=2)
    output = send_on(due)
    send_on(due)
    reminder = f"[Infra-WG] Reminder: {survey.title} closes on {survey.closes_on.isoformat()}"
    assert subjects(waiting.email)[-1] == reminder
    assert subjects(waiting.email).count(reminder) == 1
    assert reminder not in subjects(answered.email)
    assert reminder not in subjects(quiet.email)
    assert "reminders" in output
    # A tampered unsubscribe link changes nothing.
    assert client.get(stop[:-2] + "xx").status_code == 400


def test_r15_no_invitation_goes_to_someone_who_has_already_answered(app, people, chair, send_due):
    early = people.make("Early Bird")
    later = people.make("Later")
    survey = make_survey(chair, Audience.MEMBERS)
    # Early answers from the survey list before the mail job has run.
    answered = people.sign_in(app.test_client(), early).post(
        f"/surveys/{survey.id}/answer", data=member_form(survey)
    )
    assert answered.status_code == 303
    send_due()
    title = f"[Infra-WG] Survey: {survey.title}"
    assert subjects(early.email) == []
    assert subjects(later.email) == [title]
