"""The annual survey (R15): building it, answering it, inviting and reminding its audience.

Results live in ``results.py``, goals in ``goals.py``, milestones in ``milestones.py``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from infrawg import audit, policy
from infrawg.errors import Conflict, Invalid, NotAllowed, NotFound
from infrawg.extensions import db
from infrawg.governance.models import Role
from infrawg.membership.models import MembershipStatus, Person
from infrawg.notices.mail import send_mail
from infrawg.policy import Permission
from infrawg.surveys.models import (
    Answer,
    Audience,
    Goal,
    GoalPublication,
    MailKind,
    Question,
    QuestionKind,
    ReminderOptOut,
    Response,
    Section,
    SentMail,
    Survey,
    SurveyDraft,
    SurveyManager,
    SurveyParticipant,
    SurveyState,
)
from infrawg.tenants.models import OrganisationStatus, TenantMember, TenantOrganisation
from infrawg.timeutil import utcnow
from infrawg.tokens import make_token, read_token
from infrawg.web import external_url

SEND_JOB = "surveys.send"  # registered in surveys/jobs.py
INVITATION = "survey-invitation"
REMINDERS_OFF = "survey-reminders-off"
# Invitation and unsubscribe links stay valid for as long as a survey can run.
LINK_MAX_AGE = 400 * 24 * 3600
MAX_TEXT = 5000
MAX_OPTIONS = 20
RATINGS = range(1, 6)


def today() -> date:
    return utcnow().date()


# Who may manage ---------------------------------------------------------------------------


def can_manage(person: Person | None, survey: Survey) -> bool:
    """The chair, or a staff member the chair delegated this survey to."""
    return policy.can(person, Permission.SURVEY_MANAGE, survey)


def is_delegate(person: Person, survey: Survey) -> bool:
    return db.session.get(SurveyManager, (survey.id, person.id)) is not None


def require_manage(actor: Person, survey: Survey) -> None:
    """NotAllowed unless ``actor`` may manage ``survey``."""
    if not can_manage(actor, survey):
        raise NotAllowed(
            "Only the chair, or staff the chair delegated this survey to, may do that."
        )


def _require_draft(survey: Survey) -> None:
    if survey.state != SurveyState.DRAFT:
        raise Conflict("The survey is already open: its questions can no longer change.")


# Reading ----------------------------------------------------------------------------------


def surveys_for(person: Person):
    """Surveys a person may list: every one for survey managers, opened ones for members."""
    stmt = select(Survey).order_by(Survey.year.desc(), Survey.id.desc())
    if policy.can(person, Permission.SURVEY_CREATE):
        return stmt
    delegated = select(SurveyManager.survey_id).where(SurveyManager.person_id == person.id)
    return stmt.where(Survey.opened_at.is_not(None) | Survey.id.in_(delegated))


def get_survey(survey_id: int, person: Person | None = None) -> Survey:
    """The survey; a draft is only found by those who manage it."""
    survey = db.session.get(Survey, survey_id)
    if survey is None or (
        person is not None and survey.opened_at is None and not can_manage(person, survey)
    ):
        raise NotFound("There is no such survey.")
    return survey


def get_question(survey: Survey, question_id: int) -> Question:
    question = db.session.get(Question, question_id)
    if question is None or question.survey_id != survey.id:
        raise NotFound("There is no such question in this survey.")
    return question


def questions_of(survey: Survey, section: Section | None = None) -> list[Question]:
    stmt = select(Question).where(Question.survey_id == survey.id)
    if section is not None:
        stmt = stmt.where(Question.section == section)
    return list(db.session.scalars(stmt.order_by(Question.section, Question.position)))


def managers_of(survey: Survey) -> list[Person]:
    return list(
        db.session.scalars(
            select(Person)
            .join(SurveyManager, SurveyManager.person_id == Person.id)
            .where(SurveyManager.survey_id == survey.id)
            .order_by(Person.name)
        )
    )


def staff_people() -> list[Person]:
    from infrawg.membership.service import people_with_roles

    return sorted(people_with_roles({Role.STAFF}), key=lambda p: p.name)


# Building ---------------------------------------------------------------------------------


@dataclass
class SurveyInput:
    title: str
    year: int
    intro: str
    audience: Audience
    anonymous: bool
    opens_on: date
    closes_on: date
    reminder_days: int | None = None


def _check_survey_input(data: SurveyInput) -> None:
    if not data.title.strip():
        raise Invalid("Give the survey a title.")
    if not 2000 <= data.year <= 2100:
        raise Invalid("The year must be between 2000 and 2100.")
    if data.closes_on <= data.opens_on:
        raise Invalid("The survey must close after it opens.")
    if data.reminder_days is not None and not 1 <= data.reminder_days <= 60:
        raise Invalid("Send the reminder between 1 and 60 days before closing.")


def create_survey(actor: Person, data: SurveyInput) -> Survey:
    """R15: the chair starts the year's survey (as a draft, with no questions yet)."""
    policy.require(actor, Permission.SURVEY_CREATE)
    _check_survey_input(data)
    survey = Survey(
        title=data.title.strip(),
        year=data.year,
        intro=data.intro.strip(),
        audience=data.audience,
        anonymous=data.anonymous,
        opens_on=data.opens_on,
        closes_on=data.closes_on,
        reminder_days=data.reminder_days,
        created_by_id=actor.id,
    )
    db.session.add(survey)
    db.session.flush()
    audit.record(actor, "survey.created", survey)
    return survey


