"""Surveys, their answers, the goals published from them, and project milestones (R15).

Anonymity is a property of the schema, not only of the pages: a response to an anonymous
survey has no person column filled and no time at all, it is listed by a random sort key
(never by when it came in), and who answered lives in ``SurveyParticipant``, which has no
column pointing at a response.
"""

from __future__ import annotations

import secrets
from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from infrawg.enums import LabelledEnum
from infrawg.extensions import Model, enum_type
from infrawg.timeutil import utcnow

if TYPE_CHECKING:
    from infrawg.membership.models import Person
    from infrawg.tenants.models import TenantOrganisation


class Audience(LabelledEnum):
    MEMBERS = "members", "Members"
    TENANTS = "tenants", "Tenant organisations"
    BOTH = "both", "Members and tenant organisations"

    @property
    def sections(self) -> tuple[Section, ...]:
        if self is Audience.BOTH:
            return (Section.MEMBERS, Section.TENANTS)
        return (Section(self.value),)


class Section(LabelledEnum):
    """Who a question (and a response) is for: members, or one organisation's liaisons."""

    MEMBERS = "members", "Members"
    TENANTS = "tenants", "Tenant organisations"


class QuestionKind(LabelledEnum):
    SINGLE = "single", "Single choice"
    MULTIPLE = "multiple", "Multiple choice"
    RATING = "rating", "Rating 1-5"
    TEXT = "text", "Free text"
    RANK = "rank", "Rank these options"

    @property
    def has_options(self) -> bool:
        return self in (QuestionKind.SINGLE, QuestionKind.MULTIPLE, QuestionKind.RANK)


class SurveyState(LabelledEnum):
    DRAFT = "draft", "Draft"
    OPEN = "open", "Open"
    CLOSED = "closed", "Closed"


