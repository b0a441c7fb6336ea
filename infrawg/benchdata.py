"""A foundation's worth of data on top of the demo, for the benchmarks (`flask infrawg
bench-data`): 10,000 members, 40 organisations, 50,000 archive messages, 5,000 survey
responses. Rows go in with Core inserts in chunks; the archive goes through the import
like any mbox (the corpus repeated, each copy with its own Message-IDs).
"""

from __future__ import annotations

import lzma
import random
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import click
from flask.cli import with_appcontext
from sqlalchemy import func, insert, select

from infrawg.extensions import db
from infrawg.membership.models import MembershipStatus, Person
from infrawg.surveys.models import (
    Answer,
    Question,
    QuestionKind,
    Response,
    Section,
    Survey,
    SurveyParticipant,
)
from infrawg.tenants.models import (
    OrganisationKind,
    OrganisationStatus,
    TenantMember,
    TenantOrganisation,
)
from infrawg.timeutil import utcnow

CHUNK = 2000
# The headers that name messages: each copy of the corpus renames what they hold.
_ID_HEADERS = (b"message-id:", b"in-reply-to:", b"references:")
_ANGLE_ID = re.compile(rb"<([^<>\s]+)>")


def replicate_mbox(source: Path, target: IO[bytes], messages: int) -> int:
    """Write ``messages`` messages: the mbox at ``source`` (plain or .xz) over and over,
    the Message-IDs of copy ``n`` (and the replies' references to them) prefixed with
    ``bench<n>.`` so that each copy is new mail in threads of its own. Returns the count."""
    written = 0
    copy = 0
    while written < messages:
        before = written
        for message in _messages(source):
            if written >= messages:
                break
            target.write(_renamed(message, copy) if copy else message)
            written += 1
        if written == before:
            break  # an empty source
        copy += 1
    return written


def _messages(source: Path) -> Iterator[bytes]:
    opener = lzma.open if source.suffix == ".xz" else open
    with opener(source, "rb") as lines:
        message: list[bytes] = []
        for line in lines:
            if line.startswith(b"From ") and message:
                yield b"".join(message)
                message = []
            message.append(line)
        if message:
            yield b"".join(message)


def _renamed(message: bytes, copy: int) -> bytes:
    head, sep, body = message.partition(b"\n\n")
    prefix = b"<bench%d." % copy
    lines = head.split(b"\n")
    renaming = False
    for i, line in enumerate(lines):
        if line[:1] in (b" ", b"\t"):  # a folded continuation of the header above
            pass
        else:
            renaming = line.lower().startswith(_ID_HEADERS)
        if renaming:
            lines[i] = _ANGLE_ID.sub(lambda m: prefix + m.group(1) + b">", line)
    return b"\n".join(lines) + sep + body


def _insert_chunked(table: Any, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), CHUNK):
        db.session.execute(insert(table), rows[start : start + CHUNK])


def add_people(count: int, password_hash: str | None) -> list[int]:
    """``count`` members (bench<n>@example.org); their ids."""
    first = (db.session.scalar(select(func.max(Person.id))) or 0) + 1
    now = utcnow()
    rows = [
        {
            "email": f"bench{n}@example.org",
            "name": f"Bench Member {n:05d}",
            "password_hash": password_hash,
            "status": MembershipStatus.MEMBER,
            "declared_foundation_member": True,
            "email_confirmed_at": now,
            "status_changed_at": now,
            "created_at": now,
        }
        for n in range(count)
    ]
    _insert_chunked(Person.__table__, rows)
    return list(
        db.session.scalars(
            select(Person.id).where(Person.id >= first, Person.email.like("bench%@example.org"))
        )
    )


def add_organisations(count: int, people: list[int]) -> None:
    """``count`` approved working groups, each with two of ``people`` as tenant members."""
    now = utcnow()
    rows = [
        {
            "kind": OrganisationKind.WG,
            "name": f"Bench Working Group {n:02d}",
            "slug": f"bench-wg-{n:02d}",
            "description": "",
            "mission": "",
            "status": OrganisationStatus.APPROVED,
            "approved_at": now,
            "services_suspended": False,
            "created_at": now,
        }
        for n in range(count)
    ]
    _insert_chunked(TenantOrganisation.__table__, rows)
    ids = db.session.scalars(
        select(TenantOrganisation.id).where(TenantOrganisation.slug.like("bench-wg-%"))
    ).all()
    members = [
        {"organisation_id": org, "person_id": people[(2 * i + k) % len(people)], "joined_at": now}
        for i, org in enumerate(ids)
        for k in (0, 1)
    ]
    _insert_chunked(TenantMember.__table__, members)


