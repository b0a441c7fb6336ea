"""The survey's mail (R15): invitations, reminders and goal announcements, and the one
ledger that keeps anyone from getting the same mail twice.

Nothing here imports the other survey modules, so building and goals can call it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from flask import current_app
from sqlalchemy import select

from infrawg import audit
from infrawg.actions import Action
from infrawg.errors import Invalid
from infrawg.extensions import db
from infrawg.membership.models import MembershipStatus, Person
from infrawg.notices.mail import send_mail
from infrawg.surveys.models import (
    Goal,
    GoalPublication,
    MailKind,
    ReminderOptOut,
    Response,
    Section,
    SentMail,
    Survey,
    SurveyParticipant,
    SurveyState,
)
from infrawg.tenants.models import OrganisationStatus, TenantOrganisation
from infrawg.timeutil import today
from infrawg.tokens import make_token, read_token
from infrawg.web import external_url

SEND_JOB = "surveys.send"  # registered (and scheduled) in surveys/jobs.py
INVITATION = "survey-invitation"
REMINDERS_OFF = "survey-reminders-off"
# Invitation and unsubscribe links stay valid for as long as a survey can run.
LINK_MAX_AGE = 400 * 24 * 3600


# Which surveys send mail ------------------------------------------------------------------


def open_surveys() -> list[Survey]:
    day = today()
    return list(
        db.session.scalars(
            select(Survey)
            .where(
                Survey.opened_at.is_not(None),
                Survey.closed_at.is_(None),
                Survey.closes_on >= day,
            )
            .order_by(Survey.closes_on)
        )
    )


# Invitations, reminders and their ledger --------------------------------------------------


def invitation_token(survey: Survey, person: Person) -> str:
    return make_token(INVITATION, {"s": survey.id, "p": person.id})


def read_invitation(survey_id: int, token: str) -> Person:
    """The invited person; Invalid when the link was tampered with or is for another survey."""
    payload = read_token(INVITATION, token, max_age=LINK_MAX_AGE)
    person = db.session.get(Person, payload.get("p")) if isinstance(payload.get("p"), int) else None
    if payload.get("s") != survey_id or person is None:
        raise Invalid("This invitation link is not valid. Check that you copied all of it.")
    return person


def reminders_off_token(survey: Survey, person: Person) -> str:
    return make_token(REMINDERS_OFF, {"s": survey.id, "p": person.id})


def _read_reminders_token(token: str) -> tuple[Survey, Person]:
    payload = read_token(REMINDERS_OFF, token, max_age=LINK_MAX_AGE)
    survey_id, person_id = payload.get("s"), payload.get("p")
    survey = db.session.get(Survey, survey_id) if isinstance(survey_id, int) else None
    person = db.session.get(Person, person_id) if isinstance(person_id, int) else None
    if survey is None or person is None:
        raise Invalid("This link is not valid. Check that you copied all of it.")
    return survey, person


def stop_reminders(token: str) -> Survey:
    """One click from the mail: no more reminders of this survey for the link's person."""
    survey, person = _read_reminders_token(token)
    if db.session.get(ReminderOptOut, (survey.id, person.id)) is None:
        db.session.add(ReminderOptOut(survey_id=survey.id, person_id=person.id))
        audit.record(person, Action.SURVEY_REMINDERS_STOPPED, survey)
    return survey


def restart_reminders(token: str) -> Survey:
    survey, person = _read_reminders_token(token)
    opt_out = db.session.get(ReminderOptOut, (survey.id, person.id))
    if opt_out is not None:
        db.session.delete(opt_out)
        audit.record(person, Action.SURVEY_REMINDERS_RESTARTED, survey)
    return survey


@dataclass
class Recipient:
    person: Person
    member: bool = False  # invited to the member section
    organisations: list[TenantOrganisation] = field(default_factory=list)


def audience_of(survey: Survey) -> dict[str, Recipient]:
    """Everyone the survey invites, by address: members, and tenant members (R5 contacts)."""
    from infrawg.tenants.service import contacts_for

    recipients: dict[str, Recipient] = {}
    if Section.MEMBERS in survey.audience.sections:
        for person in db.session.scalars(
            select(Person).where(Person.status == MembershipStatus.MEMBER).order_by(Person.id)
        ):
            recipients[person.email] = Recipient(person, member=True)
    if Section.TENANTS in survey.audience.sections:
        for organisation in audience_organisations():
            for person in contacts_for(organisation):
                recipients.setdefault(person.email, Recipient(person)).organisations.append(
                    organisation
                )
    return recipients


def audience_organisations() -> list[TenantOrganisation]:
    return list(
        db.session.scalars(
            select(TenantOrganisation)
            .where(TenantOrganisation.status == OrganisationStatus.APPROVED)
            .order_by(TenantOrganisation.name)
        )
    )


def _still_to_answer(
    survey: Survey, recipients: dict[str, Recipient], *, reminders: bool = True
) -> dict[str, Recipient]:
    """The recipients with a part of the survey left to answer (their member section, an
    organisation's sheet); for ``reminders``, without those who stopped them."""
    answered_people = set(
        db.session.scalars(
            select(SurveyParticipant.person_id).where(SurveyParticipant.survey_id == survey.id)
        )
    )
    answered_orgs = set(
        db.session.scalars(
            select(Response.organisation_id).where(
                Response.survey_id == survey.id, Response.organisation_id.is_not(None)
            )
        )
    )
    opted_out = set()
    if reminders:
        opted_out = set(
            db.session.scalars(
                select(ReminderOptOut.person_id).where(ReminderOptOut.survey_id == survey.id)
            )
        )
    waiting: dict[str, Recipient] = {}
    for address, recipient in recipients.items():
        if recipient.person.id in opted_out:
            continue
        member = recipient.member and recipient.person.id not in answered_people
        organisations = [o for o in recipient.organisations if o.id not in answered_orgs]
        if member or organisations:
            waiting[address] = Recipient(recipient.person, member, organisations)
    return waiting


