"""Schedules: `@job(name, every=...)`, the tick that enqueues each run exactly once, staff's
page of schedules and its "Run now"."""

from __future__ import annotations

import os
import secrets
import threading
import time
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from infrawg.actions import Action
from infrawg.audit import AuditEvent
from infrawg.extensions import db
from infrawg.jobs import JobContext, embedded, job, runner
from infrawg.jobs.models import Job, JobLogLine, JobState
from infrawg.jobs.schedules import (
    KEEP_SUCCEEDED_RUNS,
    PRUNE,
    Ticker,
    run_key,
    schedules,
    slot_start,
    tick,
)
from infrawg.membership.jobs import POLL_JOB
from infrawg.notices.mail import REDELIVER
from infrawg.surveys.jobs import SEND
from infrawg.timeutil import utcnow
from tests.conftest import html, migrated_app
from tests.servers.live import fresh_database

HOURLY = "test_schedule_hourly"
DAILY = "test_schedule_daily"
RAN: list[str] = []


@job(HOURLY, max_attempts=2, every=timedelta(hours=1))
def _hourly(ctx: JobContext) -> None:
    RAN.append(HOURLY)
    ctx.log("hourly work done")


@job(DAILY, every=timedelta(days=1))
def _daily(ctx: JobContext) -> None:
    RAN.append(DAILY)


NOON = datetime(2026, 11, 2, 12, 20)


def runs_of(name: str) -> list[Job]:
    return list(db.session.scalars(select(Job).where(Job.kind == name).order_by(Job.id)))


def finish(name: str) -> None:
    for run in runs_of(name):
        run.state = JobState.SUCCEEDED
    db.session.commit()


def test_a_slot_starts_on_the_hour_or_at_midnight_utc():
    assert slot_start(timedelta(hours=1), NOON) == datetime(2026, 11, 2, 12, 0)
    assert slot_start(timedelta(days=1), NOON) == datetime(2026, 11, 2)
    assert slot_start(timedelta(minutes=15), NOON) == datetime(2026, 11, 2, 12, 15)
    assert run_key(HOURLY, datetime(2026, 11, 2, 12)) == f"{HOURLY}@2026-11-02T12:00:00"


def test_the_sites_work_is_scheduled_in_code_beside_its_jobs():
    # Issue 11: survey mail, mail redelivery, the mailing list's roster poll (issue 14).
    every = {s.name: s.every for s in runner.JOBS.values() if s.every is not None}
    assert every[SEND] == timedelta(hours=1)
    assert every[REDELIVER] == timedelta(hours=1)
    assert every[POLL_JOB] == timedelta(minutes=15)
    assert every[PRUNE] == timedelta(days=1)


def test_tick_enqueues_each_due_run_once_per_slot(app):
    created = tick(NOON)
    hourly, daily = runs_of(HOURLY), runs_of(DAILY)
    assert [r.run_key for r in hourly] == [f"{HOURLY}@2026-11-02T12:00:00"]
    assert [r.run_key for r in daily] == [f"{DAILY}@2026-11-02T00:00:00"]
    assert {hourly[0].id, daily[0].id} <= set(created)
    assert hourly[0].state == JobState.QUEUED and hourly[0].max_attempts == 2
    assert hourly[0].subject_type is None and hourly[0].args == {}

    # Finished, and ticked again in the same slot: the run's key is taken, nothing is added.
    finish(HOURLY)
    finish(DAILY)
    assert not {r.id for r in runs_of(HOURLY)} & set(tick(NOON + timedelta(minutes=30)))
    assert len(runs_of(HOURLY)) == 1 and len(runs_of(DAILY)) == 1

    # The next hour's slot: one more hourly run, still one daily.
    tick(NOON + timedelta(hours=1))
    assert [r.run_key for r in runs_of(HOURLY)][-1] == f"{HOURLY}@2026-11-02T13:00:00"
    assert len(runs_of(HOURLY)) == 2 and len(runs_of(DAILY)) == 1


def test_a_schedule_whose_run_has_not_finished_is_not_enqueued_again(app):
    tick(NOON)
    [first] = runs_of(HOURLY)
    first.state = JobState.FAILED  # failing, with retries to come
    db.session.commit()
    tick(NOON + timedelta(hours=1))
    tick(NOON + timedelta(hours=2))
    assert runs_of(HOURLY) == [first]
    first.state = JobState.DEAD
    db.session.commit()
    tick(NOON + timedelta(hours=2))
    assert len(runs_of(HOURLY)) == 2


def test_a_scheduled_run_runs_its_job_and_logs_as_any_job(app):
    RAN.clear()
    tick(NOON)
    [run] = runs_of(HOURLY)
    attempt = runner.claim_attempt(run.id)
    assert attempt == 1
    assert runner.run_job(run.id, attempt) == JobState.SUCCEEDED
    assert RAN == [HOURLY]