def add_responses(count: int, people: list[int]) -> int:
    """``count`` member responses to the most recent closed survey (its participants
    among ``people``); the number added."""
    survey = db.session.scalar(
        select(Survey).where(Survey.closed_at.is_not(None)).order_by(Survey.closed_at.desc())
    )
    if survey is None:
        return 0
    questions = db.session.scalars(
        select(Question).where(Question.survey_id == survey.id, Question.section == Section.MEMBERS)
    ).all()
    rng = random.Random(16)
    first = (db.session.scalar(select(func.max(Response.id))) or 0) + 1
    responses = [
        {
            "id": first + n,
            "survey_id": survey.id,
            "section": Section.MEMBERS,
            "submitted_at": None if survey.anonymous else utcnow(),
            "sort_key": rng.randrange(1 << 30),
            "version": 1,
        }
        for n in range(count)
    ]
    answers: list[dict[str, Any]] = []
    for response in responses:
        for question in questions:
            # Every row names every column: one executemany takes rows of one shape.
            row = {
                "response_id": response["id"],
                "question_id": question.id,
                "option": None,
                "value": None,
                "text": None,
            }
            options = len(question.options)
            if question.kind == QuestionKind.SINGLE and options:
                answers.append(row | {"option": rng.randrange(options)})
            elif question.kind == QuestionKind.MULTIPLE and options >= 2:
                for option in sorted(rng.sample(range(options), 2)):
                    answers.append(row | {"option": option, "value": 2})
            elif question.kind == QuestionKind.RATING:
                answers.append(row | {"value": rng.choice([2, 3, 4, 4, 5])})
            elif question.kind == QuestionKind.RANK and options:
                order = rng.sample(range(options), options)
                for place, option in enumerate(order, start=1):
                    answers.append(row | {"option": option, "value": place})
            elif question.kind == QuestionKind.TEXT and rng.random() < 0.2:
                answers.append(row | {"text": f"Bench idea {rng.randrange(1000)}"})
    _insert_chunked(Response.__table__, responses)
    _insert_chunked(Answer.__table__, answers)
    answered = set(
        db.session.scalars(
            select(SurveyParticipant.person_id).where(SurveyParticipant.survey_id == survey.id)
        )
    )
    participants = [
        {"survey_id": survey.id, "person_id": p} for p in people[:count] if p not in answered
    ]
    _insert_chunked(SurveyParticipant.__table__, participants)
    return count


@click.command("bench-data")
@click.option("--members", default=10_000, show_default=True)
@click.option("--organisations", default=40, show_default=True)
@click.option("--messages", default=50_000, show_default=True, help="In the list --list.")
@click.option("--responses", default=5_000, show_default=True)
@click.option("--list", "list_name", default="infra", show_default=True)
@click.option(
    "--corpus",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The mbox (plain or .xz) repeated to make the messages.",
)
@with_appcontext
def bench_data_command(
    members: int,
    organisations: int,
    messages: int,
    responses: int,
    list_name: str,
    corpus: Path | None,
) -> None:
    """Add a foundation's worth of data to the demo, for `make bench` (not for production:
    the members are made up)."""
    from infrawg.archives.ingest import import_mbox

    demo_hash = db.session.scalar(
        select(Person.password_hash).where(Person.email == "member1@example.org")
    )
    people = add_people(members, demo_hash)
    add_organisations(organisations, people)
    added = add_responses(responses, people)
    db.session.commit()
    click.echo(
        f"bench data: {len(people)} members, {organisations} organisations, "
        f"{added} survey responses"
    )
    if messages and corpus is not None:
        with tempfile.TemporaryDirectory(prefix="infrawg-bench-") as tmp:
            mbox = Path(tmp) / "bench.mbox"
            with mbox.open("wb") as target:
                replicate_mbox(corpus, target, messages)
            summary = import_mbox(db.session(), list_name, mbox)
        click.echo(f"bench data: {summary.line()}")
