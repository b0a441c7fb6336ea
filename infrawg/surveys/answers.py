"""Answering the survey's member section (R15): answer sheets, drafts, checking answers.

The parsing, draft and audit helpers here serve the tenant section too (``responses.py``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, func, select
from sqlalchemy.exc import IntegrityError

from infrawg import audit, policy
from infrawg.actions import Action
from infrawg.errors import Conflict, Invalid, NotFound
from infrawg.extensions import db
from infrawg.locks import lock_name
from infrawg.membership.models import Person
from infrawg.policy import Permission
from infrawg.surveys.building import questions_of
from infrawg.surveys.models import (
    Answer,
    Audience,
    Question,
    QuestionKind,
    Response,
    Section,
    Survey,
    SurveyDraft,
    SurveyParticipant,
    SurveyState,
)
from infrawg.timeutil import today, utcnow

MAX_TEXT = 5000
RATINGS = range(1, 6)


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


def answer_rows(response_id: int, answers: Answers, questions: dict[int, Question]):
    """The Answer rows that store ``answers`` (as ``parse_answers`` gives them)."""
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
    questions = {q.id: q for q in questions_of(db.session.get_one(Survey, response.survey_id))}
    answers: Answers = {}
    for question_id, option, value, text in rows:
        kind = questions[question_id].kind
        item = (
            text if kind == QuestionKind.TEXT else value if kind == QuestionKind.RATING else option
        )
        answers.setdefault(question_id, []).append(item)
    return answers


def require_open(survey: Survey) -> None:
    """Conflict unless the survey takes answers now."""
    state = survey.state
    if state == SurveyState.CLOSED:
        raise Conflict(
            f"This survey closed on {survey.closes_on.isoformat()}: answers are no longer accepted."
        )
    if state != SurveyState.OPEN:
        raise Conflict("This survey is not open yet.")


def require_section(survey: Survey, section: Section) -> None:
    """NotFound when the survey has no such section."""
    if section not in survey.audience.sections:
        raise NotFound(f"This survey has no {section.label.lower()} section.")


def has_answered(person: Person, survey: Survey) -> bool:
    return db.session.get(SurveyParticipant, (survey.id, person.id)) is not None


def draft_of(survey: Survey, person: Person | None = None, organisation=None) -> SurveyDraft | None:
    """The saved draft of a member (or, given ``organisation``, of an organisation)."""
    stmt = select(SurveyDraft).where(SurveyDraft.survey_id == survey.id)
    if organisation is not None:
        stmt = stmt.where(SurveyDraft.organisation_id == organisation.id)
    else:
        assert person is not None, "a member's draft, or an organisation's"
        stmt = stmt.where(SurveyDraft.person_id == person.id)
    return db.session.scalar(stmt)


def draft_answers(draft: SurveyDraft | None) -> Answers | None:
    """The answers a draft keeps; None without a draft."""
    if draft is None:
        return None
    return {int(k): v for k, v in json.loads(draft.answers).items()}


def save_draft(
    survey: Survey, answers: Answers, person=None, organisation=None, draft=None
) -> SurveyDraft:
    """Keep ``answers`` as the draft of a member, or of an organisation; a new version."""
    draft = draft or draft_of(survey, person, organisation)
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
    require_section(survey, Section.MEMBERS)
    draft = draft_of(survey, person)
    return MemberSheet(
        survey=survey,
        questions=questions_of(survey, Section.MEMBERS),
        answered=has_answered(person, survey),
        answers=draft_answers(draft) or {},
        draft_saved_at=draft.saved_at if draft else None,
    )


def _require_can_answer_as_member(person: Person, survey: Survey) -> None:
    policy.require(person, Permission.SURVEY_READ)
    require_section(survey, Section.MEMBERS)
    require_open(survey)
    # R15: members answer once each.
    if has_answered(person, survey):
        raise Conflict("You have already answered this survey. Each member answers once.")


def save_member_draft(person: Person, survey: Survey, form: Mapping[str, Any]) -> None:
    """Keep a member's answers so far, to resume later."""
    _require_can_answer_as_member(person, survey)
    answers = parse_answers(questions_of(survey, Section.MEMBERS), form, complete=False)
    # Two tabs saving at once: the second waits for the first and saves over it (the
    # member's own draft, last save wins) instead of losing the race to a stale version.
    lock_name(f"survey-draft:{survey.id}:{person.id}")
    save_draft(survey, answers, person=person)
    record_answering(person, survey, Action.SURVEY_DRAFT_SAVED)


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
    db.session.add_all(answer_rows(response.id, answers, {q.id: q for q in questions}))
    db.session.execute(
        delete(SurveyDraft).where(
            SurveyDraft.survey_id == survey.id, SurveyDraft.person_id == person.id
        )
    )
    # The audit trail names the survey, never the response.
    record_answering(person, survey, Action.SURVEY_ANSWERED)


def record_answering(
    person: Person, survey: Survey, action: Action, reason: str | None = None
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


# What waits for a member ------------------------------------------------------------------


def count_waiting_for(person: Person) -> int:
    """Open surveys with a member section this member has not answered yet (one query)."""
    query = waiting_count(person)
    return query if isinstance(query, int) else db.session.scalar(query) or 0


def waiting_count(person: Person) -> Select | int:
    """``count_waiting_for`` as a query (the nav runs it with the others); 0 for a
    person who is not a member."""
    if not person.is_member:
        return 0
    answered = select(SurveyParticipant.survey_id).where(SurveyParticipant.person_id == person.id)
    return (
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
