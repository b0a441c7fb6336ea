"""Goals for the coming year, drafted from the survey and published by the chair (R15)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from infrawg import audit, policy
from infrawg.actions import Action
from infrawg.errors import Conflict, Invalid, NotFound
from infrawg.extensions import db
from infrawg.membership.models import MembershipStatus, Person
from infrawg.policy import Permission
from infrawg.surveys.mailing import dispatch_mail
from infrawg.surveys.models import (
    Goal,
    GoalComment,
    GoalLink,
    GoalPublication,
    GoalStatus,
    GoalUpdate,
    Question,
    Survey,
    SurveyState,
)
from infrawg.timeutil import utcnow
from infrawg.ui import plural

MAX_TEXT = 10_000


@dataclass
class GoalInput:
    year: int
    title: str
    description: str
    owner_id: int | None
    target_on: date | None
    survey_id: int | None
    links: list[tuple[int, int | None]]  # (question id, option index or None)


def _with_details(stmt):
    return stmt.options(
        selectinload(Goal.owner),
        selectinload(Goal.links).selectinload(GoalLink.question),
        selectinload(Goal.updates),
    )


def goals_of_year(year: int, include_drafts: bool = False) -> list[Goal]:
    """The year's goals, with owners, links and updates loaded (three queries in all)."""
    stmt = select(Goal).where(Goal.year == year)
    if not include_drafts:
        stmt = stmt.where(Goal.published_at.is_not(None))
    return list(db.session.scalars(_with_details(stmt.order_by(Goal.id))))


def draft_goals():
    return select(Goal).where(Goal.published_at.is_(None)).order_by(Goal.year.desc(), Goal.id)


def published_years() -> list[int]:
    return list(
        db.session.scalars(
            select(Goal.year)
            .where(Goal.published_at.is_not(None))
            .distinct()
            .order_by(Goal.year.desc())
        )
    )


def current_goals(today: date | None = None) -> tuple[int | None, list[Goal]]:
    """The goals shown on the home page: this year's, else the latest year published."""
    today = today or utcnow().date()
    years = published_years()
    if not years:
        return None, []
    year = today.year if today.year in years else years[0]
    return year, goals_of_year(year)


def get_goal(goal_id: int, viewer: Person | None) -> Goal:
    """A goal; a draft exists only for members (R16: the group's drafts stay internal)."""
    goal = db.session.scalar(_with_details(select(Goal).where(Goal.id == goal_id)))
    if goal is None or (not goal.published and not policy.can(viewer, Permission.GOAL_READ_DRAFT)):
        raise NotFound("There is no such goal.")
    return goal


def comments_of(goal: Goal) -> list[GoalComment]:
    return list(
        db.session.scalars(
            select(GoalComment)
            .where(GoalComment.goal_id == goal.id)
            .options(selectinload(GoalComment.author))
            .order_by(GoalComment.created_at, GoalComment.id)
        )
    )


def motivating_questions() -> list[tuple[Survey, Question]]:
    """Questions of opened surveys a goal can point at, newest survey first."""
    return list(
        db.session.execute(
            select(Survey, Question)
            .join(Question, Question.survey_id == Survey.id)
            .where(Survey.opened_at.is_not(None))
            .order_by(Survey.year.desc(), Survey.id.desc(), Question.section, Question.position)
        ).all()
    )


def _check(data: GoalInput) -> None:
    if not data.title.strip():
        raise Invalid("Give the goal a title.")
    if len(data.description) > MAX_TEXT:
        raise Invalid("Keep the description shorter.")
    if not 2000 <= data.year <= 2100:
        raise Invalid("The year must be between 2000 and 2100.")
    if data.owner_id is not None:
        owner = db.session.get(Person, data.owner_id)
        if owner is None or owner.status != MembershipStatus.MEMBER:
            raise Invalid("The owner must be a member of the group.")
    if data.survey_id is not None:
        survey = db.session.get(Survey, data.survey_id)
        if survey is None or survey.state != SurveyState.CLOSED:
            raise Invalid("Goals are drafted from a survey that has closed.")
    for question_id, option in data.links:
        question = db.session.get(Question, question_id)
        if question is None:
            raise Invalid("A linked question does not exist.")
        if option is not None and not 0 <= option < len(question.options):
            raise Invalid("A linked answer is not one of its question's options.")


def _set_links(goal: Goal, links: list[tuple[int, int | None]]) -> None:
    for link in db.session.scalars(select(GoalLink).where(GoalLink.goal_id == goal.id)):
        db.session.delete(link)
    for question_id, option in dict.fromkeys(links):
        db.session.add(GoalLink(goal_id=goal.id, question_id=question_id, option=option))


