"""Schedules: a job declared with ``@job(name, every=timedelta(...))`` runs that often.

Time is cut into slots of ``every`` from 1970-01-01 00:00 UTC (a daily job's slot starts at
midnight, an hourly one's on the hour). `tick()` enqueues, for each schedule, one run of the
slot ``now`` is in, keyed ``"<name>@<slot start, ISO>"`` in the job table's unique
``run_key``: whoever ticks first (the embedded worker, each `flask infrawg worker`, the
systemd timer's `flask infrawg tick`) inserts it, and every other tick of that slot finds
the key taken (``INSERT ... ON CONFLICT DO NOTHING``, on SQLite and PostgreSQL alike), so a
run is enqueued exactly once however many processes tick. With Redis, the new run is pushed
to RQ after the commit like any job; the table decides, so it works the same without.

A schedule whose previous run has not finished yet (queued, running, failing with retries
to come) is not enqueued again until it has: a list server that is down gets one run
retrying with back-off, not one more every slot.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import delete, func, select

from infrawg import audit
from infrawg.actions import Action
from infrawg.errors import Conflict, NotFound
from infrawg.extensions import db, insert_ignoring
from infrawg.jobs.models import Job, JobLogLine, JobState
from infrawg.jobs.runner import JOBS, JobContext, JobSpec, _push_after_commit, enqueue, job
from infrawg.timeutil import utcnow

log = logging.getLogger(__name__)
EPOCH = datetime(1970, 1, 1)
PENDING_STATES = (JobState.QUEUED, JobState.RUNNING, JobState.FAILED)


def scheduled() -> list[JobSpec]:
    """The registered jobs that run on a schedule, by name."""
    return sorted((s for s in JOBS.values() if s.every is not None), key=lambda s: s.name)


def slot_start(every: timedelta, now: datetime) -> datetime:
    """The start of the slot of ``every`` that ``now`` is in."""
    return EPOCH + ((now - EPOCH) // every) * every


def run_key(name: str, slot: datetime) -> str:
    return f"{name}@{slot.isoformat()}"


def _pending_kinds(names: list[str]) -> set[str]:
    return set(
        db.session.scalars(
            select(Job.kind).where(Job.kind.in_(names), Job.state.in_(PENDING_STATES)).distinct()
        )
    )


def _insert_once(spec: JobSpec, key: str, now: datetime) -> int | None:
    """Insert the run keyed ``key`` unless it exists; its id, or None when it did."""
    stmt = insert_ignoring(
        Job,
        ["run_key"],
        kind=spec.name,
        args={},
        state=JobState.QUEUED,
        attempts=0,
        max_attempts=spec.max_attempts,
        next_run_at=now,
        created_at=now,
        run_key=key,
    ).returning(Job.id)
    return db.session.scalar(stmt)


def tick(now: datetime | None = None) -> list[int]:
    """Enqueue every scheduled run that is due, once; commit, and return the new jobs' ids."""
    now = now or utcnow()
    specs = scheduled()
    busy = _pending_kinds([s.name for s in specs]) if specs else set()
    created: list[int] = []
    for spec in specs:
        assert spec.every is not None
        if spec.name in busy:
            continue
        job_id = _insert_once(spec, run_key(spec.name, slot_start(spec.every, now)), now)
        if job_id is not None:
            created.append(job_id)
            _push_after_commit(job_id)
    db.session.commit()
    return created


@dataclass(frozen=True)
class Schedule:
    """One schedule as staff see it: how often, its last run, when the tick runs it next."""

    name: str
    every: timedelta
    last: Job | None
    next_at: datetime  # the tick enqueues a run at (or, when it is in the past, from) here
    running: bool  # a run is queued or under way: "Run now" waits for it

    @property
    def every_label(self) -> str:
        return every_label(self.every)


def every_label(every: timedelta) -> str:
    seconds = int(every.total_seconds())
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds % size == 0:
            count = seconds // size
            return f"every {unit}" if count == 1 else f"every {count} {unit}s"
    return f"every {seconds} s"