def test_the_ticker_ticks_once_per_interval_and_never_at_zero(app, monkeypatch):
    calls: list[int] = []
    monkeypatch.setattr("infrawg.jobs.schedules.tick", lambda: calls.append(1) or [])
    ticker = Ticker(60)
    ticker()
    ticker()
    assert calls == [1]
    ticker.last = time.monotonic() - 61
    ticker()
    assert calls == [1, 1]
    Ticker(0)()
    assert calls == [1, 1]


def test_flask_infrawg_tick_enqueues_the_due_runs_and_the_burst_worker_runs_them(app, monkeypatch):
    RAN.clear()
    result = app.test_cli_runner().invoke(args=["infrawg", "tick"])
    assert result.exit_code == 0, result.output
    assert "scheduled run(s) queued" in result.output
    assert len(runs_of(HOURLY)) == 1
    # The worker ticks too (a second tick in the slot adds nothing) and runs what is due.
    app.config["TICK_INTERVAL"] = 60
    result = app.test_cli_runner().invoke(args=["infrawg", "worker", "--burst"])
    assert result.exit_code == 0, result.output
    assert len(runs_of(HOURLY)) == 1
    assert runs_of(HOURLY)[0].state == JobState.SUCCEEDED
    assert HOURLY in RAN and DAILY in RAN


# -- exactly once, with several processes ticking at once ------------------------------------


def _tick_in_threads(app, threads: int, now: datetime) -> list[int]:
    created: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(threads)
    lock = threading.Lock()

    def one() -> None:
        with app.app_context():
            try:
                start.wait(timeout=30)
                mine = tick(now)
                with lock:
                    created.extend(mine)
            except BaseException as error:  # reported below, not lost in the thread
                errors.append(error)
            finally:
                db.session.remove()

    workers = [threading.Thread(target=one) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert not errors, errors
    return created


@pytest.mark.parametrize("only_the_key", [False, True], ids=["as-is", "only-the-unique-key"])
def test_ticks_from_many_workers_at_once_enqueue_each_run_exactly_once(
    tmp_path, monkeypatch, only_the_key
):
    # Real concurrency on a database of its own (SQLite file or PostgreSQL, as the run's):
    # eight workers tick the same slot at the same moment, twice over. The second variant
    # turns off the "previous run still pending" check: the run's unique key alone holds.
    if only_the_key:
        monkeypatch.setattr("infrawg.jobs.schedules._pending_kinds", lambda names: set())
    with fresh_database(os.environ.get("INFRAWG_TEST_DATABASE_URL"), tmp_path) as url:
        app = migrated_app(url)
        try:
            created = _tick_in_threads(app, 8, NOON)
            created += _tick_in_threads(app, 8, NOON + timedelta(minutes=1))
            with app.app_context():
                keys = list(
                    db.session.execute(
                        select(Job.run_key, func.count()).group_by(Job.run_key)
                    ).all()
                )
                expected = {
                    run_key(s.name, slot_start(s.every, NOON))
                    for s in runner.JOBS.values()
                    if s.every is not None
                }
                assert {key for key, _ in keys} == expected
                assert all(count == 1 for _, count in keys)
                assert len(created) == len(expected)  # each tick saw its own inserts only
                db.session.remove()
        finally:
            with app.app_context():
                db.engine.dispose()


def test_the_embedded_worker_ticks_so_make_run_runs_the_schedules(tmp_path):
    with fresh_database(os.environ.get("INFRAWG_TEST_DATABASE_URL"), tmp_path) as url:
        app = migrated_app(url, TICK_INTERVAL=60)
        thread = embedded.start_embedded_worker(app, poll=0.1)
        try:
            deadline = time.monotonic() + 20
            done = 0
            while time.monotonic() < deadline:
                with app.app_context():
                    done = db.session.scalar(
                        select(func.count()).where(
                            Job.kind == HOURLY, Job.state == JobState.SUCCEEDED
                        )
                    )
                    db.session.remove()
                if done:
                    break
                time.sleep(0.2)
            assert done == 1
        finally:
            thread.stop.set()  # type: ignore[attr-defined]
            thread.join(timeout=10)
            with app.app_context():
                db.engine.dispose()


# -- staff's page -------------------------------------------------------------------------------


def test_staff_see_each_schedule_with_its_last_and_next_run(app, people, staff):
    tick(NOON)
    [run] = runs_of(HOURLY)
    run.state, run.finished_at = JobState.SUCCEEDED, NOON
    db.session.commit()
    by_name = {s.name: s for s in schedules(NOON)}
    assert by_name[HOURLY].last == run
    assert by_name[HOURLY].next_at == datetime(2026, 11, 2, 13, 0)
    assert by_name[HOURLY].every_label == "every hour"
    assert by_name[POLL_JOB].every_label == "every 15 minutes"

    client = people.sign_in(app.test_client(), staff)
    page = html(client.get("/jobs/schedules"))
    row = page.select_one(f"#schedule-{HOURLY}")
    assert row is not None
    assert "every hour" in row.text and "Succeeded" in row.text
    assert row.select_one("button").text.strip() == f"Run {HOURLY} now"
    assert page.select_one("#schedule-membership-list_poll") is not None
    jobs_page = html(client.get("/jobs"))
    assert jobs_page.select_one("#schedules-link")["href"] == "/jobs/schedules"
    # A newcomer finds them on the jobs page itself, with their last run.
    assert "Succeeded" in jobs_page.select_one(f"#schedule-{HOURLY}").text


def test_run_now_queues_a_run_audits_it_and_refuses_a_second_while_it_waits(
    app, people, staff, member
):
    client = people.sign_in(app.test_client(), staff)
    response = client.post(f"/jobs/schedules/{HOURLY}/run")
    assert response.status_code == 303
    [run] = runs_of(HOURLY)
    assert response.headers["Location"] == f"/jobs/{run.id}"
    assert run.state == JobState.QUEUED and run.run_key is None
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == Action.JOB_RUN_NOW))
    assert event is not None and event.actor_id == staff.id and HOURLY in (event.reason or "")

    assert client.post(f"/jobs/schedules/{HOURLY}/run").status_code == 409
    assert len(runs_of(HOURLY)) == 1
    page = html(client.get("/jobs/schedules"))
    assert page.select_one(f"#schedule-{HOURLY} button") is None  # it waits for the run
    assert client.post("/jobs/schedules/no.such.job/run").status_code == 404
    assert client.post("/jobs/schedules/notices.deliver/run").status_code == 404  # no schedule

    other = people.sign_in(app.test_client(), member)
    assert other.post(f"/jobs/schedules/{HOURLY}/run").status_code == 403
    assert len(runs_of(HOURLY)) == 1


