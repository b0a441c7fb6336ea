"""Background jobs: persisted in the `job` table, retried with back-off, logged for staff.

The whole API for any area (provisioning, surveys, notices):

    from infrawg.provisioning.jobs import JobContext, enqueue, job

    @job("send_survey_mail", max_attempts=3)
    def send_survey_mail(ctx: JobContext, survey_id: int) -> None:
        ctx.log(f"mailing survey {survey_id}")
        ...                                   # db.session is yours; the runner commits

    enqueue("send_survey_mail", survey_id=survey.id)   # joins the caller's transaction

Rules for job functions:
- Arguments are JSON values: ids, not objects, and never a secret.
- Register from a module your area's `views` imports, so every process that builds the app
  (web, `flask infrawg worker`, an RQ worker) knows the name.
- Be idempotent: a job may run again after a crash between its work and its commit. Look at
  the world before acting (providers do: a second run plans nothing).
- The runner commits after the function returns and rolls everything back when it raises.
  A `DomainError` (Invalid, NotFound, UnsafePlan...) means a retry cannot help: the job is
  dead at once. Anything else is retried after 30 s, 60 s, 120 s... up to `max_attempts`.
  `on_dead(ctx, **args)` (optional) runs in its own transaction when the job gives up.

Runners (the same job functions in all three):
- `flask infrawg worker`: claims due jobs from the table (PostgreSQL: `FOR UPDATE SKIP
  LOCKED`; SQLite: an atomic compare-and-set UPDATE), so several workers never share a job.
- INFRAWG_EMBEDDED_WORKER=1: the same loop in a thread of the web process (`make run`).
- INFRAWG_REDIS_URL set: `enqueue` also pushes the job id to the RQ queue INFRAWG_RQ_QUEUE
  after commit; `flask infrawg worker` then runs an RQ worker. The table stays the record:
  RQ only says "job 42 is due", the claim still decides who runs it.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from flask import Flask, current_app, has_app_context
from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from infrawg import audit
from infrawg.errors import Conflict, DomainError, NotFound
from infrawg.extensions import db
from infrawg.provisioning.base import StalePlan
from infrawg.provisioning.models import Job, JobLogLine, JobState
from infrawg.timeutil import utcnow

__all__ = [
    "JobContext",
    "claim",
    "claim_next",
    "enqueue",
    "job",
    "retry",
    "run_due_jobs",
    "run_from_rq",
    "run_job",
    "start_embedded_worker",
]

log = logging.getLogger(__name__)

BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_MAX = timedelta(hours=1)
# A running job whose worker died is taken over after this long.
LEASE = timedelta(minutes=15)
RQ_ENTRY = "infrawg.provisioning.jobs.run_from_rq"
_PUSH_KEY = "infrawg_rq_push"


@dataclass
class JobContext:
    """Handed to a job function: its job row, and where to write log lines and the plan."""

    job: Job
    lines: list[str] = field(default_factory=list)
    plan: str | None = None

    def log(self, line: str) -> None:
        """A line for the job's log, which staff read in the UI. Never log a secret."""
        self.lines.append(line)
        log.info("job %s %s: %s", self.job.id, self.job.kind, line)

    def record_plan(self, text: str) -> None:
        """The diff this attempt is about to apply, shown beside the log."""
        self.plan = text


JobFunction = Callable[..., None]


@dataclass(frozen=True)
class JobSpec:
    name: str
    func: JobFunction
    max_attempts: int
    on_dead: JobFunction | None


JOBS: dict[str, JobSpec] = {}


def job(
    name: str, *, max_attempts: int = 5, on_dead: JobFunction | None = None
) -> Callable[[JobFunction], JobFunction]:
    """Register `func(ctx, **args)` as the job function called `name`."""

    def register(func: JobFunction) -> JobFunction:
        if name in JOBS and JOBS[name].func is not func:
            raise ValueError(f"A job called {name!r} is already registered")
        JOBS[name] = JobSpec(name, func, max_attempts, on_dead)
        return func

    return register


def enqueue(kind: str, **args: Any) -> Job:
    """Add a job to the caller's transaction; it runs after the transaction commits."""
    spec = JOBS.get(kind)
    if spec is None:
        raise ValueError(f"No job function is registered as {kind!r}")
    try:
        json.dumps(args)
    except TypeError as exc:
        raise ValueError(f"Job arguments must be JSON values (ids, not objects): {exc}") from exc
    new = Job(kind=kind, args=args, max_attempts=spec.max_attempts, next_run_at=utcnow())
    db.session.add(new)
    db.session.flush()
    _push_after_commit(new.id)
    return new


