"""The annual survey (R15): building it: settings, questions, delegation, opening, closing.

Answering lives in ``answers.py`` (the member section) and ``responses.py`` (the tenant
section), the survey's mail in ``mailing.py``, results in ``results.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import ColumnElement, delete, func, select

from infrawg import audit, policy
from infrawg.actions import Action
from infrawg.errors import Conflict, Invalid, NotAllowed, NotFound
from infrawg.extensions import db
from infrawg.governance.models import Role
from infrawg.governance.roles import people_with_roles
from infrawg.locks import lock_rows
from infrawg.membership.models import Person
from infrawg.policy import Permission
from infrawg.surveys import rates
from infrawg.surveys.mailing import dispatch_mail
from infrawg.surveys.models import (
    Audience,
    Question,
    QuestionKind,
    Section,
    Survey,
    SurveyDraft,
    SurveyManager,
    SurveyState,
)
from infrawg.timeutil import today, utcnow

MAX_OPTIONS = 20


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
    audit.record(actor, Action.SURVEY_CREATED, survey)
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
    audit.record(actor, Action.SURVEY_UPDATED, survey)


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
    audit.record(actor, Action.SURVEY_COPIED, survey, f"from survey #{source.id}")
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
    audit.record(actor, Action.SURVEY_QUESTION_ADDED, question)
    return question


def update_question(
    actor: Person,
    question: Question,
    kind: QuestionKind,
    prompt: str,
    options_text: str,
    required: bool,
) -> None:
    survey = db.session.get_one(Survey, question.survey_id)
    require_manage(actor, survey)
    _require_draft(survey)
    if not prompt.strip():
        raise Invalid("Write the question.")
    question.kind = kind
    question.prompt = prompt.strip()
    question.options_text = _clean_options(kind, options_text)
    question.required = required
    audit.record(actor, Action.SURVEY_QUESTION_UPDATED, question)


def remove_question(actor: Person, question: Question) -> None:
    survey = db.session.get_one(Survey, question.survey_id)
    require_manage(actor, survey)
    _require_draft(survey)
    audit.record(actor, Action.SURVEY_QUESTION_REMOVED, question, question.prompt)
    db.session.delete(question)


def move_question(actor: Person, question: Question, direction: int) -> None:
    """Swap a question with its neighbour above (-1) or below (+1) in its section."""
    survey = db.session.get_one(Survey, question.survey_id)
    require_manage(actor, survey)
    _require_draft(survey)
    if direction not in (-1, 1):
        raise Invalid("Move a question up or down.")
    order = Question.position.desc() if direction < 0 else Question.position
    compare: ColumnElement[bool] = Question.position < question.position
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
    audit.record(actor, Action.SURVEY_QUESTION_MOVED, question, "up" if direction < 0 else "down")


def delegate(actor: Person, survey: Survey, person: Person) -> None:
    """The chair delegates a survey to a staff member."""
    policy.require(actor, Permission.SURVEY_CREATE)
    if Role.STAFF not in policy.roles_of(person):
        raise Invalid("Only staff can be delegated a survey.")
    if is_delegate(person, survey):
        raise Conflict(f"{person.name} already manages this survey.")
    db.session.add(SurveyManager(survey_id=survey.id, person_id=person.id))
    audit.record(actor, Action.SURVEY_DELEGATED, survey, f"to {person.audit_label}")


def check_can_open(actor: Person, survey: Survey) -> None:
    """Whether ``actor`` may open ``survey`` now (asked before the confirmation step)."""
    require_manage(actor, survey)
    if survey.opened_at is not None:
        raise Conflict("The survey is already open.")
    if not questions_of(survey):
        raise Invalid("Add at least one question before opening the survey.")
    if survey.closes_on < today():
        raise Invalid("The closing date has passed: move it before opening the survey.")


def open_survey(actor: Person, survey: Survey) -> int:
    """Open the survey and invite its whole audience; returns the number of invitations."""
    check_can_open(actor, survey)
    survey.opened_at = utcnow()
    audit.record(actor, Action.SURVEY_OPENED, survey)
    return dispatch_mail(survey)


def close_survey(actor: Person, survey: Survey) -> None:
    """Close the survey now (it also closes by itself after its closing date)."""
    require_manage(actor, survey)
    # Two closes at once (two tabs): the second waits here, then sees it closed.
    lock_rows(Survey, [survey.id])
    db.session.refresh(survey)
    if survey.state != SurveyState.OPEN:
        raise Conflict(f"Only an open survey can be closed; this one is {survey.state.label}.")
    survey.closed_at = utcnow()
    # The response rate as it stands now is the one the results keep showing.
    rates.freeze(survey)
    # Drafts never submitted are not responses; nothing should keep them.
    db.session.execute(delete(SurveyDraft).where(SurveyDraft.survey_id == survey.id))
    audit.record(actor, Action.SURVEY_CLOSED, survey)
