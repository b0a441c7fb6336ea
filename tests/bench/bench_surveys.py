"""Survey benchmarks: `python tests/bench/bench_surveys.py` (not collected by pytest).

A closed survey with 5,000 responses to 20 questions (single, multiple, rating, rank and
free-text questions: about 165,000 answer rows), on a fresh database built by the migrations
(SQLite, or the PostgreSQL server INFRAWG_TEST_DATABASE_URL names). Prints, as a table:

1. the results page (server time, median of 7, as the chair),
2. the CSV export: time to the first row, total time, and that it is streamed.

Target: results page <= 150 ms; export streamed.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import tempfile
import time
from datetime import date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # a script run from anywhere: find infrawg and tests

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import insert  # noqa: E402

from infrawg import create_app  # noqa: E402
from infrawg.extensions import db  # noqa: E402
from infrawg.governance.models import Role, RoleGrant  # noqa: E402
from infrawg.membership.models import MembershipStatus, Person  # noqa: E402
from infrawg.surveys.models import (  # noqa: E402
    Answer,
    Audience,
    Question,
    QuestionKind,
    Response,
    Section,
    Survey,
)
from tests.conftest import session_user_id  # noqa: E402
from tests.servers.live import fresh_database  # noqa: E402

RESPONSES = 5_000
KINDS = [QuestionKind.SINGLE] * 6 + [QuestionKind.MULTIPLE] * 4 + [QuestionKind.RATING] * 4
KINDS += [QuestionKind.RANK] * 3 + [QuestionKind.TEXT] * 3
TARGET_MS = 150


def populate() -> tuple[int, int]:
    chair = Person(
        name="Bench Chair",
        email="chair@bench.example",
        status=MembershipStatus.MEMBER,
        declared_foundation_member=True,
    )
    db.session.add(chair)
    db.session.flush()
    db.session.add(RoleGrant(person_id=chair.id, role=Role.CHAIR, authority="bench"))
    survey = Survey(
        title="Bench survey",
        year=2025,
        audience=Audience.MEMBERS,
        anonymous=True,
        opens_on=date(2025, 10, 1),
        closes_on=date(2025, 10, 31),
        opened_at=datetime(2025, 10, 1),
        closed_at=datetime(2025, 10, 31),
        created_by_id=chair.id,
    )
    db.session.add(survey)
    db.session.flush()
    questions = []
    for position, kind in enumerate(KINDS, start=1):
        question = Question(
            survey_id=survey.id,
            section=Section.MEMBERS,
            position=position,
            kind=kind,
            prompt=f"Question {position} ({kind.label})",
            options_text="\n".join(f"Option {i}" for i in range(4)) if kind.has_options else "",
        )
        db.session.add(question)
        questions.append(question)
    db.session.flush()
    rng = random.Random(15)
    db.session.execute(
        insert(Response),
        [
            {
                "survey_id": survey.id,
                "section": Section.MEMBERS,
                "submitted_at": datetime(2025, 10, 1 + i % 30),
            }
            for i in range(RESPONSES)
        ],
    )
    first = db.session.scalar(db.select(db.func.min(Response.id)))
    rows = []
    for response_id in range(first, first + RESPONSES):
        for q in questions:
            if q.kind == QuestionKind.SINGLE:
                rows.append((response_id, q.id, rng.randrange(4), None, None))
            elif q.kind == QuestionKind.MULTIPLE:
                for option in rng.sample(range(4), 2):
                    rows.append((response_id, q.id, option, 2, None))
            elif q.kind == QuestionKind.RATING:
                rows.append((response_id, q.id, None, rng.randint(1, 5), None))
            elif q.kind == QuestionKind.RANK:
                for place, option in enumerate(rng.sample(range(4), 4), start=1):
                    rows.append((response_id, q.id, option, place, None))
            elif rng.random() < 0.5:
                rows.append((response_id, q.id, None, None, f"Idea {rng.randrange(10_000)}"))
    keys = ("response_id", "question_id", "option", "value", "text")
    for start in range(0, len(rows), 20_000):
        db.session.execute(
            insert(Answer), [dict(zip(keys, r, strict=True)) for r in rows[start : start + 20_000]]
        )
    db.session.commit()
    return survey.id, chair.id, len(rows)


def main() -> None:
    base = os.environ.get("INFRAWG_TEST_DATABASE_URL")
    with tempfile.TemporaryDirectory() as tmp, fresh_database(base, Path(tmp)) as url:
        app = create_app(
            {
                "TESTING": True,
                "SECRET_KEY": "bench",
                "DATABASE_URL": url,
                "MAIL_BACKEND": "outbox",
                "BASE_URL": "http://localhost",
            }
        )
        with app.app_context():
            upgrade(revision="heads")
            survey_id, chair_id, answers = populate()
            chair_key = session_user_id(db.session.get(Person, chair_id))
        client = app.test_client()
        with client.session_transaction() as session:
            session["_user_id"] = chair_key
            session["_fresh"] = True

        page_times = []
        for _ in range(8):
            start = time.perf_counter()
            response = client.get(f"/surveys/{survey_id}/results")
            page_times.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200, response.status_code
        page_ms = statistics.median(page_times[1:])  # the first warms the caches

        start = time.perf_counter()
        export = client.get(f"/surveys/{survey_id}/results.csv", buffered=False)
        chunks = iter(export.response)
        first_row = next(chunks)
        first_ms = (time.perf_counter() - start) * 1000
        size, lines = len(first_row), first_row.count(b"\n")
        for chunk in chunks:
            size += len(chunk)
            lines += chunk.count(b"\n")
        total_ms = (time.perf_counter() - start) * 1000
        export.close()
        streamed = export.is_streamed

        engine = url.split(":", 1)[0]
        print(
            f"\nSurvey benchmarks on {engine}: {RESPONSES:,} responses x {len(KINDS)} questions "
            f"({answers:,} answer rows)\n"
        )
        print(f"| {'measure':<40} | {'value':>14} | {'target':>12} |")
        print(f"|{'-' * 42}|{'-' * 16}|{'-' * 14}|")
        verdict = "ok" if page_ms <= TARGET_MS else "MISSED"
        print(
            f"| {'results page, server time (median of 7)':<40} | {page_ms:>11.1f} ms "
            f"| <= {TARGET_MS} ms {verdict:>2} |"
        )
        print(f"| {'CSV export: first row':<40} | {first_ms:>11.1f} ms | {'':>12} |")
        print(f"| {'CSV export: all rows':<40} | {total_ms:>11.1f} ms | {'':>12} |")
        print(f"| {'CSV export: lines, size':<40} | {lines:>6,} {size / 1e6:>5.1f} MB | {'':>12} |")
        print(f"| {'CSV export streamed':<40} | {streamed!s:>14} | {'True':>12} |")
        with app.app_context():
            db.engine.dispose()


if __name__ == "__main__":
    main()
