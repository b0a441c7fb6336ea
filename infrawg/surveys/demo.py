"""Demo data of surveys: last year's survey with answers and the goals published from it,
this year's survey open, and a project with milestones, so a newcomer can walk the cycle.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import select

from infrawg.extensions import db
from infrawg.membership.models import MembershipStatus, Person
from infrawg.surveys import rates
from infrawg.surveys.models import (
    Answer,
    Audience,
    Goal,
    GoalComment,
    GoalLink,
    GoalPublication,
    GoalStatus,
    GoalUpdate,
    MailKind,
    Milestone,
    MilestoneStatus,
    Project,
    ProjectKind,
    Question,
    QuestionKind,
    Response,
    Section,
    SentMail,
    Survey,
    SurveyParticipant,
)
from infrawg.tenants.models import OrganisationStatus, TenantOrganisation
from infrawg.timeutil import utcnow

QUESTIONS = [
    (Section.MEMBERS, QuestionKind.SINGLE, "Which service matters most to you?", "DNS\nVMs\nTLS"),
    (Section.MEMBERS, QuestionKind.MULTIPLE, "Which services do you use?", "DNS\nVMs\nTLS\nMail"),
    (Section.MEMBERS, QuestionKind.RATING, "How well does the group answer requests?", ""),
    (Section.MEMBERS, QuestionKind.RANK, "Rank these for next year", "Backups\nIPv6\nDocs"),
    (Section.MEMBERS, QuestionKind.TEXT, "What should we do next year?", ""),
    (Section.TENANTS, QuestionKind.SINGLE, "Are your services reliable?", "Yes\nMostly\nNo"),
    (Section.TENANTS, QuestionKind.TEXT, "What does your organisation need?", ""),
]
IDEAS = ["IPv6 everywhere", "Offsite backups", "Better docs for tenants", "", "Faster DNS"]


def _survey(chair: Person, year: int, opens: date, closes: date, **extra) -> Survey:
    survey = Survey(
        title=f"Annual survey {year}",
        year=year,
        intro="Tell us how the group did this year; the answers set next year's goals.",
        audience=Audience.BOTH,
        opens_on=opens,
        closes_on=closes,
        reminder_days=5,
        created_by_id=chair.id,
        **extra,
    )
    db.session.add(survey)
    db.session.flush()
    for position, (section, kind, prompt, options) in enumerate(QUESTIONS, start=1):
        db.session.add(
            Question(
                survey_id=survey.id,
                section=section,
                position=position,
                kind=kind,
                prompt=prompt,
                options_text=options,
                required=position == 1,
            )
        )
    db.session.flush()
    return survey


def _answer(survey: Survey, section: Section, when: datetime, organisation_id=None) -> None:
    rng = random.Random(f"{survey.id}-{section}-{organisation_id}-{when}")
    response = Response(
        survey_id=survey.id,
        section=section,
        organisation_id=organisation_id,
        # R15: an anonymous response keeps no time (as the service stores it).
        submitted_at=None if survey.anonymous else when,
    )
    db.session.add(response)
    db.session.flush()
    questions = db.session.scalars(
        select(Question).where(Question.survey_id == survey.id, Question.section == section)
    )
    for question in questions:
        options = question.options
        if question.kind == QuestionKind.SINGLE:
            rows = [Answer(option=rng.randrange(len(options)))]
        elif question.kind == QuestionKind.MULTIPLE:
            rows = [Answer(option=i, value=2) for i in sorted(rng.sample(range(len(options)), 2))]
        elif question.kind == QuestionKind.RATING:
            rows = [Answer(value=rng.choice([3, 4, 4, 5]))]
        elif question.kind == QuestionKind.RANK:
            order = rng.sample(range(len(options)), len(options))
            rows = [Answer(option=o, value=place) for place, o in enumerate(order, start=1)]
        else:
            text = rng.choice(IDEAS)
            rows = [Answer(text=text)] if text else []
        for row in rows:
            row.response_id = response.id
            row.question_id = question.id
            db.session.add(row)


def load_demo(people: dict[str, Person]) -> None:
    """Last year's anonymous survey (answered, closed) and its published goals; this year's
    survey open; a project with milestones."""
    chair = people["chair@example.org"]
    today = utcnow().date()
    year = today.year
    members = [p for p in people.values() if p.status == MembershipStatus.MEMBER]
    organisations = list(
        db.session.scalars(
            select(TenantOrganisation).where(
                TenantOrganisation.status == OrganisationStatus.APPROVED
            )
        )
    )

    last = _survey(
        chair,
        year - 1,
        date(year - 1, 10, 1),
        date(year - 1, 10, 31),
        anonymous=True,
        opened_at=datetime(year - 1, 10, 1, 9),
        closed_at=datetime(year - 1, 10, 31, 23),
    )
    # R15: anonymous: the responses name nobody; the participant rows only say who answered.
    for person in members[:6]:
        _answer(last, Section.MEMBERS, datetime(year - 1, 10, 15))
        db.session.add(SurveyParticipant(survey_id=last.id, person_id=person.id))
    for organisation in organisations:
        _answer(last, Section.TENANTS, datetime(year - 1, 10, 20), organisation.id)
    db.session.flush()
    rates.freeze(last)  # as closing it would have

    published_at = datetime(year - 1, 12, 1, 10)
    publication = GoalPublication(
        year=year, published_by_id=chair.id, published_at=published_at, note="Thank you all."
    )
    db.session.add(publication)
    db.session.flush()
    # Those goals were announced when they were published: the ledger says so.
    for address in [p.email for p in members] + [current_app.config["ANNOUNCE_ADDRESS"]]:
        db.session.add(SentMail(kind=MailKind.GOALS, subject_id=publication.id, address=address))
    questions = {
        q.prompt: q
        for q in db.session.scalars(select(Question).where(Question.survey_id == last.id))
    }
    owner = people.get("staff1@example.org", chair)
    for title, description, status, prompt, option, target in [
        (
            "Offsite backups for every VM",
            "Backups ranked first for next year: copy every VM's backups to a second site.",
            GoalStatus.IN_PROGRESS,
            "Rank these for next year",
            0,
            date(year, 6, 30),
        ),
        (
            "IPv6 on all hosted services",
            "Members asked for IPv6 everywhere.",
            GoalStatus.PLANNED,
            "What should we do next year?",
            None,
            date(year, 12, 31),
        ),
    ]:
        goal = Goal(
            year=year,
            title=title,
            description=description,
            owner_id=owner.id,
            target_on=target,
            status=status,
            survey_id=last.id,
            created_by_id=chair.id,
            created_at=published_at - timedelta(days=10),
            updated_at=published_at,
            published_at=published_at,
            publication_id=publication.id,
        )
        db.session.add(goal)
        db.session.flush()
        db.session.add(GoalLink(goal_id=goal.id, question_id=questions[prompt].id, option=option))
        db.session.add(
            GoalUpdate(
                goal_id=goal.id,
                status=GoalStatus.PLANNED,
                note="Published.",
                author_id=chair.id,
                created_at=published_at,
            )
        )
        if status != GoalStatus.PLANNED:
            db.session.add(
                GoalUpdate(
                    goal_id=goal.id,
                    status=status,
                    note="Second backup site ordered.",
                    author_id=chair.id,
                    created_at=datetime(year, 3, 1, 9),
                )
            )
        db.session.add(
            GoalComment(
                goal_id=goal.id,
                author_id=people.get("member1@example.org", chair).id,
                body="Yes, please.",
                created_at=published_at - timedelta(days=5),
            )
        )

    # This year's survey, open for three more weeks (copied from last year's).
    _survey(
        chair,
        year,
        today - timedelta(days=7),
        today + timedelta(days=21),
        opened_at=utcnow() - timedelta(days=7),
        copied_from_id=last.id,
    )

    project = Project(
        name="Mail relay migration",
        slug="mail-relay",
        description="Move the foundation's mail relay to the new VMs.",
        kind=ProjectKind.OWN,
        created_by_id=chair.id,
    )
    db.session.add(project)
    db.session.flush()
    for title, offset, milestone_status in [
        ("Choose the relay software", -30, MilestoneStatus.DONE),
        ("Staging relay running", -5, MilestoneStatus.IN_PROGRESS),
        ("Switch MX records", 20, MilestoneStatus.PLANNED),
        ("Retire the old relay", 60, MilestoneStatus.PLANNED),
    ]:
        db.session.add(
            Milestone(
                project_id=project.id,
                title=title,
                due_on=today + timedelta(days=offset),
                owner_id=owner.id,
                status=milestone_status,
            )
        )
    if organisations:
        helped = Project(
            name=f"{organisations[0].name}: new website",
            slug="wg-website-plan",
            description="Planning help for the working group's move to a hosted site.",
            kind=ProjectKind.HELP,
            organisation_id=organisations[0].id,
            created_by_id=chair.id,
        )
        db.session.add(helped)
        db.session.flush()
        db.session.add(
            Milestone(
                project_id=helped.id,
                title="DNS zone delegated",
                due_on=today + timedelta(days=14),
                status=MilestoneStatus.PLANNED,
            )
        )