def schedules(now: datetime | None = None) -> list[Schedule]:
    """Every schedule with its last run and next run (two queries, whatever their number)."""
    now = now or utcnow()
    specs = scheduled()
    if not specs:
        return []
    names = [s.name for s in specs]
    latest = (
        select(func.max(Job.id)).where(Job.kind.in_(names)).group_by(Job.kind).scalar_subquery()
    )
    last = {j.kind: j for j in db.session.scalars(select(Job).where(Job.id.in_(latest)))}
    keys = {s.name: run_key(s.name, slot_start(s.every, now)) for s in specs if s.every is not None}
    taken = set(db.session.scalars(select(Job.run_key).where(Job.run_key.in_(keys.values()))))
    found: list[Schedule] = []
    for spec in specs:
        assert spec.every is not None
        slot = slot_start(spec.every, now)
        previous = last.get(spec.name)
        running = previous is not None and previous.state in PENDING_STATES
        found.append(
            Schedule(
                name=spec.name,
                every=spec.every,
                last=previous,
                next_at=slot + spec.every if keys[spec.name] in taken else slot,
                running=running,
            )
        )
    return found


def run_now(actor: Any, name: str) -> Job:
    """Staff: enqueue a run of the schedule ``name`` now, outside its slots (audited).

    Refused while a run of it is queued or under way (it would only do the same work)."""
    spec = JOBS.get(name)
    if spec is None or spec.every is None:
        raise NotFound(f"There is no schedule called {name!r}.")
    if name in _pending_kinds([name]):
        raise Conflict(f"A run of {name} is already queued or under way.")
    new = enqueue(name)
    audit.record(actor, Action.JOB_RUN_NOW, new, f"{name} ({every_label(spec.every)})")
    return new


# Scheduled runs come back every few minutes; those that succeeded are kept this long (the
# ones that failed or gave up, and every job an act enqueued, stay for staff).
KEEP_SUCCEEDED_RUNS = timedelta(days=30)
PRUNE = "jobs.prune"


@job(PRUNE, max_attempts=3, every=timedelta(days=1))
def prune(ctx: JobContext) -> None:
    """Delete the scheduled runs that succeeded over 30 days ago, with their log lines."""
    old = select(Job.id).where(
        Job.run_key.is_not(None),
        Job.state == JobState.SUCCEEDED,
        Job.finished_at < utcnow() - KEEP_SUCCEEDED_RUNS,
    )
    ids = list(db.session.scalars(old.limit(5000)))
    if ids:
        db.session.execute(delete(JobLogLine).where(JobLogLine.job_id.in_(ids)))
        db.session.execute(delete(Job).where(Job.id.in_(ids)))
    ctx.log(f"deleted {len(ids)} scheduled run(s) that succeeded over 30 days ago")


class Ticker:
    """What a worker loop calls on each turn: `tick()` once ``interval`` seconds have passed
    since its last (INFRAWG_TICK_INTERVAL; 0 never: the timer's `flask infrawg tick` does)."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.last: float | None = None

    def __call__(self) -> list[int]:
        if self.interval <= 0:
            return []
        now = time.monotonic()
        if self.last is not None and now - self.last < self.interval:
            return []
        self.last = now
        return tick()


def start_ticker(app: Flask, interval: float) -> threading.Thread | None:
    """Tick every ``interval`` seconds from a daemon thread (beside an RQ worker, whose loop
    is RQ's own)."""
    if interval <= 0:
        return None
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            with app.app_context():
                try:
                    tick()
                except Exception:
                    log.exception("the tick failed; trying again in %s s", interval)
                finally:
                    db.session.remove()
            stop.wait(interval)

    thread = threading.Thread(target=loop, name="infrawg-tick", daemon=True)
    thread.stop = stop  # type: ignore[attr-defined]
    thread.start()
    return thread