def update_survey(actor: Person, survey: Survey, data: SurveyInput) -> None:
    """Change the survey's settings; the audience and anonymity only while it is a draft."""
    require_manage(actor, survey)
    _check_survey_input(data)
    if survey.state != SurveyState.DRAFT and (
        data.audience != survey.audience or data.anonymous != survey.anonymous
    ):
        raise Conflict("The audience and anonymity cannot change once the survey is open.")
    survey.title = data.title.strip()
    survey.year = data.year
    survey.intro = data.intro.strip()
    survey.audience = data.audience
    survey.anonymous = data.anonymous
    survey.opens_on = data.opens_on
    survey.closes_on = data.closes_on
    survey.reminder_days = data.reminder_days
    audit.record(actor, "survey.updated", survey)


def copy_survey(actor: Person, source: Survey) -> Survey:
    """A new draft for the next year with the questions of ``source``, dates moved a year."""
    policy.require(actor, Permission.SURVEY_CREATE)

    def next_year(day: date) -> date:
        return day.replace(year=day.year + 1, day=min(day.day, 28))

    survey = create_survey(
        actor,
        SurveyInput(
            title=source.title.replace(str(source.year), str(source.year + 1)),
            year=source.year + 1,
            intro=source.intro,
            audience=source.audience,
            anonymous=source.anonymous,
            opens_on=next_year(source.opens_on),
            closes_on=next_year(source.closes_on),
            reminder_days=source.reminder_days,
        ),
    )
    survey.copied_from_id = source.id
    for question in questions_of(source):
        db.session.add(
            Question(
                survey_id=survey.id,
                section=question.section,
                position=question.position,
                kind=question.kind,
                prompt=question.prompt,
                options_text=question.options_text,
                required=question.required,
            )
        )
    audit.record(actor, "survey.copied", survey, f"from survey #{source.id}")
    return survey


def _clean_options(kind: QuestionKind, options_text: str) -> str:
    options = [line.strip() for line in (options_text or "").splitlines() if line.strip()]
    if not kind.has_options:
        return ""
    if len(options) < 2:
        raise Invalid("Give at least two options, one per line.")
    if len(options) > MAX_OPTIONS:
        raise Invalid(f"Give at most {MAX_OPTIONS} options.")
    if len({o.casefold() for o in options}) != len(options):
        raise Invalid("Each option must differ from the others.")
    return "\n".join(options)