def draft_goal(actor: Person, data: GoalInput) -> Goal:
    """R15: the chair drafts a goal from the survey's results; members see it and comment."""
    policy.require(actor, Permission.GOAL_MANAGE)
    _check(data)
    goal = Goal(
        year=data.year,
        title=data.title.strip(),
        description=data.description.strip(),
        owner_id=data.owner_id,
        target_on=data.target_on,
        survey_id=data.survey_id,
        created_by_id=actor.id,
    )
    db.session.add(goal)
    db.session.flush()
    _set_links(goal, data.links)
    audit.record(actor, Action.GOAL_DRAFTED, goal)
    return goal


def update_goal(actor: Person, goal: Goal, data: GoalInput) -> None:
    """Edit a goal; a published goal keeps its year (its page is already public)."""
    policy.require(actor, Permission.GOAL_MANAGE)
    _check(data)
    if goal.published and data.year != goal.year:
        raise Conflict("A published goal keeps its year.")
    goal.year = data.year
    goal.title = data.title.strip()
    goal.description = data.description.strip()
    goal.owner_id = data.owner_id
    goal.target_on = data.target_on
    goal.survey_id = data.survey_id
    goal.updated_at = utcnow()
    _set_links(goal, data.links)
    audit.record(actor, Action.GOAL_UPDATED, goal)


def comment(actor: Person, goal: Goal, body: str) -> GoalComment:
    """A member comments on a goal (a draft, or a published one)."""
    policy.require(actor, Permission.GOAL_COMMENT)
    body = body.strip()
    if not body:
        raise Invalid("Write a comment first.")
    if len(body) > MAX_TEXT:
        raise Invalid("Keep the comment shorter.")
    note = GoalComment(goal_id=goal.id, author_id=actor.id, body=body)
    db.session.add(note)
    db.session.flush()
    audit.record(actor, Action.GOAL_COMMENTED, note)
    return note


def drafts_to_publish(actor: Person, year: int) -> list[Goal]:
    """R15: the year's draft goals the chair would publish (a Conflict when there are none),
    shown on the confirmation step before the act mails the membership."""
    policy.require(actor, Permission.GOAL_PUBLISH)
    drafts = list(
        db.session.scalars(
            select(Goal).where(Goal.year == year, Goal.published_at.is_(None)).order_by(Goal.id)
        )
    )
    if not drafts:
        raise Conflict(f"There are no draft goals for {year} to publish.")
    return drafts


def publish_year(actor: Person, year: int, note: str = "") -> GoalPublication:
    """R15: the chair's explicit act: the year's drafts become public, the feed updates, and
    the announcement goes to every member and to the foundation's announcement address.
    """
    drafts = drafts_to_publish(actor, year)
    publication = GoalPublication(year=year, published_by_id=actor.id, note=note.strip())
    db.session.add(publication)
    db.session.flush()
    now = utcnow()
    for goal in drafts:
        goal.published_at = now
        goal.publication_id = publication.id
        db.session.add(
            GoalUpdate(goal_id=goal.id, status=goal.status, note="Published.", author_id=actor.id)
        )
        audit.record(actor, Action.GOAL_PUBLISHED, goal)
    audit.record(actor, Action.GOALS_PUBLISHED, publication, plural(len(drafts), "goal"))
    dispatch_mail()
    return publication


def add_update(actor: Person, goal: Goal, status: GoalStatus, note: str) -> GoalUpdate:
    """A dated status update of a published goal."""
    policy.require(actor, Permission.GOAL_MANAGE)
    if not goal.published:
        raise Conflict("Publish the goal before recording its progress.")
    note = note.strip()
    if status == goal.status and not note:
        raise Invalid("Change the status or write what happened.")
    goal.status = status
    goal.updated_at = utcnow()
    update = GoalUpdate(goal_id=goal.id, status=status, note=note, author_id=actor.id)
    db.session.add(update)
    db.session.flush()
    audit.record(actor, Action.GOAL_STATUS_UPDATED, goal, f"{status.label}: {note}")
    return update


def feed_entries(year: int) -> tuple[list[Goal], datetime]:
    """The year's published goals and the time the feed last changed."""
    goals = goals_of_year(year)
    if not goals:
        raise NotFound(f"No goals have been published for {year}.")
    # Published goals only, so every one has its time of publication.
    updated = max([g.updated_at for g in goals] + [g.published_at for g in goals if g.published_at])
    latest_update = db.session.scalar(
        select(func.max(GoalUpdate.created_at)).where(GoalUpdate.goal_id.in_([g.id for g in goals]))
    )
    if latest_update and latest_update > updated:
        updated = latest_update
    return goals, updated