def _ledger(kind: MailKind, subject_id: int) -> set[str]:
    return set(
        db.session.scalars(
            select(SentMail.address).where(SentMail.kind == kind, SentMail.subject_id == subject_id)
        )
    )


def _send_once(kind: MailKind, subject_id: int, address: str, send) -> bool:
    """Send through ``send()`` unless the ledger has this mail; the ledger row comes first."""
    db.session.add(SentMail(kind=kind, subject_id=subject_id, address=address))
    send()
    return True


def _survey_mail(survey: Survey, kind: MailKind, recipients: dict[str, Recipient]) -> int:
    sent = _ledger(kind, survey.id)
    count = 0
    for address, recipient in recipients.items():
        if address in sent:
            continue  # a person never gets the same mail twice
        person = recipient.person
        context = {
            "survey": survey,
            "person": person,
            "member_link": external_url(
                "surveys.invited", survey_id=survey.id, token=invitation_token(survey, person)
            )
            if recipient.member
            else None,
            "organisations": [
                (o, external_url("surveys.answer_tenant", survey_id=survey.id, slug=o.slug))
                for o in recipient.organisations
            ],
            "stop_link": external_url(
                "surveys.reminders_off", token=reminders_off_token(survey, person)
            ),
        }
        if kind == MailKind.INVITATION:
            subject, template = f"Survey: {survey.title}", "survey_invitation"
        else:
            subject = f"Reminder: {survey.title} closes on {survey.closes_on.isoformat()}"
            template = "survey_reminder"
        count += _send_once(
            kind,
            survey.id,
            address,
            lambda a=address, s=subject, t=template, c=context: send_mail(a, s, t, **c),
        )
    return count


def send_announcements() -> int:
    """Announcement mail for every goal publication not yet announced (idempotent, ledgered).

    Each member gets their own message (addresses are not shown to one another), and the
    foundation's announcement address one more.
    """
    count = 0
    announce = current_app.config.get("ANNOUNCE_ADDRESS")
    publications = list(db.session.scalars(select(GoalPublication).order_by(GoalPublication.id)))
    if not publications:
        return 0
    members = list(
        db.session.scalars(
            select(Person.email).where(Person.status == MembershipStatus.MEMBER).order_by(Person.id)
        )
    )
    for publication in publications:
        sent = _ledger(MailKind.GOALS, publication.id)
        addresses = [a for a in [*members, announce] if a and a not in sent]
        if not addresses:
            continue
        goals = list(
            db.session.scalars(
                select(Goal).where(Goal.publication_id == publication.id).order_by(Goal.id)
            )
        )
        subject = f"The Infra-WG's goals for {publication.year}"
        context = {
            "publication": publication,
            "goals": goals,
            "link": external_url("surveys.goals_year", year=publication.year),
            "feed": external_url("surveys.goals_feed", year=publication.year),
        }
        for address in dict.fromkeys(addresses):
            count += _send_once(
                MailKind.GOALS,
                publication.id,
                address,
                lambda a=address, s=subject, c=context: send_mail(a, s, "goals_published", **c),
            )
    return count


@dataclass
class SendReport:
    invitations: int = 0
    reminders: int = 0
    announcements: int = 0

    @property
    def total(self) -> int:
        return self.invitations + self.reminders + self.announcements


def send_survey_mail(survey: Survey, on: date | None = None) -> SendReport:
    """Invitations not yet sent, and reminders once due, for one open survey (idempotent)."""
    on = on or today()
    report = SendReport()
    if survey.state_on(on) != SurveyState.OPEN:
        return report
    recipients = audience_of(survey)
    # An invitation never goes to someone who has already answered (from the survey list,
    # before the job ran), nor offers a sheet their organisation has already sent.
    report.invitations = _survey_mail(
        survey, MailKind.INVITATION, _still_to_answer(survey, recipients, reminders=False)
    )
    if survey.reminder_days and on >= survey.closes_on - timedelta(days=survey.reminder_days):
        # Nobody gets a reminder in the same run as their invitation.
        invited_now = _ledger(MailKind.INVITATION, survey.id)
        waiting = {
            a: r for a, r in _still_to_answer(survey, recipients).items() if a in invited_now
        }
        report.reminders = _survey_mail(survey, MailKind.REMINDER, waiting)
    return report


def send_due_mail(on: date | None = None) -> SendReport:
    """Everything due: survey invitations and reminders, goal announcements. Idempotent:
    the ledger (unique per kind, subject and address) keeps anyone from getting a mail twice.
    The caller commits; the SMTP backend sends only after that commit.
    """
    report = SendReport()
    for survey in open_surveys():
        part = send_survey_mail(survey, on)
        report.invitations += part.invitations
        report.reminders += part.reminders
    report.announcements = send_announcements()
    return report


def dispatch_mail(survey: Survey | None = None) -> int:
    """Send what an act made due: the `surveys.send` job, after the act commits (it also runs
    every hour on its schedule). Returns how many mails went out now: 0, the job sends them.
    """
    from infrawg.jobs.runner import enqueue

    enqueue(SEND_JOB)
    return 0