def add_question(
    actor: Person,
    survey: Survey,
    section: Section,
    kind: QuestionKind,
    prompt: str,
    options_text: str = "",
    required: bool = False,
) -> Question:
    """Add a question at the end of its section; only while the survey is a draft."""
    require_manage(actor, survey)
    _require_draft(survey)
    if section not in survey.audience.sections:
        raise Invalid(f"This survey has no {section.label.lower()} section.")
    if not prompt.strip():
        raise Invalid("Write the question.")
    last = db.session.scalar(
        select(func.max(Question.position)).where(Question.survey_id == survey.id)
    )
    question = Question(
        survey_id=survey.id,
        section=section,
        position=(last or 0) + 1,
        kind=kind,
        prompt=prompt.strip(),
        options_text=_clean_options(kind, options_text),
        required=required,
    )
    db.session.add(question)
    db.session.flush()
    audit.record(actor, "survey.question_added", question)
    return question


def update_question(
    actor: Person,
    question: Question,
    kind: QuestionKind,
    prompt: str,
    options_text: str,
    required: bool,
) -> None:
    survey = db.session.get(Survey, question.survey_id)
    require_manage(actor, survey)
    _require_draft(survey)
    if not prompt.strip():
        raise Invalid("Write the question.")
    question.kind = kind
    question.prompt = prompt.strip()
    question.options_text = _clean_options(kind, options_text)
    question.required = required
    audit.record(actor, "survey.question_updated", question)


def remove_question(actor: Person, question: Question) -> None:
    survey = db.session.get(Survey, question.survey_id)
    require_manage(actor, survey)
    _require_draft(survey)
    audit.record(actor, "survey.question_removed", question, question.prompt)
    db.session.delete(question)


def move_question(actor: Person, question: Question, direction: int) -> None:
    """Swap a question with its neighbour above (-1) or below (+1) in its section."""
    survey = db.session.get(Survey, question.survey_id)
    require_manage(actor, survey)
    _require_draft(survey)
    if direction not in (-1, 1):
        raise Invalid("Move a question up or down.")
    order = Question.position.desc() if direction < 0 else Question.position
    compare = Question.position < question.position
    if direction > 0:
        compare = Question.position > question.position
    neighbour = db.session.scalar(
        select(Question)
        .where(Question.survey_id == survey.id, Question.section == question.section, compare)
        .order_by(order)
        .limit(1)
    )
    if neighbour is None:
        return  # already first (or last): nothing to do
    question.position, neighbour.position = neighbour.position, question.position
    audit.record(actor, "survey.question_moved", question, "up" if direction < 0 else "down")


def delegate(actor: Person, survey: Survey, person: Person) -> None:
    """The chair delegates a survey to a staff member."""
    policy.require(actor, Permission.SURVEY_CREATE)
    if Role.STAFF not in policy.roles_of(person):
        raise Invalid("Only staff can be delegated a survey.")
    if is_delegate(person, survey):
        raise Conflict(f"{person.name} already manages this survey.")
    db.session.add(SurveyManager(survey_id=survey.id, person_id=person.id))
    audit.record(actor, "survey.delegated", survey, f"to {person.audit_label}")


def open_survey(actor: Person, survey: Survey) -> int:
    """Open the survey and invite its whole audience; returns the number of invitations."""
    require_manage(actor, survey)
    if survey.opened_at is not None:
        raise Conflict("The survey is already open.")
    if not questions_of(survey):
        raise Invalid("Add at least one question before opening the survey.")
    if survey.closes_on < today():
        raise Invalid("The closing date has passed: move it before opening the survey.")
    survey.opened_at = utcnow()
    audit.record(actor, "survey.opened", survey)
    return dispatch_mail(survey)


