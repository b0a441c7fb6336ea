"""A survey's response rate per section: responses over the audience (R15).

While a survey is open the audience is counted live (members now, organisations receiving
services now). When it closes, by hand or by its closing date, the figures are stored
(:class:`ClosingFigure`), and every page that shows a closed survey's rate reads them: a
member who joins or leaves afterwards does not move it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import exists, func, or_, select

from infrawg.extensions import db, insert_ignoring
from infrawg.membership.models import MembershipStatus, Person
from infrawg.surveys.mailing import audience_organisations
from infrawg.surveys.models import ClosingFigure, Response, Section, Survey
from infrawg.timeutil import today


@dataclass(frozen=True)
class Figure:
    responses: int
    audience: int
    frozen: bool  # stored at closing, not counted now


def section_counts(survey: Survey) -> dict[Section, int]:
    """Responses per section, counted now."""
    return dict(
        db.session.execute(
            select(Response.section, func.count())
            .where(Response.survey_id == survey.id)
            .group_by(Response.section)
        ).all()
    )


def audience_sizes(survey: Survey) -> dict[Section, int]:
    """The denominators of the response rate now: members, organisations receiving services."""
    sizes = {Section.MEMBERS: 0, Section.TENANTS: 0}
    if Section.MEMBERS in survey.audience.sections:
        sizes[Section.MEMBERS] = (
            db.session.scalar(
                select(func.count())
                .select_from(Person)
                .where(Person.status == MembershipStatus.MEMBER)
            )
            or 0
        )
    if Section.TENANTS in survey.audience.sections:
        sizes[Section.TENANTS] = len(audience_organisations())
    return sizes


def figures(survey: Survey) -> dict[Section, Figure]:
    """Each section's responses and audience: as stored at closing once the survey closed
    and its figures were frozen, else as they are now."""
    stored = db.session.scalars(
        select(ClosingFigure).where(ClosingFigure.survey_id == survey.id)
    ).all()
    if stored:
        return {f.section: Figure(f.responses, f.audience, True) for f in stored}
    counts = section_counts(survey)
    sizes = audience_sizes(survey)
    return {s: Figure(counts.get(s, 0), sizes[s], False) for s in survey.audience.sections}


def freeze(survey: Survey) -> None:
    """Store the survey's figures as they are now: called as it closes (the caller's
    transaction). A second freeze at the same moment (the chair closing it as the
    `surveys.freeze` job finds it past its date) writes nothing and fails nothing: the
    first stored figures stand."""
    counts = section_counts(survey)
    sizes = audience_sizes(survey)
    for section in survey.audience.sections:
        db.session.execute(
            insert_ignoring(
                ClosingFigure,
                ["survey_id", "section"],
                survey_id=survey.id,
                section=section,
                audience=sizes[section],
                responses=counts.get(section, 0),
            )
        )


def unfrozen_closed_surveys() -> list[Survey]:
    """Surveys that closed (by hand, or past their closing date) with no stored figures."""
    return list(
        db.session.scalars(
            select(Survey)
            .where(
                Survey.opened_at.is_not(None),
                or_(Survey.closed_at.is_not(None), Survey.closes_on < today()),
                ~exists().where(ClosingFigure.survey_id == Survey.id),
            )
            .order_by(Survey.id)
        )
    )


def freeze_closed() -> int:
    """Freeze the figures of every survey that closed by its date since the last run
    (the scheduled job `surveys.freeze`); returns how many."""
    found = unfrozen_closed_surveys()
    for survey in found:
        freeze(survey)
    return len(found)