def retry(actor: Any, target: Job) -> Job:
    """Staff: run a failed or dead job again now, with a fresh budget of attempts."""
    if target.state not in (JobState.FAILED, JobState.DEAD):
        raise Conflict(
            f"Job #{target.id} is {target.state.label.lower()}; only a failed job can be retried."
        )
    spec = JOBS.get(target.kind)
    target.state = JobState.QUEUED
    target.next_run_at = utcnow()
    target.max_attempts = target.attempts + (spec.max_attempts if spec else 1)
    audit.record(actor, "job.retried", target, target.last_error)
    _push_after_commit(target.id)
    return target


# -- claiming ------------------------------------------------------------------------------------


def _due(now: Any, lease: timedelta) -> ColumnElement[bool]:
    return or_(
        and_(Job.state.in_((JobState.QUEUED, JobState.FAILED)), Job.next_run_at <= now),
        # The worker that held it died (a crash, a kill): another takes over.
        and_(Job.state == JobState.RUNNING, Job.started_at < now - lease),
    )


def _claimed_values(worker: str, now: Any) -> dict[str, Any]:
    return {
        "state": JobState.RUNNING,
        "attempts": Job.attempts + 1,
        "started_at": now,
        "locked_by": worker[:120],
    }


def claim(job_id: int, worker: str | None = None, lease: timedelta = LEASE) -> bool:
    """Take job `job_id` if it is due; True when this worker got it (compare-and-set)."""
    now = utcnow()
    result = db.session.execute(
        update(Job)
        .where(Job.id == job_id, _due(now, lease))
        .values(**_claimed_values(worker or worker_name(), now))
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount == 1


def claim_next(worker: str | None = None, lease: timedelta = LEASE) -> int | None:
    """Take the next due job and return its id, or None when nothing is due."""
    now = utcnow()
    worker = worker or worker_name()
    pick = select(Job.id).where(_due(now, lease)).order_by(Job.next_run_at, Job.id).limit(1)
    if db.session.get_bind().dialect.name == "postgresql":
        # The row lock makes concurrent workers skip each other's pick instead of waiting.
        job_id = db.session.scalar(pick.with_for_update(skip_locked=True))
        if job_id is None:
            db.session.rollback()
            return None
        db.session.execute(
            update(Job)
            .where(Job.id == job_id)
            .values(**_claimed_values(worker, now))
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
        return job_id
    # SQLite has no row locks: the UPDATE ... WHERE <still due> is the atomic claim; a worker
    # that lost the race picks again.
    for _ in range(10):
        job_id = db.session.scalar(pick)
        if job_id is None:
            db.session.rollback()
            return None
        if claim(job_id, worker, lease):
            return job_id
    return None


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.current_thread().name}"


# -- running -------------------------------------------------------------------------------------


def backoff(attempt: int) -> timedelta:
    """30 s after the first failure, doubling, at most an hour."""
    return min(BACKOFF_BASE * 2 ** max(attempt - 1, 0), BACKOFF_MAX)


def _write_log(job_id: int, attempt: int, lines: list[str]) -> None:
    db.session.add_all(JobLogLine(job_id=job_id, attempt=attempt, line=line) for line in lines)


def run_job(job_id: int) -> JobState:
    """Run a job this worker has claimed; record the outcome and return its new state."""
    target = db.session.get(Job, job_id)
    if target is None:
        raise NotFound(f"There is no job #{job_id}.")
    db.session.refresh(target)
    spec = JOBS.get(target.kind)
    ctx = JobContext(target)
    attempt = target.attempts
    args = dict(target.args or {})
    ctx.log(f"attempt {attempt} of {target.max_attempts} by {target.locked_by}")
    try:
        if spec is None:
            raise NotFound(f"No job function is registered as {target.kind!r}.")
        spec.func(ctx, **args)
    except DomainError as error:
        db.session.rollback()
        # A stale plan means someone changed the resource meanwhile: planning again fixes it.
        retryable = isinstance(error, StalePlan)
        return _failed(job_id, attempt, ctx, error.message, spec, args, retryable=retryable)
    except Exception as error:
        db.session.rollback()
        log.exception("job %s (%s) failed", job_id, target.kind)
        message = f"{type(error).__name__}: {error}"
        return _failed(job_id, attempt, ctx, message, spec, args, retryable=True)
    ctx.log("done")
    target.state = JobState.SUCCEEDED
    target.finished_at = utcnow()
    target.last_error = None
    if ctx.plan is not None:
        target.plan = ctx.plan
    _write_log(job_id, attempt, ctx.lines)
    db.session.commit()
    return JobState.SUCCEEDED


def _failed(
    job_id: int,
    attempt: int,
    ctx: JobContext,
    message: str,
    spec: JobSpec | None,
    args: dict[str, Any],
    *,
    retryable: bool,
) -> JobState:
    target = db.session.get(Job, job_id)
    assert target is not None
    db.session.refresh(target)
    ctx.job = target
    ctx.log(f"error: {message}")
    target.last_error = message
    if ctx.plan is not None:
        target.plan = ctx.plan
    if retryable and attempt < target.max_attempts:
        delay = backoff(attempt)
        target.state = JobState.FAILED
        target.next_run_at = utcnow() + delay
        ctx.log(f"will retry in {int(delay.total_seconds())} s")
        _push_after_commit(job_id, delay)
    else:
        target.state = JobState.DEAD
        target.finished_at = utcnow()
        ctx.log("giving up" if retryable else "giving up: retrying cannot fix this")
        if spec is not None and spec.on_dead is not None:
            spec.on_dead(ctx, **args)
    _write_log(job_id, attempt, ctx.lines)
    db.session.commit()
    return target.state


def run_due_jobs(limit: int | None = None, worker: str | None = None) -> int:
    """Claim and run due jobs until none is due (or `limit` ran); return how many ran."""
    ran = 0
    while limit is None or ran < limit:
        job_id = claim_next(worker)
        if job_id is None:
            break
        run_job(job_id)
        ran += 1
    return ran


def start_embedded_worker(app: Flask, poll: float = 1.0) -> threading.Thread:
    """Run due jobs in a daemon thread of this process (the embedded default)."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            ran = 0
            with app.app_context():
                try:
                    ran = run_due_jobs(limit=10)
                except Exception:
                    log.exception("the embedded job worker hit an error; continuing")
                finally:
                    db.session.remove()
            if not ran:
                stop.wait(poll)

    thread = threading.Thread(target=loop, name="infrawg-jobs", daemon=True)
    thread.stop = stop  # type: ignore[attr-defined]
    thread.start()
    log.info("embedded job worker started")
    return thread


# -- RQ ------------------------------------------------------------------------------------------

_redis_clients: dict[str, Any] = {}
_rq_app: Flask | None = None


def redis_client(url: str) -> Any:
    from redis import Redis

    if url not in _redis_clients:
        _redis_clients[url] = Redis.from_url(url)
    return _redis_clients[url]


def rq_queue(url: str, name: str) -> Any:
    from rq import Queue

    return Queue(name, connection=redis_client(url))


def _push_after_commit(job_id: int, delay: timedelta | None = None) -> None:
    url = current_app.config.get("REDIS_URL")
    if url:
        pending = db.session.info.setdefault(_PUSH_KEY, [])
        pending.append((url, current_app.config["RQ_QUEUE"], job_id, delay))


def _push(url: str, queue_name: str, job_id: int, delay: timedelta | None) -> None:
    queue = rq_queue(url, queue_name)
    if delay:
        # A second late rather than early: an early run would find the job not yet due.
        queue.enqueue_in(delay + timedelta(seconds=1), RQ_ENTRY, job_id)
    else:
        queue.enqueue(RQ_ENTRY, job_id)


def _deliver_pushes(session: Session) -> None:
    for url, queue_name, job_id, delay in session.info.pop(_PUSH_KEY, None) or ():
        try:
            _push(url, queue_name, job_id, delay)
        except Exception:
            # The job is committed and stays queued; `flask infrawg worker --requeue` pushes
            # due jobs again once Redis is back.
            log.exception("could not push job %s to RQ", job_id)


def _drop_pushes(session: Session) -> None:
    session.info.pop(_PUSH_KEY, None)


def install_session_hooks() -> None:
    from sqlalchemy import event

    if not event.contains(Session, "after_commit", _deliver_pushes):
        event.listen(Session, "after_commit", _deliver_pushes)
        event.listen(Session, "after_rollback", _drop_pushes)


install_session_hooks()


def run_from_rq(job_id: int) -> str:
    """What an RQ worker runs: claim job `job_id` in the table, then run it.

    Inside `flask infrawg worker` (or a test) the app context is already there; a bare
    `rq worker` process builds the app from INFRAWG_* settings once.
    """
    if has_app_context():
        return _run_pushed(job_id)
    global _rq_app
    if _rq_app is None:
        from infrawg import create_app

        _rq_app = create_app()
    with _rq_app.app_context():
        try:
            return _run_pushed(job_id)
        finally:
            db.session.remove()


def _run_pushed(job_id: int) -> str:
    if not claim(job_id):
        return "not due or taken by another worker"
    return run_job(job_id).value


def requeue_due() -> int:
    """Push every due job to RQ again (after Redis lost its queue); the claim dedupes."""
    now = utcnow()
    ids = list(db.session.scalars(select(Job.id).where(_due(now, LEASE)).order_by(Job.id)))
    url = current_app.config.get("REDIS_URL")
    for job_id in ids if url else ():
        _push(url, current_app.config["RQ_QUEUE"], job_id, None)
    return len(ids)