def close_survey(actor: Person, survey: Survey) -> None:
    """Close the survey now (it also closes by itself after its closing date)."""
    require_manage(actor, survey)
    if survey.state != SurveyState.OPEN:
        raise Conflict(f"Only an open survey can be closed; this one is {survey.state.label}.")
    survey.closed_at = utcnow()
    # Drafts never submitted are not responses; nothing should keep them.
    db.session.execute(delete(SurveyDraft).where(SurveyDraft.survey_id == survey.id))
    audit.record(actor, "survey.closed", survey)


# Answering --------------------------------------------------------------------------------


class AnswerErrors(Invalid):
    """Answers refused, with a message per question id."""

    def __init__(self, errors: dict[int, str]) -> None:
        super().__init__("Some answers need your attention: " + " ".join(errors.values()))
        self.errors = errors


Answers = dict[int, list[Any]]


def parse_answers(
    questions: list[Question], form: Mapping[str, Any], complete: bool = True
) -> Answers:
    """Read the answers from a form (``q<id>``, ``q<id>-rank-<option>``), refusing bad ones.

    With ``complete`` (a submission) required questions must be answered and a rank must
    order every option; a draft may leave them for later. Values are always checked.
    """
    errors: dict[int, str] = {}
    answers: Answers = {}
    for question in questions:
        key = f"q{question.id}"
        try:
            value = _parse_one(question, form, key)
        except Invalid as error:
            errors[question.id] = error.message
            continue
        if not value:
            if complete and question.required:
                errors[question.id] = f"“{question.prompt}” needs an answer."
            continue
        if complete and question.kind == QuestionKind.RANK and len(value) != len(question.options):
            errors[question.id] = "Rank every option, or none."
            continue
        answers[question.id] = value
    if errors:
        raise AnswerErrors(errors)
    return answers


def answers_as_typed(questions: list[Question], form: Mapping[str, Any]) -> Answers:
    """What a person typed, keeping each valid answer, to show back on a refused sheet."""
    typed: Answers = {}
    for question in questions:
        try:
            value = _parse_one(question, form, f"q{question.id}")
        except Invalid:
            continue
        if value:
            typed[question.id] = value
    return typed


def _getlist(form: Mapping[str, Any], key: str) -> list[str]:
    if hasattr(form, "getlist"):
        return [v for v in form.getlist(key) if str(v).strip() != ""]
    value = form.get(key)
    if value is None or value == "":
        return []
    return [str(v) for v in value] if isinstance(value, list | tuple) else [str(value)]


def _option_index(question: Question, raw: str) -> int:
    try:
        index = int(raw)
    except (TypeError, ValueError):
        raise Invalid("Choose one of the options given.") from None
    if not 0 <= index < len(question.options):
        raise Invalid("Choose one of the options given.")
    return index


def _parse_one(question: Question, form: Mapping[str, Any], key: str) -> list[Any]:
    kind = question.kind
    if kind == QuestionKind.TEXT:
        text = (_getlist(form, key) or [""])[0].strip()
        if len(text) > MAX_TEXT:
            raise Invalid(f"Keep the answer under {MAX_TEXT} characters.")
        return [text] if text else []
    if kind == QuestionKind.SINGLE:
        values = _getlist(form, key)
        if len(values) > 1:
            raise Invalid("Choose only one option.")
        return [_option_index(question, values[0])] if values else []
    if kind == QuestionKind.MULTIPLE:
        chosen = sorted({_option_index(question, raw) for raw in _getlist(form, key)})
        return chosen
    if kind == QuestionKind.RATING:
        values = _getlist(form, key)
        if not values:
            return []
        try:
            rating = int(values[0])
        except ValueError:
            raise Invalid("Give a rating from 1 to 5.") from None
        if rating not in RATINGS or len(values) > 1:
            raise Invalid("Give a rating from 1 to 5.")
        return [rating]
    # Rank: one select per option, each naming its place; the value is the options in order.
    places: dict[int, int] = {}
    for index in range(len(question.options)):
        raw = _getlist(form, f"{key}-rank-{index}")
        if not raw:
            continue
        try:
            place = int(raw[0])
        except ValueError:
            raise Invalid("Give each option a place from the list.") from None
        if not 1 <= place <= len(question.options):
            raise Invalid("Give each option a place from the list.")
        places[index] = place
    if len(set(places.values())) != len(places):
        raise Invalid("Give each option a different place: two options share one.")
    return [index for index, _ in sorted(places.items(), key=lambda item: item[1])]


