"""Results of a survey (R15): counts, percentages, charts, response rates, CSV export.

A handful of grouped queries whatever the number of responses; nothing loads every answer.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from fractions import Fraction

from sqlalchemy import func, select

from infrawg import policy
from infrawg.errors import NotAllowed
from infrawg.exports import csv_line
from infrawg.extensions import db
from infrawg.membership.models import Person
from infrawg.policy import Permission
from infrawg.surveys import charts
from infrawg.surveys.building import can_manage, questions_of
from infrawg.surveys.models import (
    Answer,
    Question,
    QuestionKind,
    Response,
    Section,
    Survey,
    SurveyState,
)
from infrawg.surveys.rates import figures, section_counts
from infrawg.tenants.models import TenantOrganisation

# R15: on an anonymous survey, a breakdown of fewer responses than this is not shown.
MIN_BREAKDOWN = 5
TEXTS_SHOWN = 20


@dataclass
class Row:
    label: str
    count: int
    percent: float
    extra: str | None = None  # mean rank for rank questions


@dataclass
class QuestionResult:
    question: Question
    respondents: int
    rows: list[Row] = field(default_factory=list)
    mean: float | None = None
    texts: list[str] = field(default_factory=list)
    chart: charts.BarChart | None = None

    @property
    def number(self) -> int:
        return self.question.position


@dataclass
class SectionResult:
    section: Section
    responses: int
    audience: int
    suppressed: Suppression | None
    questions: list[QuestionResult] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return 100.0 * self.responses / self.audience if self.audience else 0.0


@dataclass
class SurveyResults:
    survey: Survey
    sections: list[SectionResult]

    @property
    def responses(self) -> int:
        return sum(s.responses for s in self.sections)


def require_results_access(person: Person, survey: Survey) -> None:
    """Members read results once the survey closed; its managers at any time."""
    policy.require(person, Permission.SURVEY_RESULTS_READ)
    if survey.opened_at is None or (
        survey.state != SurveyState.CLOSED and not can_manage(person, survey)
    ):
        raise NotAllowed("The results are shown to members once the survey has closed.")


class Suppression(StrEnum):
    """Why a section of an anonymous survey shows only its count (R15)."""

    FEW = "few"  # fewer than MIN_BREAKDOWN responses: each one would stand out
    OPEN = "open"  # still open: comparing two looks would show each new response

    @property
    def message(self) -> str:
        if self is Suppression.FEW:
            return (
                f"Fewer than {MIN_BREAKDOWN} responses: the answers of this section are not "
                "shown, to keep the survey anonymous."
            )
        return (
            "The survey is anonymous and still open: its answers are shown once it closes, "
            "so that no one can tell a response by when it arrived."
        )


def suppression(survey: Survey, responses: int) -> Suppression | None:
    """R15: the one rule every page, export, chart, count and text list of a section obeys.

    An anonymous section shows its answers only once the survey closed, and only from
    MIN_BREAKDOWN responses: with fewer, or with a breakdown that changes as answers come
    in, a reader who knows who answered when could tell whose answer is whose.
    """
    if not survey.anonymous:
        return None
    if responses < MIN_BREAKDOWN:
        return Suppression.FEW
    if survey.state != SurveyState.CLOSED:
        return Suppression.OPEN
    return None


def section_suppression(survey: Survey, section: Section) -> Suppression | None:
    return suppression(survey, section_counts(survey).get(section, 0))


def _pct(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 1) if whole else 0.0


def compute(survey: Survey, texts_shown: int = TEXTS_SHOWN) -> SurveyResults:
    """Per section and question: counts and percentages, the mean rating, mean ranks, texts.

    R15: a section that ``suppression`` hides shows only its count.
    """
    questions = questions_of(survey)
    ids = [q.id for q in questions]
    responses = section_counts(survey)
    counts: dict[int, dict[tuple[int | None, int | None], int]] = defaultdict(dict)
    respondents: dict[int, int] = {}
    texts: dict[int, list[str]] = defaultdict(list)
    if ids:
        for question_id, option, value, n in db.session.execute(
            select(Answer.question_id, Answer.option, Answer.value, func.count())
            .where(Answer.question_id.in_(ids))
            .group_by(Answer.question_id, Answer.option, Answer.value)
        ):
            counts[question_id][(option, value)] = n
        kinds = {q.id: q.kind for q in questions}
        respondents = {q_id: _respondents(kinds[q_id], n) for q_id, n in counts.items()}
        for question in questions:
            if question.kind == QuestionKind.TEXT and texts_shown:
                # One short query per text question, in the responses' random order.
                texts[question.id] = list(
                    db.session.scalars(text_answers(question).limit(texts_shown))
                )
    # The rate of a closed survey: its figures as they stood at closing (rates.figures).
    rate = figures(survey)
    sections = []
    for section in survey.audience.sections:
        # R15: the threshold counts the responses there are, whatever was stored.
        suppressed = suppression(survey, responses.get(section, 0))
        result = SectionResult(section, rate[section].responses, rate[section].audience, suppressed)
        if not suppressed:
            for question in (q for q in questions if q.section == section):
                result.questions.append(
                    _question_result(
                        question, respondents.get(question.id, 0), counts[question.id], texts
                    )
                )
        sections.append(result)
    return SurveyResults(survey, sections)


def _respondents(kind: QuestionKind, counts: dict[tuple[int | None, int | None], int]) -> int:
    """How many responses answered a question, from its grouped counts alone."""
    if kind == QuestionKind.RANK:
        return sum(n for (_, place), n in counts.items() if place == 1)
    if kind == QuestionKind.MULTIPLE:
        # Each answer of k options left k rows with value k: they add up to one.
        return int(sum(Fraction(n, chosen or 1) for (_, chosen), n in counts.items()))
    return sum(counts.values())


def _question_result(
    question: Question,
    respondents: int,
    counts: dict[tuple[int | None, int | None], int],
    texts: dict[int, list[str]],
) -> QuestionResult:
    result = QuestionResult(question, respondents)
    kind = question.kind
    if kind == QuestionKind.TEXT:
        result.texts = texts.get(question.id, [])
        return result
    if kind == QuestionKind.RATING:
        by_value = {value: n for (_, value), n in counts.items() if value is not None}
        result.rows = [
            Row(str(v), by_value.get(v, 0), _pct(by_value.get(v, 0), respondents))
            for v in range(1, 6)
        ]
        total = sum(by_value.values())
        if total:
            result.mean = round(sum(v * n for v, n in by_value.items()) / total, 2)
    elif kind == QuestionKind.RANK:
        options = question.options
        for index, label in enumerate(options):
            ranked = {
                value: n
                for (option, value), n in counts.items()
                if option == index and value is not None
            }
            firsts = ranked.get(1, 0)
            total = sum(ranked.values())
            mean = sum(v * n for v, n in ranked.items()) / total if total else None
            result.rows.append(
                Row(
                    label,
                    firsts,
                    _pct(firsts, respondents),
                    f"{mean:.2f}" if mean is not None else "-",
                )
            )
    else:
        by_option: dict[int | None, int] = defaultdict(int)
        for (option, _), n in counts.items():
            by_option[option] += n
        result.rows = [
            Row(label, by_option.get(i, 0), _pct(by_option.get(i, 0), respondents))
            for i, label in enumerate(question.options)
        ]
    what = "ranked it first" if kind == QuestionKind.RANK else "chose it"
    result.chart = charts.bar_chart(
        chart_id=f"chart-q{question.id}",
        title=question.prompt,
        description=(
            f"{respondents} answered. "
            + "; ".join(f"{r.label}: {r.count} {what} ({r.percent}%)" for r in result.rows)
        ),
        bars=[(r.label, r.count, r.percent) for r in result.rows],
    )
    return result


def text_answers(question: Question):
    """All free-text answers of a question (paginated by the page).

    R15: in the responses' random order, never by answer id: the Nth text must not be
    the Nth answerer's.
    """
    return (
        select(Answer.text)
        .join(Response, Response.id == Answer.response_id)
        .where(Answer.question_id == question.id, Answer.text.is_not(None))
        .order_by(Response.sort_key, Response.id)
    )


def answered_organisations(survey: Survey) -> list[tuple[TenantOrganisation, Response]]:
    """For non-anonymous surveys: which organisations answered, and who (last) submitted."""
    if survey.anonymous:
        return []
    return list(
        db.session.execute(
            select(TenantOrganisation, Response)
            .join(Response, Response.organisation_id == TenantOrganisation.id)
            .where(Response.survey_id == survey.id)
            .order_by(TenantOrganisation.name)
        ).all()
    )


def csv_rows(survey: Survey, batch: int = 2000) -> Iterator[str]:
    """The responses as CSV lines, one response per line, read in batches (for streaming).

    R15: anonymous surveys export no identity (neither person nor organisation), no time
    and no response id; rows go in the responses' random order and are numbered in it;
    a section the results page suppresses is not exported at all (rows nor columns).
    """
    counts = section_counts(survey)
    sections = [
        s for s in survey.audience.sections if suppression(survey, counts.get(s, 0)) is None
    ]
    questions = [q for q in questions_of(survey) if q.section in sections]
    column = {q.id: i for i, q in enumerate(questions)}
    kinds = {q.id: q.kind for q in questions}
    options = {q.id: q.options for q in questions}
    header = ["response", "section"]
    if not survey.anonymous:
        header += ["submitted", "organisation", "person"]
    header += [f"[{q.section.value}] {q.prompt}" for q in questions]
    yield csv_line(header)
    if not sections:
        return
    org_names: dict[int | None, str] = {
        pk: name
        for pk, name in db.session.execute(select(TenantOrganisation.id, TenantOrganisation.name))
    }
    last: tuple[int, int] | None = None
    number = 0
    while True:
        # Keyset pagination over responses: constant memory whatever the size.
        stmt = (
            select(
                Response.id,
                Response.sort_key,
                Response.section,
                Response.submitted_at,
                Response.organisation_id,
                Person.email,
            )
            .outerjoin(Person, Person.id == Response.person_id)
            .where(Response.survey_id == survey.id, Response.section.in_(sections))
            .order_by(Response.sort_key, Response.id)
            .limit(batch)
        )
        if last is not None:
            stmt = stmt.where(
                (Response.sort_key > last[0])
                | ((Response.sort_key == last[0]) & (Response.id > last[1]))
            )
        page = db.session.execute(stmt).all()
        if not page:
            return
        last = (page[-1].sort_key, page[-1].id)
        cells: dict[int, list[list[str]]] = {row.id: [[] for _ in questions] for row in page}
        for response_id, question_id, option, value, text in db.session.execute(
            select(Answer.response_id, Answer.question_id, Answer.option, Answer.value, Answer.text)
            .where(Answer.response_id.in_(list(cells)))
            .order_by(Answer.response_id, Answer.question_id, Answer.value, Answer.option)
        ):
            if question_id not in kinds:
                continue
            kind = kinds[question_id]
            if kind == QuestionKind.TEXT:
                item = text or ""
            elif kind == QuestionKind.RATING:
                item = str(value)
            else:
                choices = options[question_id]
                item = choices[option] if option is not None and option < len(choices) else ""
            cells[response_id][column[question_id]].append(item)
        for response_id, _, section, submitted_at, organisation_id, email in page:
            number += 1
            row = [str(number) if survey.anonymous else str(response_id), section.value]
            if not survey.anonymous:
                row += [
                    submitted_at.isoformat(timespec="seconds") if submitted_at else "",
                    org_names.get(organisation_id, ""),
                    email or "",
                ]
            row += [
                " > ".join(c) if kinds[q.id] == QuestionKind.RANK else "; ".join(c)
                for q, c in zip(questions, cells[response_id], strict=True)
            ]
            yield csv_line(row)