@pytest.mark.parametrize("name", [SEND, POLL_JOB, REDELIVER, PRUNE])
def test_the_sites_scheduled_jobs_run_on_the_development_backends(app, name):
    # What `make run` ticks: each runs through on the outbox mail and the log list backend.
    tick(NOON)
    [run] = [r for r in runs_of(name) if r.run_key]
    assert runner.run_job(run.id, runner.claim_attempt(run.id)) == JobState.SUCCEEDED


# -- the same with Redis ------------------------------------------------------------------------


def test_with_redis_a_ticked_run_is_pushed_to_rq_once_and_an_rq_worker_runs_it(app):
    from tests.provisioning.test_jobs import REDIS_URL, rq_burst

    queue_name = f"infrawg-test-{secrets.token_hex(6)}"
    app.config.update(REDIS_URL=REDIS_URL, RQ_QUEUE=queue_name)
    queue = runner.rq_queue(REDIS_URL, queue_name)
    try:
        RAN.clear()
        created = tick(NOON)
        assert queue.count == len(created)  # pushed after the tick's commit
        tick(NOON)  # the same slot again: nothing enqueued, nothing pushed
        assert queue.count == len(created)
        rq_burst(queue_name)
        [run] = runs_of(HOURLY)
        db.session.refresh(run)
        assert run.state == JobState.SUCCEEDED and RAN.count(HOURLY) == 1
    finally:
        queue.delete(delete_jobs=True)


def test_old_successful_scheduled_runs_are_pruned_and_everything_else_is_kept(app):
    long_ago = utcnow() - KEEP_SUCCEEDED_RUNS - timedelta(days=1)
    made = {}
    for name, state, run_key_, finished in (
        ("old_ok", JobState.SUCCEEDED, "x@1", long_ago),
        ("old_dead", JobState.DEAD, "x@2", long_ago),
        ("recent_ok", JobState.SUCCEEDED, "x@3", utcnow()),
        ("old_act", JobState.SUCCEEDED, None, long_ago),
    ):
        row = Job(kind=HOURLY, args={}, state=state, run_key=run_key_, finished_at=finished)
        db.session.add(row)
        db.session.flush()
        db.session.add(JobLogLine(job_id=row.id, attempt=1, line="done"))
        made[name] = row.id
    db.session.commit()
    run = runner.enqueue(PRUNE)
    db.session.commit()
    assert runner.run_job(run.id, runner.claim_attempt(run.id)) == JobState.SUCCEEDED
    left = set(db.session.scalars(select(Job.id).where(Job.id.in_(made.values()))))
    assert left == {made["old_dead"], made["recent_ok"], made["old_act"]}
    assert db.session.scalar(select(func.count()).where(JobLogLine.job_id == made["old_ok"])) == 0