def _answer_rows(response_id: int, answers: Answers, questions: dict[int, Question]):
    for question_id, values in answers.items():
        kind = questions[question_id].kind
        if kind == QuestionKind.TEXT:
            yield Answer(response_id=response_id, question_id=question_id, text=values[0])
        elif kind == QuestionKind.RATING:
            yield Answer(response_id=response_id, question_id=question_id, value=values[0])
        elif kind == QuestionKind.RANK:
            for place, option in enumerate(values, start=1):
                yield Answer(
                    response_id=response_id, question_id=question_id, option=option, value=place
                )
        elif kind == QuestionKind.MULTIPLE:
            # Each row also says how many options the answer chose: summing 1/value over a
            # question's rows counts its respondents without a COUNT(DISTINCT) (results.py).
            for option in values:
                yield Answer(
                    response_id=response_id,
                    question_id=question_id,
                    option=option,
                    value=len(values),
                )
        else:
            yield Answer(response_id=response_id, question_id=question_id, option=values[0])


def answers_of(response: Response) -> Answers:
    """The stored answers of a response, in the shape ``parse_answers`` gives."""
    rows = db.session.execute(
        select(Answer.question_id, Answer.option, Answer.value, Answer.text)
        .where(Answer.response_id == response.id)
        .order_by(Answer.question_id, Answer.value, Answer.option)
    ).all()
    questions = {q.id: q for q in questions_of(db.session.get(Survey, response.survey_id))}
    answers: Answers = {}
    for question_id, option, value, text in rows:
        kind = questions[question_id].kind
        item = (
            text if kind == QuestionKind.TEXT else value if kind == QuestionKind.RATING else option
        )
        answers.setdefault(question_id, []).append(item)
    return answers


def _require_open(survey: Survey) -> None:
    state = survey.state
    if state == SurveyState.CLOSED:
        raise Conflict(
            f"This survey closed on {survey.closes_on.isoformat()}: answers are no longer accepted."
        )
    if state != SurveyState.OPEN:
        raise Conflict("This survey is not open yet.")


def _require_section(survey: Survey, section: Section) -> None:
    if section not in survey.audience.sections:
        raise NotFound(f"This survey has no {section.label.lower()} section.")


def has_answered(person: Person, survey: Survey) -> bool:
    return db.session.get(SurveyParticipant, (survey.id, person.id)) is not None


def _draft(survey: Survey, person: Person | None = None, organisation=None) -> SurveyDraft | None:
    stmt = select(SurveyDraft).where(SurveyDraft.survey_id == survey.id)
    if organisation is not None:
        stmt = stmt.where(SurveyDraft.organisation_id == organisation.id)
    else:
        stmt = stmt.where(SurveyDraft.person_id == person.id)
    return db.session.scalar(stmt)


def _draft_answers(draft: SurveyDraft | None) -> Answers | None:
    if draft is None:
        return None
    return {int(k): v for k, v in json.loads(draft.answers).items()}


def _save_draft(
    survey: Survey, answers: Answers, person=None, organisation=None, draft=None
) -> SurveyDraft:
    draft = draft or _draft(survey, person, organisation)
    if draft is None:
        draft = SurveyDraft(
            survey_id=survey.id,
            person_id=None if organisation is not None else person.id,
            organisation_id=organisation.id if organisation is not None else None,
            answers="{}",
            version=1,
        )
        db.session.add(draft)
    else:
        draft.version = draft.version + 1  # the UPDATE matches the version read
    draft.answers = json.dumps({str(k): v for k, v in answers.items()})
    draft.saved_at = utcnow()
    return draft


