"""Surveys, organisations and answers made through the services, for tests and the crawl."""

from __future__ import annotations

from datetime import timedelta

from flask import g

from infrawg.extensions import db
from infrawg.membership.models import Person
from infrawg.surveys import building
from infrawg.surveys.models import Audience, QuestionKind, Section, Survey
from infrawg.tenants.models import TenantOrganisation
from infrawg.timeutil import utcnow
from tests.conftest import make_organisation

# (section, kind, prompt, options, required)
MEMBER_QUESTIONS = [
    (Section.MEMBERS, QuestionKind.SINGLE, "Which service matters most?", "DNS\nVMs\nTLS", True),
    (Section.MEMBERS, QuestionKind.MULTIPLE, "Which services do you use?", "DNS\nVMs\nTLS", False),
    (Section.MEMBERS, QuestionKind.RATING, "How well do we answer?", "", False),
    (Section.MEMBERS, QuestionKind.TEXT, "What should we do next year?", "", False),
    (Section.MEMBERS, QuestionKind.RANK, "Rank these for next year", "Backups\nIPv6\nDocs", False),
]
TENANT_QUESTIONS = [
    (Section.TENANTS, QuestionKind.SINGLE, "Are your services reliable?", "Yes\nNo", True),
    (Section.TENANTS, QuestionKind.TEXT, "What do you need?", "", False),
]


def organisation(name: str, *tenants: Person, slug: str | None = None) -> TenantOrganisation:
    """An approved working group with these tenant members (the suite's shared maker)."""
    return make_organisation(name, *tenants, slug=slug)


def make_survey(
    chair: Person,
    audience: Audience = Audience.BOTH,
    anonymous: bool = False,
    questions: list | None = None,
    opened: bool = True,
    year: int | None = None,
    reminder_days: int | None = None,
    closes_in: int = 14,
) -> Survey:
    """A survey with the default questions of its sections, opened unless told otherwise."""
    g.pop("_roles", None)
    today = utcnow().date()
    survey = building.create_survey(
        chair,
        building.SurveyInput(
            title=f"Annual survey {year or today.year}",
            year=year or today.year,
            intro="Tell us how we did.",
            audience=audience,
            anonymous=anonymous,
            opens_on=today - timedelta(days=1),
            closes_on=today + timedelta(days=closes_in),
            reminder_days=reminder_days,
        ),
    )
    if questions is None:
        questions = [q for q in MEMBER_QUESTIONS + TENANT_QUESTIONS if q[0] in audience.sections]
    for section, kind, prompt, options, required in questions:
        building.add_question(chair, survey, section, kind, prompt, options, required)
    if opened:
        building.open_survey(chair, survey)
    db.session.commit()
    return survey


def question(survey: Survey, prompt: str):
    return next(q for q in building.questions_of(survey) if q.prompt == prompt)


def member_form(
    survey: Survey,
    most: int = 0,
    uses: tuple[int, ...] = (),
    rating: int | None = None,
    text: str = "",
    rank: tuple[int, ...] = (),
) -> dict:
    """Form data for the default member questions; ``rank`` gives each option's place."""
    data: dict = {"action": "submit"}
    data[f"q{question(survey, 'Which service matters most?').id}"] = str(most)
    if uses:
        data[f"q{question(survey, 'Which services do you use?').id}"] = [str(u) for u in uses]
    if rating is not None:
        data[f"q{question(survey, 'How well do we answer?').id}"] = str(rating)
    if text:
        data[f"q{question(survey, 'What should we do next year?').id}"] = text
    rank_q = question(survey, "Rank these for next year")
    for index, place in enumerate(rank):
        data[f"q{rank_q.id}-rank-{index}"] = str(place)
    return data


def tenant_form(survey: Survey, reliable: int = 0, need: str = "", version: str = "0.0") -> dict:
    """Form data for the default tenant questions; ``version`` is the sheet version read
    (the hidden field of the form; "0.0" for a sheet nobody saved yet)."""
    data: dict = {"action": "submit", "sheet_version": version}
    data[f"q{question(survey, 'Are your services reliable?').id}"] = str(reliable)
    if need:
        data[f"q{question(survey, 'What do you need?').id}"] = need
    return data


def sheet_version(page) -> str:
    """The hidden version of a parsed tenant answer sheet."""
    return page.select_one("#answer-form input[name=sheet_version]")["value"]


def close(chair: Person, survey: Survey) -> None:
    g.pop("_roles", None)
    building.close_survey(chair, survey)
    db.session.commit()