class Survey(Model):
    """The annual survey of tenants and members (R15)."""

    __tablename__ = "survey"
    __table_args__ = (Index("ix_survey_year", "year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    year: Mapped[int]
    intro: Mapped[str] = mapped_column(Text, default="")
    audience: Mapped[Audience] = mapped_column(enum_type(Audience))
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    opens_on: Mapped[date]
    closes_on: Mapped[date]
    # Days before closing when the reminder goes to those who have not answered; None: none.
    reminder_days: Mapped[int | None]
    opened_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    copied_from_id: Mapped[int | None] = mapped_column(ForeignKey("survey.id"))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    questions: Mapped[list[Question]] = relationship(
        back_populates="survey", lazy="raise", order_by="Question.position"
    )

    def state_on(self, today: date) -> SurveyState:
        if self.opened_at is None:
            return SurveyState.DRAFT
        if self.closed_at is not None or today > self.closes_on:
            return SurveyState.CLOSED
        return SurveyState.OPEN

    @property
    def state(self) -> SurveyState:
        return self.state_on(utcnow().date())

    @property
    def audit_label(self) -> str:
        return f"survey #{self.id} {self.title} ({self.year})"


class SurveyManager(Model):
    """A staff member the chair delegated one survey to."""

    __tablename__ = "survey_manager"

    survey_id: Mapped[int] = mapped_column(ForeignKey("survey.id"), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), primary_key=True)
    added_at: Mapped[datetime] = mapped_column(default=utcnow)

    person: Mapped[Person] = relationship(lazy="raise")


class Question(Model):
    __tablename__ = "survey_question"
    __table_args__ = (Index("ix_survey_question_survey_position", "survey_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("survey.id"))
    section: Mapped[Section] = mapped_column(enum_type(Section))
    position: Mapped[int]
    kind: Mapped[QuestionKind] = mapped_column(enum_type(QuestionKind))
    prompt: Mapped[str] = mapped_column(String(500))
    # One option per line (single, multiple, rank).
    options_text: Mapped[str] = mapped_column(Text, default="")
    required: Mapped[bool] = mapped_column(Boolean, default=False)

    survey: Mapped[Survey] = relationship(back_populates="questions", lazy="raise")

    @property
    def options(self) -> list[str]:
        return [line.strip() for line in self.options_text.splitlines() if line.strip()]

    @property
    def audit_label(self) -> str:
        return f"question #{self.id} of survey #{self.survey_id}"


def random_sort_key() -> int:
    return secrets.randbelow(2**31)


class Response(Model):
    """A submitted response: one per member, or one per organisation for the tenant section.

    ``person_id`` names who (last) submitted it, and stays empty on anonymous surveys.
    ``version`` counts the saves of a tenant sheet: a save names the version it was made
    from, and the UPDATE matches only that version (a second editor is told, not obeyed).
    """

    __tablename__ = "survey_response"
    __table_args__ = (
        UniqueConstraint("survey_id", "organisation_id", name="uq_survey_response_organisation"),
        Index("ix_survey_response_survey_section", "survey_id", "section"),
        Index("ix_survey_response_survey_sort_key", "survey_id", "sort_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("survey.id"))
    section: Mapped[Section] = mapped_column(enum_type(Section))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("tenant_organisation.id"))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    # R15: an anonymous response keeps no time (not even the day: on a quiet day the day
    # alone names the one member who answered then).
    submitted_at: Mapped[datetime | None]
    # Every list and export of responses goes in this order, drawn at insert: it says
    # nothing about who answered first (ids and times do).
    sort_key: Mapped[int] = mapped_column(default=lambda: random_sort_key())
    version: Mapped[int] = mapped_column(default=1, server_default="1")

    person: Mapped[Person | None] = relationship(lazy="raise")
    organisation: Mapped[TenantOrganisation | None] = relationship(lazy="raise")

    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}

    @property
    def audit_label(self) -> str:
        return f"response #{self.id} to survey #{self.survey_id}"


class Answer(Model):
    """One value of a response: the chosen option, the rating, the rank of an option, a text."""

    __tablename__ = "survey_answer"
    __table_args__ = (
        Index("ix_survey_answer_question_option_value", "question_id", "option", "value"),
        Index("ix_survey_answer_response", "response_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[int] = mapped_column(ForeignKey("survey_response.id", ondelete="CASCADE"))
    question_id: Mapped[int] = mapped_column(ForeignKey("survey_question.id"))
    option: Mapped[int | None]  # index into the question's options
    # Rating 1-5; the rank (1 = first) of ``option``; for a multiple choice, how many
    # options the answer chose.
    value: Mapped[int | None]
    text: Mapped[str | None] = mapped_column(Text)


class SurveyParticipant(Model):
    """Only that a person answered (the once-only rule), never which response is theirs."""

    __tablename__ = "survey_participant"

    survey_id: Mapped[int] = mapped_column(ForeignKey("survey.id"), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), primary_key=True)


class ClosingFigure(Model):
    """A section's response rate as it stood when the survey closed: its audience (the
    members, or the organisations receiving services, then) and its responses. Written
    once, at closing (by hand, or by the job after the closing date), so that people who
    join or leave later do not move a closed survey's rate."""

    __tablename__ = "survey_closing_figure"

    survey_id: Mapped[int] = mapped_column(ForeignKey("survey.id"), primary_key=True)
    section: Mapped[Section] = mapped_column(enum_type(Section), primary_key=True)
    audience: Mapped[int]
    responses: Mapped[int]
    frozen_at: Mapped[datetime] = mapped_column(default=utcnow)


class SurveyDraft(Model):
    """Answers saved to resume later; removed when the response is submitted.

    A member's draft is theirs; a tenant draft belongs to the organisation, so another
    tenant member can pick it up.
    """

    __tablename__ = "survey_draft"
    __table_args__ = (
        UniqueConstraint("survey_id", "person_id", name="uq_survey_draft_person"),
        UniqueConstraint("survey_id", "organisation_id", name="uq_survey_draft_organisation"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("survey.id"))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("tenant_organisation.id"))
    answers: Mapped[str] = mapped_column(Text)  # JSON: {question id: [values]}
    saved_at: Mapped[datetime] = mapped_column(default=utcnow)
    # As on Response: an organisation's draft is saved only over the version it was read at.
    version: Mapped[int] = mapped_column(default=1, server_default="1")

    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}


class MailKind(StrEnum):
    INVITATION = "invitation"
    REMINDER = "reminder"
    GOALS = "goals"


class SentMail(Model):
    """The ledger that makes sending idempotent: one row per mail, never sent twice."""

    __tablename__ = "survey_sent_mail"
    __table_args__ = (
        UniqueConstraint("kind", "subject_id", "address", name="uq_survey_sent_mail_once"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[MailKind] = mapped_column(enum_type(MailKind))
    subject_id: Mapped[int]  # survey id, or goal publication id
    address: Mapped[str] = mapped_column(String(320))
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReminderOptOut(Model):
    """A person who asked (with one click) for no more reminders of this survey."""

    __tablename__ = "survey_reminder_opt_out"

    survey_id: Mapped[int] = mapped_column(ForeignKey("survey.id"), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)


# Goals -----------------------------------------------------------------------------------


class GoalStatus(LabelledEnum):
    PLANNED = "planned", "Planned"
    IN_PROGRESS = "in_progress", "In progress"
    DONE = "done", "Done"
    DROPPED = "dropped", "Dropped"


class GoalPublication(Model):
    """The chair's explicit act that makes the year's drafted goals public (R15)."""

    __tablename__ = "goal_publication"

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(index=True)
    published_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_by_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    note: Mapped[str] = mapped_column(Text, default="")

    @property
    def audit_label(self) -> str:
        return f"goals of {self.year}, publication #{self.id}"


class Goal(Model):
    __tablename__ = "goal"
    __table_args__ = (Index("ix_goal_year_published", "year", "published_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int]
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    target_on: Mapped[date | None]
    status: Mapped[GoalStatus] = mapped_column(enum_type(GoalStatus), default=GoalStatus.PLANNED)
    survey_id: Mapped[int | None] = mapped_column(ForeignKey("survey.id"))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_at: Mapped[datetime | None]
    publication_id: Mapped[int | None] = mapped_column(ForeignKey("goal_publication.id"))

    owner: Mapped[Person | None] = relationship(foreign_keys=[owner_id], lazy="raise")
    links: Mapped[list[GoalLink]] = relationship(lazy="raise", order_by="GoalLink.id")
    updates: Mapped[list[GoalUpdate]] = relationship(
        lazy="raise", order_by="GoalUpdate.created_at.desc()"
    )

    @property
    def published(self) -> bool:
        return self.published_at is not None

    @property
    def audit_label(self) -> str:
        return f"goal #{self.id} {self.title} ({self.year})"


class GoalLink(Model):
    """A survey question (or one answer option of it) that motivated a goal."""

    __tablename__ = "goal_link"
    __table_args__ = (Index("ix_goal_link_goal", "goal_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    goal_id: Mapped[int] = mapped_column(ForeignKey("goal.id", ondelete="CASCADE"))
    question_id: Mapped[int] = mapped_column(ForeignKey("survey_question.id"))
    option: Mapped[int | None]

    question: Mapped[Question] = relationship(lazy="raise")

    @property
    def option_label(self) -> str | None:
        options = self.question.options
        if self.option is None or self.option >= len(options):
            return None
        return options[self.option]


class GoalComment(Model):
    """A member's comment on a goal (internal to the group, R16)."""

    __tablename__ = "goal_comment"
    __table_args__ = (Index("ix_goal_comment_goal_created", "goal_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    goal_id: Mapped[int] = mapped_column(ForeignKey("goal.id", ondelete="CASCADE"))
    author_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    author: Mapped[Person] = relationship(lazy="raise")

    @property
    def audit_label(self) -> str:
        return f"comment #{self.id} on goal #{self.goal_id}"


class GoalUpdate(Model):
    """A dated update of a published goal's status."""

    __tablename__ = "goal_update"
    __table_args__ = (Index("ix_goal_update_goal_created", "goal_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    goal_id: Mapped[int] = mapped_column(ForeignKey("goal.id", ondelete="CASCADE"))
    status: Mapped[GoalStatus] = mapped_column(enum_type(GoalStatus))
    note: Mapped[str] = mapped_column(Text, default="")
    author_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def audit_label(self) -> str:
        return f"update #{self.id} of goal #{self.goal_id}"


# Milestones ------------------------------------------------------------------------------


class ProjectKind(LabelledEnum):
    OWN = "own", "The group's own project"
    HELP = "help", "Planning help for a working group"


class MilestoneStatus(LabelledEnum):
    PLANNED = "planned", "Planned"
    IN_PROGRESS = "in_progress", "In progress"
    DONE = "done", "Done"
    SLIPPED = "slipped", "Slipped"


class Project(Model):
    """A project with milestones, internal to the group (R15, R16)."""

    __tablename__ = "project"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[ProjectKind] = mapped_column(enum_type(ProjectKind))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("tenant_organisation.id"))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    organisation: Mapped[TenantOrganisation | None] = relationship(lazy="raise")
    milestones: Mapped[list[Milestone]] = relationship(
        lazy="raise", order_by="(Milestone.due_on, Milestone.id)"
    )

    @property
    def audit_label(self) -> str:
        return f"project {self.slug}"


class Milestone(Model):
    __tablename__ = "milestone"
    __table_args__ = (Index("ix_milestone_project_due", "project_id", "due_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"))
    title: Mapped[str] = mapped_column(String(200))
    due_on: Mapped[date]
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    status: Mapped[MilestoneStatus] = mapped_column(
        enum_type(MilestoneStatus), default=MilestoneStatus.PLANNED
    )
    notes: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    owner: Mapped[Person | None] = relationship(lazy="raise")

    @property
    def audit_label(self) -> str:
        return f"milestone #{self.id} of project #{self.project_id}"

    def overdue_on(self, today: date) -> bool:
        """Past its date and not done (a slipped one is overdue too)."""
        return self.due_on < today and self.status != MilestoneStatus.DONE


class CalendarToken(Model):
    """A member's secret .ics link for one project; only its hash is kept; revocable."""

    __tablename__ = "project_calendar_token"
    __table_args__ = (Index("ix_project_calendar_token_person", "project_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]

    @property
    def audit_label(self) -> str:
        return f"calendar link #{self.id} of project #{self.project_id}"