@dataclass
class MemberSheet:
    """What the member answer page shows."""

    survey: Survey
    questions: list[Question]
    answered: bool
    answers: Answers = field(default_factory=dict)
    draft_saved_at: datetime | None = None


def member_sheet(person: Person, survey: Survey) -> MemberSheet:
    _require_section(survey, Section.MEMBERS)
    draft = _draft(survey, person)
    return MemberSheet(
        survey=survey,
        questions=questions_of(survey, Section.MEMBERS),
        answered=has_answered(person, survey),
        answers=_draft_answers(draft) or {},
        draft_saved_at=draft.saved_at if draft else None,
    )


def _require_can_answer_as_member(person: Person, survey: Survey) -> None:
    policy.require(person, Permission.SURVEY_READ)
    _require_section(survey, Section.MEMBERS)
    _require_open(survey)
    # R15: members answer once each.
    if has_answered(person, survey):
        raise Conflict("You have already answered this survey. Each member answers once.")


def save_member_draft(person: Person, survey: Survey, form: Mapping[str, Any]) -> None:
    """Keep a member's answers so far, to resume later."""
    _require_can_answer_as_member(person, survey)
    answers = parse_answers(questions_of(survey, Section.MEMBERS), form, complete=False)
    _save_draft(survey, answers, person=person)
    _record_answering(person, survey, "survey.draft_saved")


def submit_member_response(person: Person, survey: Survey, form: Mapping[str, Any]) -> None:
    """R15: a member answers the member section once; anonymous answers keep no link to them."""
    _require_can_answer_as_member(person, survey)
    questions = questions_of(survey, Section.MEMBERS)
    answers = parse_answers(questions, form)
    # R15: on an anonymous survey the response names nobody and keeps no time; the
    # participant row (no response id, no time) is what stops a second answer.
    response = Response(
        survey_id=survey.id,
        section=Section.MEMBERS,
        person_id=None if survey.anonymous else person.id,
        submitted_at=None if survey.anonymous else utcnow(),
    )
    db.session.add(SurveyParticipant(survey_id=survey.id, person_id=person.id))
    db.session.add(response)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise Conflict("You have already answered this survey. Each member answers once.") from None
    db.session.add_all(_answer_rows(response.id, answers, {q.id: q for q in questions}))
    db.session.execute(
        delete(SurveyDraft).where(
            SurveyDraft.survey_id == survey.id, SurveyDraft.person_id == person.id
        )
    )
    # The audit trail names the survey, never the response.
    _record_answering(person, survey, "survey.answered")


def _record_answering(
    person: Person, survey: Survey, action: str, reason: str | None = None
) -> None:
    """The audit event of answering; on an anonymous survey it names nobody, only the day.

    R15: members read the audit trail. "Ann answered at 10:02, Bob at 10:07" lined up
    with anything ordered or timed by response is exactly who said what, so an anonymous
    survey's trail says only that a response (or draft) came in, and on which day.
    """
    if not survey.anonymous:
        audit.record(person, action, survey, reason)
        return
    now = utcnow()
    event = audit.record(None, action, survey, "anonymous survey: who and when are not kept")
    event.at = datetime(now.year, now.month, now.day)


# The tenant section: one response per organisation ---------------------------------------


def tenant_organisations_of(person: Person) -> list[TenantOrganisation]:
    """Organisations receiving services for which ``person`` is a current tenant member."""
    if not person.is_member:
        return []
    return list(
        db.session.scalars(
            select(TenantOrganisation)
            .join(TenantMember, TenantMember.organisation_id == TenantOrganisation.id)
            .where(
                TenantMember.person_id == person.id,
                TenantMember.ended_at.is_(None),
                TenantOrganisation.status == OrganisationStatus.APPROVED,
            )
            .order_by(TenantOrganisation.name)
        )
    )


