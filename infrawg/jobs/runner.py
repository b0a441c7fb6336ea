"""Background jobs: persisted in the `job` table, retried with back-off, logged for staff.

The whole API for any area (provisioning, surveys, notices):

    from infrawg.jobs import JobContext, Pending, enqueue, job

    @job("send_survey_mail", max_attempts=3)
    def send_survey_mail(ctx: JobContext, survey_id: int) -> None:
        ctx.log(f"mailing survey {survey_id}")
        ...                                   # db.session is yours; the runner commits

    enqueue("send_survey_mail", subject=survey, survey_id=survey.id)   # joins the caller's
                                                                        # transaction

`subject` (optional) names what the job works on (any model row: its table and id are kept),
so that the subject's page can list its jobs and the audit trail knows whose it is.

Rules for job functions:
- Arguments are JSON values: ids, not objects, and never a secret.
- Declare them in a module your area's `init_app(app)` imports, so every process that builds
  the app (web, `flask infrawg worker`, an RQ worker) knows the name.
- Be idempotent: a job may run again after a crash between its work and its commit. Look at
  the world before acting (providers do: a second run plans nothing).
- The runner commits after the function returns and rolls everything back when it raises.
  A `DomainError` (Invalid, NotFound, UnsafePlan...) means a retry cannot help: the job is
  dead at once, unless its class says `retry_can_help` (a stale plan: planning again fixes
  it). Anything else is retried after 30 s, 60 s, 120 s... up to `max_attempts`.
  `on_dead(ctx, **args)` (optional) runs in its own transaction when the job gives up.
- A long operation (an ACME order being validated, a VM booting) returns
  `Pending(retry_after, progress)`: its work so far commits, the job waits `retry_after` and is
  called again with the same arguments; `progress` is shown on the job and its subject's page.
  Such a call does not use up one of the job's attempts.

Schedules: `@job("dns.resign", every=timedelta(days=1))` declares a job (taking no
arguments) that runs that often; `flask infrawg tick`, which every worker runs each minute,
enqueues each run exactly once (infrawg/jobs/schedules.py). Staff see them at /jobs/schedules.

Log: each `ctx.log(line)` is written at once, on a connection of its own, so a crash keeps it
(on SQLite, once the job's transaction holds the write lock, with the outcome instead). The
tenant members of a service follow its jobs' lines live at /jobs/<id>/progress: mark a line
`ctx.log(line, staff_only=True)` when only staff may read it (the runner's own lines naming
the worker and the error's text are).

Crashes: a claim is a lease of INFRAWG_JOB_LEASE seconds that the running attempt renews
with a heartbeat (a thread beside the job function); a job whose worker died is due again once
its lease ran out, and the next claim is a new attempt. Every outcome write is fenced on the
attempt number (`UPDATE ... WHERE attempts = <mine> AND state = 'running'`): an attempt that
lost its lease cannot overwrite what the attempt after it recorded, and its work rolls back.

Runners (the same job functions in all three):
- `flask infrawg worker`: claims due jobs from the table (PostgreSQL: `FOR UPDATE SKIP
  LOCKED`; SQLite: an atomic compare-and-set UPDATE), so several workers never share a job.
  It keeps running through database errors (reconnecting with back-off).
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
from typing import Any, cast

from flask import Flask, current_app, has_app_context
from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.engine import CursorResult, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from infrawg import audit
from infrawg.actions import Action
from infrawg.aftercommit import after_commit, on_commit
from infrawg.errors import Conflict, DomainError, NotFound
from infrawg.extensions import Model, db
from infrawg.jobs.models import Job, JobLogLine, JobState
from infrawg.timeutil import utcnow

__all__ = [
    "JobContext",
    "Pending",
    "claim",
    "claim_attempt",
    "claim_next",
    "enqueue",
    "job",
    "retry",
    "run_due_jobs",
    "run_from_rq",
    "run_job",
]

log = logging.getLogger(__name__)

BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_MAX = timedelta(hours=1)
# A running job whose worker stopped beating is taken over after this long (the default of
# INFRAWG_JOB_LEASE; the running attempt renews it every third of it).
LEASE = timedelta(seconds=60)
RQ_ENTRY = "infrawg.jobs.runner.run_from_rq"
_PUSH_KEY = "rq-push"  # the after-commit key of jobs to push to RQ


@dataclass
class JobContext:
    """Handed to a job function: its job row, and where to write log lines and the plan."""

    job: Job
    lines: list[str] = field(default_factory=list)
    plan: str | None = None
    attempt: int = 0  # the attempt this run is (ctx.job.attempts may have moved on)
    # Lines not in the table yet, with their staff_only flag: written as they come when the
    # database allows (see _write_now), else with the outcome.
    unwritten: list[tuple[str, bool]] = field(default_factory=list)
    live: bool = False  # run_job sets it once the job's work starts
    # Read once: touching ``job`` after a commit would load it again and, on SQLite, take
    # the write lock for the rest of the job.
    job_id: int = field(init=False)
    kind: str = field(init=False)

    def __post_init__(self) -> None:
        self.job_id, self.kind = self.job.id, self.job.kind

    @property
    def rerun(self) -> bool:
        """Whether an earlier attempt ran (and may have done part of the work)."""
        return self.attempt > 1

    def log(self, line: str, *, staff_only: bool = False) -> None:
        """A line for the job's log, written as the job runs (a crash keeps it).

        Staff read every line; the people who follow the job's subject (a service's tenant
        members) read those not ``staff_only``, live. Never log a secret; mark a line
        ``staff_only`` when it names the site's insides (hosts, servers, other tenants).
        """
        self.lines.append(line)
        self.unwritten.append((line, staff_only))
        log.info("job %s %s: %s", self.job_id, self.kind, line)
        if self.live:
            _write_now(self)

    def record_plan(self, text: str) -> None:
        """The diff this attempt is about to apply, shown beside the log."""
        self.plan = text


@dataclass(frozen=True)
class Pending:
    """What a job function returns when its operation is under way and it should be called
    again after ``retry_after``; ``progress`` says how far it got, in words for people."""

    retry_after: timedelta
    progress: str


JobFunction = Callable[..., "Pending | None"]


@dataclass(frozen=True)
class JobSpec:
    name: str
    func: JobFunction
    max_attempts: int
    on_dead: JobFunction | None
    # Run on a schedule, this often, with no arguments (`flask infrawg tick` enqueues it).
    every: timedelta | None = None


JOBS: dict[str, JobSpec] = {}


def job(
    name: str,
    *,
    max_attempts: int = 5,
    on_dead: JobFunction | None = None,
    every: timedelta | None = None,
) -> Callable[[JobFunction], JobFunction]:
    """Register `func(ctx, **args)` as the job function called `name`; with `every`, a
    scheduled job that takes no arguments and runs that often."""

    def register(func: JobFunction) -> JobFunction:
        if name in JOBS and JOBS[name].func is not func:
            raise ValueError(f"A job called {name!r} is already registered")
        JOBS[name] = JobSpec(name, func, max_attempts, on_dead, every)
        return func

    return register


def enqueue(kind: str, subject: Model | None = None, **args: Any) -> Job:
    """Add a job to the caller's transaction; it runs after the transaction commits.

    ``subject`` is the row it works on, if any (kept as its table's name and its id)."""
    spec = JOBS.get(kind)
    if spec is None:
        raise ValueError(f"No job function is registered as {kind!r}")
    try:
        json.dumps(args)
    except TypeError as exc:
        raise ValueError(f"Job arguments must be JSON values (ids, not objects): {exc}") from exc
    new = Job(kind=kind, args=args, max_attempts=spec.max_attempts, next_run_at=utcnow())
    if subject is not None:
        new.subject_type = subject.__tablename__
        new.subject_id = subject.id  # type: ignore[attr-defined]
    db.session.add(new)
    db.session.flush()
    _push_after_commit(new.id)
    return new


def stalled(target: Job, now: Any = None) -> bool:
    """A running job whose lease ran out: its worker is gone."""
    last = target.heartbeat_at or target.started_at
    now = now or utcnow()
    return target.state == JobState.RUNNING and last is not None and last < now - job_lease()


def check_retryable(target: Job) -> None:
    """Conflict unless ``target`` is failed, dead or stalled (a retry must not run it twice)."""
    if not target.state.retryable and not stalled(target):
        raise Conflict(
            f"Job #{target.id} is {target.state.label.lower()}; only a failed job can be retried."
        )


def retry(actor: Any, target: Job) -> Job:
    """Staff: run a failed, dead or stalled job again now, with a fresh budget of attempts."""
    check_retryable(target)
    spec = JOBS.get(target.kind)
    target.state = JobState.QUEUED
    target.next_run_at = utcnow()
    target.max_attempts = target.attempts + (spec.max_attempts if spec else 1)
    audit.record(actor, Action.JOB_RETRIED, target, target.last_error)
    _push_after_commit(target.id)
    return target


# -- claiming ------------------------------------------------------------------------------------


def job_lease() -> timedelta:
    """How long a running attempt holds its job without a heartbeat (INFRAWG_JOB_LEASE)."""
    seconds = current_app.config.get("JOB_LEASE") if has_app_context() else None
    return timedelta(seconds=float(seconds)) if seconds else LEASE


def _due(now: Any, held_for: timedelta) -> ColumnElement[bool]:
    return or_(
        and_(Job.state.in_((JobState.QUEUED, JobState.FAILED)), Job.next_run_at <= now),
        # The worker that held it stopped beating (a crash, a kill): another takes over.
        and_(
            Job.state == JobState.RUNNING,
            func.coalesce(Job.heartbeat_at, Job.started_at) < now - held_for,
        ),
    )


def _claimed_values(worker: str, now: Any) -> dict[str, Any]:
    return {
        "state": JobState.RUNNING,
        "attempts": Job.attempts + 1,
        "started_at": now,
        "heartbeat_at": None,
        "locked_by": worker[:120],
    }


def claim_attempt(
    job_id: int, worker: str | None = None, lease: timedelta | None = None
) -> int | None:
    """Take job `job_id` if it is due (compare-and-set); the attempt number this worker now
    holds, which fences its outcome (`run_job(job_id, attempt)`), or None."""
    now = utcnow()
    attempt = db.session.scalar(
        update(Job)
        .where(Job.id == job_id, _due(now, lease or job_lease()))
        .values(**_claimed_values(worker or worker_name(), now))
        .returning(Job.attempts)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return attempt


def claim(job_id: int, worker: str | None = None, lease: timedelta | None = None) -> bool:
    """Take job `job_id` if it is due; True when this worker got it (compare-and-set)."""
    return claim_attempt(job_id, worker, lease) is not None


def _claim_next(worker: str | None, held_for: timedelta | None) -> tuple[int, int] | None:
    now = utcnow()
    worker = worker or worker_name()
    held_for = held_for or job_lease()
    pick = select(Job.id).where(_due(now, held_for)).order_by(Job.next_run_at, Job.id).limit(1)
    if db.session.get_bind().dialect.name == "postgresql":
        # The row lock makes concurrent workers skip each other's pick instead of waiting.
        job_id = db.session.scalar(pick.with_for_update(skip_locked=True))
        if job_id is None:
            db.session.rollback()
            return None
        attempt = db.session.scalar(
            update(Job)
            .where(Job.id == job_id)
            .values(**_claimed_values(worker, now))
            .returning(Job.attempts)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
        assert attempt is not None  # the row is locked: the update found it
        return job_id, attempt
    # SQLite has no row locks: the UPDATE ... WHERE <still due> is the atomic claim; a worker
    # that lost the race picks again.
    for _ in range(10):
        job_id = db.session.scalar(pick)
        if job_id is None:
            db.session.rollback()
            return None
        attempt = claim_attempt(job_id, worker, held_for)
        if attempt is not None:
            return job_id, attempt
    return None


def claim_next(worker: str | None = None, lease: timedelta | None = None) -> int | None:
    """Take the next due job and return its id, or None when nothing is due."""
    claimed = _claim_next(worker, lease)
    return claimed[0] if claimed else None


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.current_thread().name}"


# -- running -------------------------------------------------------------------------------------


def backoff(attempt: int) -> timedelta:
    """30 s after the first failure, doubling, at most an hour."""
    return min(BACKOFF_BASE * 2 ** max(attempt - 1, 0), BACKOFF_MAX)


def _write_log(job_id: int, attempt: int, ctx: JobContext) -> None:
    """The lines not written yet, in the caller's transaction (with the outcome)."""
    db.session.add_all(
        JobLogLine(job_id=job_id, attempt=attempt, line=line, staff_only=staff_only)
        for line, staff_only in ctx.unwritten
    )
    ctx.unwritten.clear()


def _write_now(ctx: JobContext) -> None:
    """Write the lines logged so far in a short transaction of their own, on a connection
    of their own (as the heartbeat does), so that a worker killed mid-job leaves its log.

    Not possible, and left for the outcome's transaction, when the session is joined to an
    outer transaction (the tests' per-test one: another connection cannot see the job), or
    on SQLite while the job's own transaction holds the database's only write lock.
    """
    bind = db.session.get_bind()
    if not isinstance(bind, Engine):
        return
    if bind.dialect.name == "sqlite" and db.session().in_transaction():
        return
    rows = [
        {"job_id": ctx.job_id, "attempt": ctx.attempt, "line": line, "staff_only": staff_only}
        for line, staff_only in ctx.unwritten
    ]
    try:
        with bind.begin() as connection:
            connection.execute(insert(JobLogLine), rows)
    except SQLAlchemyError:
        # Kept in ctx.unwritten: the outcome's transaction writes them.
        log.warning("job %s: could not write its log yet", ctx.job_id, exc_info=True)
        return
    ctx.unwritten.clear()


class _Heartbeat:
    """Renews the running attempt's lease from a thread of its own, on its own connection,
    while the job function works (a function may hold its transaction for minutes)."""

    def __init__(self, job_id: int, attempt: int) -> None:
        self.job_id = job_id
        self.attempt = attempt
        self.app = current_app._get_current_object()  # type: ignore[attr-defined]
        self.interval = job_lease().total_seconds() / 3
        self.stop = threading.Event()
        self.thread = threading.Thread(
            target=self._beat, name=f"infrawg-heartbeat-{job_id}", daemon=True
        )

    def __enter__(self) -> _Heartbeat:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=self.interval + 5)

    def _beat(self) -> None:
        while not self.stop.wait(self.interval):
            try:
                with self.app.app_context(), db.engine.begin() as connection:
                    renewed = connection.execute(
                        _fenced(update(Job), self.job_id, self.attempt).values(
                            heartbeat_at=utcnow()
                        )
                    ).rowcount
            except Exception:
                # The lease runs out if beats keep failing; the fence then settles it.
                log.exception("job %s: could not renew its lease", self.job_id)
                continue
            if not renewed:
                log.warning("job %s attempt %s no longer holds it", self.job_id, self.attempt)
                return


def _fenced(stmt: Any, job_id: int, attempt: int) -> Any:
    # Only the attempt that holds the job may write its outcome (or renew its lease).
    return stmt.where(Job.id == job_id, Job.attempts == attempt, Job.state == JobState.RUNNING)


def _record_outcome(job_id: int, attempt: int, **values: Any) -> bool:
    """Write the outcome of `attempt`, in the caller's transaction; False when it lost the job."""
    result = db.session.execute(
        _fenced(update(Job), job_id, attempt)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    # An UPDATE answers with a CursorResult, which counts the rows it changed.
    return cast(CursorResult[Any], result).rowcount == 1


def _lost(job_id: int, attempt: int, ctx: JobContext) -> JobState:
    # This attempt's lease ran out and another attempt (or staff) took the job: what this one
    # did is rolled back and its outcome is not recorded; only its log says what happened.
    db.session.rollback()
    ctx.log(
        f"attempt {attempt} lost the job (its lease ran out); its outcome is not recorded",
        staff_only=True,
    )
    _write_log(job_id, attempt, ctx)
    db.session.commit()
    current = db.session.get(Job, job_id)
    assert current is not None
    db.session.refresh(current)
    return current.state


def run_job(job_id: int, attempt: int | None = None) -> JobState:
    """Run a job this worker has claimed; record the outcome and return its new state.

    `attempt` is the number `claim_attempt` returned; without it, the row's current attempt.
    """
    target = db.session.get(Job, job_id)
    if target is None:
        raise NotFound(f"There is no job #{job_id}.")
    db.session.refresh(target)
    spec = JOBS.get(target.kind)
    attempt = target.attempts if attempt is None else attempt
    ctx = JobContext(target, attempt=attempt)
    args = dict(target.args or {})
    first_line = f"attempt {attempt} of {target.max_attempts} by {target.locked_by}"
    # End the transaction that loaded the job before its work starts: on SQLite one open
    # here would hold the write lock (web._sqlite_begin) that the heartbeat, the other
    # workers and the site's requests need while the job runs.
    db.session.commit()
    ctx.live = True
    ctx.log(first_line, staff_only=True)
    try:
        if spec is None:
            raise NotFound(f"No job function is registered as {target.kind!r}.")
        with _Heartbeat(job_id, attempt):
            outcome = spec.func(ctx, **args)
    except DomainError as error:
        db.session.rollback()
        # A stale plan means someone changed the resource meanwhile: planning again fixes it.
        return _failed(
            job_id, attempt, ctx, error.message, spec, args, retryable=error.retry_can_help
        )
    except Exception as error:
        db.session.rollback()
        log.exception("job %s (%s) failed", job_id, target.kind)
        message = f"{type(error).__name__}: {error}"
        return _failed(job_id, attempt, ctx, message, spec, args, retryable=True)
    if isinstance(outcome, Pending):
        return _pending(job_id, attempt, ctx, outcome)
    ctx.log("done")
    values: dict[str, Any] = {
        "state": JobState.SUCCEEDED,
        "finished_at": utcnow(),
        "last_error": None,
        "progress": None,
    }
    if ctx.plan is not None:
        values["plan"] = ctx.plan
    if not _record_outcome(job_id, attempt, **values):
        return _lost(job_id, attempt, ctx)
    _write_log(job_id, attempt, ctx)
    db.session.commit()
    return JobState.SUCCEEDED


def _pending(job_id: int, attempt: int, ctx: JobContext, outcome: Pending) -> JobState:
    # The operation is under way: keep what this call did, and call again later with the
    # same arguments. The call used no attempt (max_attempts moves with it).
    ctx.log(f"{outcome.progress}; next look in {int(outcome.retry_after.total_seconds())} s")
    values: dict[str, Any] = {
        "state": JobState.QUEUED,
        "next_run_at": utcnow() + outcome.retry_after,
        "progress": outcome.progress,
        "max_attempts": Job.max_attempts + 1,
        "last_error": None,
    }
    if ctx.plan is not None:
        values["plan"] = ctx.plan
    if not _record_outcome(job_id, attempt, **values):
        return _lost(job_id, attempt, ctx)
    _write_log(job_id, attempt, ctx)
    _push_after_commit(job_id, outcome.retry_after)
    db.session.commit()
    return JobState.QUEUED


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
    # The error's text may name the site's insides: staff read it, the others its outcome.
    ctx.log(f"error: {message}", staff_only=True)
    values: dict[str, Any] = {"last_error": message}
    if ctx.plan is not None:
        values["plan"] = ctx.plan
    delay = None
    if retryable and attempt < target.max_attempts:
        delay = backoff(attempt)
        values.update(state=JobState.FAILED, next_run_at=utcnow() + delay)
    else:
        values.update(state=JobState.DEAD, finished_at=utcnow())
    if not _record_outcome(job_id, attempt, **values):
        return _lost(job_id, attempt, ctx)
    db.session.refresh(target)
    ctx.job = target
    if delay is not None:
        ctx.log(f"will retry in {int(delay.total_seconds())} s")
        _push_after_commit(job_id, delay)
    else:
        ctx.log("giving up" if retryable else "giving up: retrying cannot fix this")
        if spec is not None and spec.on_dead is not None:
            _run_on_dead(job_id, ctx, spec.on_dead, args, message)
    _write_log(job_id, attempt, ctx)
    db.session.commit()
    return target.state


def _run_on_dead(
    job_id: int, ctx: JobContext, on_dead: JobFunction, args: dict[str, Any], message: str
) -> None:
    # In a savepoint of the outcome's transaction: what on_dead does commits with "dead", and
    # when on_dead itself fails its half-work is undone and the failure is recorded on the
    # job (its log and its error), instead of losing the outcome with it.
    try:
        with db.session.begin_nested():
            on_dead(ctx, **args)
    except Exception as error:
        log.exception("job %s: its on_dead handler failed", job_id)
        detail = getattr(error, "message", None) or str(error)
        note = f"on_dead failed: {type(error).__name__}: {detail}"
        ctx.log(note, staff_only=True)
        db.session.execute(
            update(Job)
            .where(Job.id == job_id)
            .values(last_error=f"{message}; then {note}")
            .execution_options(synchronize_session=False)
        )


def run_due_jobs(limit: int | None = None, worker: str | None = None) -> int:
    """Claim and run due jobs until none is due (or `limit` ran); return how many ran."""
    ran = 0
    while limit is None or ran < limit:
        claimed = _claim_next(worker, None)
        if claimed is None:
            break
        run_job(*claimed)
        ran += 1
    return ran


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
        after_commit(_PUSH_KEY, (url, current_app.config["RQ_QUEUE"], job_id, delay))


def _push(url: str, queue_name: str, job_id: int, delay: timedelta | None) -> None:
    queue = rq_queue(url, queue_name)
    if delay:
        # A second late rather than early: an early run would find the job not yet due.
        queue.enqueue_in(delay + timedelta(seconds=1), RQ_ENTRY, job_id)
    else:
        queue.enqueue(RQ_ENTRY, job_id)


def _deliver_pushes(session: Session, pushes: list[tuple[str, str, int, timedelta | None]]) -> None:
    for url, queue_name, job_id, delay in pushes:
        try:
            _push(url, queue_name, job_id, delay)
        except Exception:
            # The job is committed and stays queued; `flask infrawg worker --requeue` pushes
            # due jobs again once Redis is back.
            log.exception("could not push job %s to RQ", job_id)


def install_session_hooks() -> None:
    """Push committed jobs to RQ after commit; called by the jobs package's init_app."""
    on_commit(_PUSH_KEY, _deliver_pushes)


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
    attempt = claim_attempt(job_id)
    if attempt is None:
        return "not due or taken by another worker"
    return run_job(job_id, attempt).value


def requeue_due() -> int:
    """Push every due job to RQ again (after Redis lost its queue); the claim dedupes."""
    now = utcnow()
    ids = list(db.session.scalars(select(Job.id).where(_due(now, job_lease())).order_by(Job.id)))
    url = current_app.config.get("REDIS_URL")
    if url:
        for job_id in ids:
            _push(url, current_app.config["RQ_QUEUE"], job_id, None)
    return len(ids)
