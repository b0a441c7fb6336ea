"""Demo data of membership: the mailing list's sync jobs as staff meet them when the list
server was down for a while, one that failed and then succeeded on its retry, and one that
gave up (staff retry it from the jobs page; under `make run` the retry succeeds)."""

from __future__ import annotations

from datetime import timedelta

from infrawg.extensions import db
from infrawg.jobs.models import Job, JobLogLine, JobState
from infrawg.membership.lists import SYNC_JOB
from infrawg.membership.models import Person
from infrawg.timeutil import utcnow

DOWN = "Mailman at http://127.0.0.1:8001 did not answer: connection refused"


def load_demo(people: dict[str, Person]) -> None:
    now = utcnow()
    retried = Job(
        kind=SYNC_JOB,
        args={"email": "member1@example.org"},
        state=JobState.SUCCEEDED,
        attempts=2,
        created_at=now - timedelta(hours=3),
        started_at=now - timedelta(hours=3) + timedelta(seconds=30),
        finished_at=now - timedelta(hours=3) + timedelta(seconds=31),
        next_run_at=now - timedelta(hours=3) + timedelta(seconds=30),
    )
    gave_up = Job(
        kind=SYNC_JOB,
        args={"email": "member2@example.org"},
        state=JobState.DEAD,
        attempts=5,
        max_attempts=5,
        created_at=now - timedelta(hours=2),
        started_at=now - timedelta(minutes=20),
        finished_at=now - timedelta(minutes=20),
        next_run_at=now - timedelta(minutes=20),
        last_error=DOWN,
    )
    db.session.add_all([retried, gave_up])
    db.session.flush()
    lines = [
        (retried, 1, f"{DOWN}; next attempt in 30 s"),
        (retried, 2, "subscribed member1@example.org to the list"),
        *((gave_up, n, f"{DOWN}; next attempt later") for n in range(1, 5)),
        (gave_up, 5, f"{DOWN}; out of attempts: gave up"),
    ]
    for job, attempt, line in lines:
        db.session.add(JobLogLine(job_id=job.id, attempt=attempt, line=line))