def get_organisation(slug: str) -> TenantOrganisation:
    organisation = db.session.scalar(
        select(TenantOrganisation).where(TenantOrganisation.slug == slug)
    )
    if organisation is None:
        raise NotFound("There is no such organisation.")
    return organisation


def tenant_response(survey: Survey, organisation: TenantOrganisation) -> Response | None:
    return db.session.scalar(
        select(Response).where(
            Response.survey_id == survey.id, Response.organisation_id == organisation.id
        )
    )


def sheet_version(response: Response | None, draft: SurveyDraft | None) -> str:
    """The version of an organisation's sheet as its form carries it: response and draft."""
    return f"{response.version if response else 0}.{draft.version if draft else 0}"


@dataclass
class TenantSheet:
    survey: Survey
    organisation: TenantOrganisation
    questions: list[Question]
    response: Response | None
    answered_by: Person | None
    answers: Answers = field(default_factory=dict)
    draft_saved_at: datetime | None = None
    version: str = "0.0"


class SheetChanged(Conflict):
    """Another tenant member saved the organisation's sheet after this one was read."""

    def __init__(self, organisation: TenantOrganisation) -> None:
        super().__init__(
            f"Another tenant member of {organisation.name} saved these answers after you "
            "opened them, so yours were not saved. Your answers are still in the form below; "
            "open the sheet again to see theirs, or save again to replace them with yours."
        )


def _require_tenant_of(person: Person, survey: Survey, organisation: TenantOrganisation) -> None:
    _require_section(survey, Section.TENANTS)
    # R15: the tenant section is answered for an organisation by one of its tenant members.
    if not policy.can(person, Permission.TENANT_ACT_FOR, organisation):
        raise NotAllowed(
            f"You are not a tenant member of {organisation.name}, so you cannot answer for it."
        )
    if organisation.status != OrganisationStatus.APPROVED:
        raise Conflict("Only organisations receiving services answer the tenant survey.")


def tenant_sheet(person: Person, survey: Survey, organisation: TenantOrganisation) -> TenantSheet:
    """The organisation's response (or draft) as its tenant members see it."""
    _require_tenant_of(person, survey, organisation)
    response = tenant_response(survey, organisation)
    draft = _draft(survey, organisation=organisation)
    answers = _draft_answers(draft)
    if answers is None and response is not None:
        answers = answers_of(response)
    answered_by = None
    if response is not None and response.person_id is not None:
        answered_by = db.session.get(Person, response.person_id)
    return TenantSheet(
        survey=survey,
        organisation=organisation,
        questions=questions_of(survey, Section.TENANTS),
        response=response,
        answered_by=answered_by,
        answers=answers or {},
        draft_saved_at=draft.saved_at if draft else None,
        version=sheet_version(response, draft),
    )


def _require_unchanged(
    organisation: TenantOrganisation,
    seen_version: str | None,
    response: Response | None,
    draft: SurveyDraft | None,
) -> None:
    # Two liaisons of one organisation edit one sheet: the second to save is told, and
    # nothing of the first is overwritten. ``None`` (a script, not a form) skips the check.
    if seen_version is not None and seen_version != sheet_version(response, draft):
        raise SheetChanged(organisation)


def _flush_sheet(organisation: TenantOrganisation) -> None:
    """Flush a sheet's save; a concurrent save of the same version loses, and is told."""
    try:
        db.session.flush()
    except (IntegrityError, StaleDataError):
        # Another save won the race: its insert took the unique row, or its UPDATE moved
        # the version this one was read at.
        db.session.rollback()
        raise SheetChanged(organisation) from None


def save_tenant_draft(
    person: Person,
    survey: Survey,
    organisation: TenantOrganisation,
    form: Mapping[str, Any],
    seen_version: str | None = None,
) -> None:
    """Keep the organisation's answers so far; any of its tenant members may resume.

    ``seen_version`` is the sheet version the form was read at (``TenantSheet.version``);
    SheetChanged when another tenant member saved since.
    """
    _require_tenant_of(person, survey, organisation)
    _require_open(survey)
    answers = parse_answers(questions_of(survey, Section.TENANTS), form, complete=False)
    draft = _draft(survey, organisation=organisation)
    _require_unchanged(organisation, seen_version, tenant_response(survey, organisation), draft)
    _save_draft(survey, answers, organisation=organisation, draft=draft)
    _flush_sheet(organisation)
    _record_answering(person, survey, "survey.draft_saved", f"for {organisation.audit_label}")


