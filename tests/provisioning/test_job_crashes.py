"""Jobs survive crashes: a lease renewed by a heartbeat, outcomes fenced on the attempt, a
worker that outlives the database going away, and a re-run that says what it found."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import delete
from sqlalchemy.orm import Session

from infrawg import create_app
from infrawg.extensions import db
from infrawg.jobs import runner as jobs
from infrawg.jobs.models import Job, JobLogLine, JobState
from infrawg.jobs.runner import JobContext, enqueue, job, run_due_jobs
from infrawg.provisioning.base import Provider, apply_plan
from infrawg.provisioning.kinds.dns import zones
from infrawg.provisioning.lifecycle import load as _load_for_job
from infrawg.provisioning.models import ServiceState
from infrawg.provisioning.service import provider_for
from infrawg.timeutil import utcnow
from tests.conftest import base_config
from tests.provisioning import worker_process  # noqa: F401  (registers its jobs here too)
from tests.provisioning.test_jobs import Crash, approved_zone, log_of  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
LEASE_SECONDS = 3

# -- fencing: a stale attempt cannot overwrite the outcome ---------------------------------------

SEEN: list[int] = []


@job("test_fails_on_attempt", max_attempts=5)
def _fails_on(ctx: JobContext, attempt: int) -> None:
    SEEN.append(ctx.attempt)
    ctx.record_plan(f"plan of attempt {ctx.attempt}")
    if ctx.attempt == attempt:
        raise RuntimeError(f"attempt {ctx.attempt} failed")


def take_over(queued: Job, worker: str) -> int:
    """Let the lease of the running attempt run out, and claim the job as `worker`."""
    queued.started_at = utcnow() - jobs.job_lease() - timedelta(seconds=1)
    db.session.commit()
    attempt = jobs.claim_attempt(queued.id, worker)
    assert attempt is not None
    return attempt


def test_a_stale_attempt_cannot_overwrite_the_failure_the_next_attempt_recorded(app):
    queued = enqueue("test_fails_on_attempt", attempt=2)
    db.session.commit()
    first = jobs.claim_attempt(queued.id, "slow-worker")
    second = take_over(queued, "other-worker")
    assert (first, second) == (1, 2)
    assert jobs.run_job(queued.id, second) == JobState.FAILED
    # The first worker wakes up and finishes: its success must not be recorded.
    assert jobs.run_job(queued.id, first) == JobState.FAILED
    db.session.refresh(queued)
    assert (queued.state, queued.attempts) == (JobState.FAILED, 2)
    assert queued.last_error == "RuntimeError: attempt 2 failed"
    assert queued.plan == "plan of attempt 2"
    assert "attempt 1 lost the job (its lease ran out); its outcome is not recorded" in log_of(
        queued
    )
    assert SEEN[-2:] == [2, 1]


def test_a_stale_attempt_cannot_overwrite_the_success_the_next_attempt_recorded(app):
    queued = enqueue("test_fails_on_attempt", attempt=1)
    db.session.commit()
    first = jobs.claim_attempt(queued.id, "slow-worker")
    second = take_over(queued, "other-worker")
    assert jobs.run_job(queued.id, second) == JobState.SUCCEEDED
    finished = db.session.get(Job, queued.id).finished_at
    # The first attempt fails late: no retry is scheduled, nothing changes.
    assert jobs.run_job(queued.id, first) == JobState.SUCCEEDED
    db.session.refresh(queued)
    assert (queued.state, queued.attempts, queued.last_error) == (JobState.SUCCEEDED, 2, None)
    assert queued.finished_at == finished and queued.plan == "plan of attempt 2"


def test_staff_may_retry_a_job_whose_worker_stopped_beating(app, people, staff):
    queued = enqueue("test_fails_on_attempt", attempt=0)
    db.session.commit()
    attempt = jobs.claim_attempt(queued.id, "vanished")
    client = people.sign_in(app.test_client(), staff)
    # Still within its lease: it may be working; retrying would run it twice.
    assert client.post(f"/jobs/{queued.id}/retry").status_code == 409
    queued.started_at = utcnow() - jobs.job_lease() - timedelta(seconds=1)
    db.session.commit()
    assert client.post(f"/jobs/{queued.id}/retry", data={"confirmed": "1"}).status_code == 303
    assert run_due_jobs() == 1
    db.session.refresh(queued)
    assert queued.state == JobState.SUCCEEDED and queued.attempts == attempt + 1


# -- truthful re-runs ----------------------------------------------------------------------------


def test_a_reviewed_apply_killed_after_applying_reports_already_applied_when_rerun(
    app, request, chair, monkeypatch
):
    service_row = request.getfixturevalue("approved_zone")  # the fixture of test_jobs
    run_due_jobs()
    assert service_row.state == ServiceState.ACTIVE
    service = _load_for_job(service_row.id)
    zones.add_record(chair, service, "www", "A", 300, "192.0.2.10")
    db.session.commit()
    service = _load_for_job(service_row.id)
    reviewed = zones.digest(zones.review_plan(chair, service, provider_for))
    apply_job = zones.request_apply(chair, service, reviewed, provider_for)
    db.session.commit()

    def apply_then_die(self, plan, dry_run=False, force=False):
        apply_plan(self, plan, dry_run=dry_run, force=force)
        raise Crash()

    monkeypatch.setattr(Provider, "apply", apply_then_die)
    job_id, attempt = jobs._claim_next("doomed", None)
    assert job_id == apply_job.id
    with pytest.raises(Crash):
        jobs.run_job(job_id, attempt)
    db.session.rollback()
    monkeypatch.undo()

    take_over(apply_job, "next")
    jobs.run_job(apply_job.id)
    db.session.refresh(apply_job)
    assert apply_job.state == JobState.SUCCEEDED, apply_job.last_error
    lines = log_of(apply_job)
    assert "already applied: the changes are live (an earlier attempt applied them)" in lines
    assert not any("nothing was applied" in line for line in lines)


# -- real worker processes -----------------------------------------------------------------------


@pytest.fixture
def real_app(database_url) -> Iterator:
    """An app whose commits are real, so a worker process sees them; cleaned up after."""
    app = create_app(base_config(database_url) | {"JOB_LEASE": LEASE_SECONDS})
    with app.app_context():
        made: list[int] = []
        yield app, made
        db.session.rollback()
        db.session.execute(delete(JobLogLine).where(JobLogLine.job_id.in_(made)))
        db.session.execute(delete(Job).where(Job.id.in_(made)))
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


def start_worker(database_url: str, *args: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "INFRAWG_DATABASE_URL": database_url,
        "INFRAWG_SECRET_KEY": "test-secret-key",
        "INFRAWG_MAIL_BACKEND": "outbox",
        "INFRAWG_JOB_LEASE": str(LEASE_SECONDS),
        # These workers are about crashes, not schedules: they tick nothing (a scheduled run
        # they made would outlive the test, whose rows are real commits).
        "INFRAWG_TICK_INTERVAL": "0",
        "PYTHONPATH": str(ROOT),
    }
    return subprocess.Popen(
        [
            str(Path(sys.executable).with_name("flask")),
            "--app",
            "tests.provisioning.worker_process:make_app",
            "infrawg",
            "worker",
            "--poll",
            "0.2",
            *args,
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout} s: {what}")


def job_row(job_id: int) -> Job:
    """The job as the workers committed it, read on a connection of its own: on SQLite a
    transaction of this app outside a request takes the write lock up front
    (web._sqlite_begin), and a worker holds that lock while its job runs."""
    reader = sa.create_engine(db.engine.url)
    try:
        with Session(reader) as session:
            found = session.get(Job, job_id)
            assert found is not None
            session.expunge(found)
            return found
    finally:
        reader.dispose()


def stop(process: subprocess.Popen) -> str:
    if process.poll() is None:
        process.terminate()
    output, _ = process.communicate(timeout=10)
    return output


def test_a_killed_worker_process_loses_its_job_after_the_lease_and_another_finishes_it(
    real_app, database_url, tmp_path
):
    _app, made = real_app
    marker = tmp_path / "attempt"
    queued = enqueue("test_crash_once", marker=str(marker))
    job_id = queued.id
    made.append(job_id)  # before the commit: a read after it would open a transaction
    db.session.commit()

    doomed = start_worker(database_url)
    try:
        wait_until(lambda: Path(f"{marker}.1").exists(), 60, "the first worker took the job")
        # Alive and beating: past its lease, nobody may take the job from it.
        time.sleep(LEASE_SECONDS * 2)
        running = job_row(job_id)
        assert running.state == JobState.RUNNING and running.heartbeat_at is not None
        assert utcnow() - running.heartbeat_at < timedelta(seconds=LEASE_SECONDS)
        assert jobs.claim_attempt(job_id, "thief") is None
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(timeout=10)
    finally:
        stop(doomed)

    assert job_row(job_id).state == JobState.RUNNING  # the row cannot know yet
    time.sleep(LEASE_SECONDS + 0.5)
    rescuer = start_worker(database_url, "--burst")
    output = stop_after_exit(rescuer)
    finished = job_row(job_id)
    assert finished.state == JobState.SUCCEEDED, output
    assert finished.attempts == 2
    assert Path(f"{marker}.2").exists()
    assert "finished" in log_of(finished)
    # The killed attempt's log was written as it ran: staff see who had it when it died.
    assert any(line.startswith("attempt 1 of 3 by ") for line in log_of(finished))


def stop_after_exit(process: subprocess.Popen, timeout: float = 60) -> str:
    output, _ = process.communicate(timeout=timeout)
    return output


def test_the_worker_keeps_running_when_the_database_goes_away_briefly(
    real_app, database_url, tmp_path
):
    _app, made = real_app
    worker = start_worker(database_url)
    try:
        time.sleep(2)  # the worker is polling
        marker = tmp_path / "ran"
        if db.engine.dialect.name == "postgresql":
            # The database kills the worker's connections and refuses new ones for a while.
            name = db.engine.url.database
            admin = sa.create_engine(
                db.engine.url.set(database="postgres"), isolation_level="AUTOCOMMIT"
            )
            with admin.connect() as connection:
                connection.execute(sa.text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
                try:
                    for _ in range(10):
                        connection.execute(
                            sa.text(
                                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                "WHERE datname = :name"
                            ),
                            {"name": name},
                        )
                        time.sleep(0.3)
                finally:
                    connection.execute(sa.text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
            admin.dispose()
            db.session.remove()
            db.engine.dispose()  # this test's own connections were killed too
            queued = enqueue("test_quick", marker=str(marker))
            job_id = queued.id
            made.append(job_id)
            db.session.commit()
        else:
            # SQLite: the database stays locked for longer than the worker's busy timeout
            # just when a job falls due, so its claim fails with "database is locked".
            queued = enqueue("test_quick", marker=str(marker))
            queued.next_run_at = utcnow() + timedelta(seconds=1)
            job_id = queued.id
            made.append(job_id)
            db.session.commit()
            path = db.engine.url.database
            locker = sqlite3.connect(path, isolation_level=None, timeout=10)
            locker.execute("BEGIN IMMEDIATE")
            time.sleep(22)  # well past the 15 s busy timeout (web._sqlite_pragmas)
            locker.execute("ROLLBACK")
            locker.close()
        wait_until(marker.exists, 40, "the worker ran the job after the database came back")
        wait_until(lambda: job_row(job_id).state == JobState.SUCCEEDED, 20, "job recorded")
        assert worker.poll() is None, "the worker exited"
    finally:
        output = stop(worker)
    assert "database error" in output