def submit_tenant_response(
    person: Person,
    survey: Survey,
    organisation: TenantOrganisation,
    form: Mapping[str, Any],
    seen_version: str | None = None,
) -> Response:
    """R15: one response per organisation; another tenant member may edit it until close.

    ``seen_version`` is the sheet version the form was read at; SheetChanged (nothing
    saved) when another tenant member saved the response or its draft since.
    """
    _require_tenant_of(person, survey, organisation)
    _require_open(survey)
    questions = questions_of(survey, Section.TENANTS)
    answers = parse_answers(questions, form)
    response = tenant_response(survey, organisation)
    _require_unchanged(
        organisation, seen_version, response, _draft(survey, organisation=organisation)
    )
    edited = response is not None
    if response is None:
        response = Response(
            survey_id=survey.id, section=Section.TENANTS, organisation_id=organisation.id, version=1
        )
        db.session.add(response)
    else:
        response.version = response.version + 1  # the UPDATE matches the version read
    response.person_id = None if survey.anonymous else person.id
    # R15: an anonymous response keeps no time.
    response.submitted_at = None if survey.anonymous else utcnow()
    _flush_sheet(organisation)
    db.session.execute(delete(Answer).where(Answer.response_id == response.id))
    db.session.add_all(_answer_rows(response.id, answers, {q.id: q for q in questions}))
    db.session.execute(
        delete(SurveyDraft).where(
            SurveyDraft.survey_id == survey.id, SurveyDraft.organisation_id == organisation.id
        )
    )
    _record_answering(
        person,
        survey,
        "survey.tenant_answer_edited" if edited else "survey.tenant_answered",
        f"for {organisation.audit_label}",
    )
    return response


# What waits for a person ------------------------------------------------------------------


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


def count_waiting_for(person: Person) -> int:
    """Open surveys with a member section this member has not answered yet (one query)."""
    if not person.is_member:
        return 0
    answered = select(SurveyParticipant.survey_id).where(SurveyParticipant.person_id == person.id)
    return db.session.scalar(
        select(func.count())
        .select_from(Survey)
        .where(
            Survey.opened_at.is_not(None),
            Survey.closed_at.is_(None),
            Survey.closes_on >= today(),
            Survey.audience.in_((Audience.MEMBERS, Audience.BOTH)),
            Survey.id.not_in(answered),
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
        audit.record(person, "survey.reminders_stopped", survey)
    return survey


def restart_reminders(token: str) -> Survey:
    survey, person = _read_reminders_token(token)
    opt_out = db.session.get(ReminderOptOut, (survey.id, person.id))
    if opt_out is not None:
        db.session.delete(opt_out)
        audit.record(person, "survey.reminders_restarted", survey)
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


def _still_to_answer(survey: Survey, recipients: dict[str, Recipient]) -> dict[str, Recipient]:
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
    report.invitations = _survey_mail(survey, MailKind.INVITATION, recipients)
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
    """Send what an act made due: as a job when the job runner exists, else right away.

    Returns how many mails went out now (0 when a job will send them).
    """
    runner = job_runner()
    if runner is not None:
        runner.enqueue(SEND_JOB)
        return 0
    if survey is not None:
        return send_survey_mail(survey).total
    return send_announcements()


def job_runner():
    """The service layer's job module when it exists and knows our job, else None."""
    try:
        from infrawg.provisioning import jobs
    except ImportError:
        return None
    if SEND_JOB not in getattr(jobs, "JOBS", {}):
        return None
    return jobs
