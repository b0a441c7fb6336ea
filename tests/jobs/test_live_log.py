"""A job's log is written as it runs (its own short transaction on its own connection), so a
crash keeps it; a failing on_dead is recorded instead of taking the outcome with it."""

from __future__ import annotations

import os
import threading

from sqlalchemy import select

from infrawg.extensions import db
from infrawg.jobs import JobContext, enqueue, job, runner
from infrawg.jobs.models import Job, JobLogLine, JobState
from infrawg.notices.models import MailState, OutboxMail
from tests.conftest import migrated_app
from tests.servers.live import fresh_database

GATES: dict[str, threading.Event] = {}


@job("test_live_log", max_attempts=1)
def _slow(ctx: JobContext) -> None:
    ctx.log("step one")
    GATES["one"].set()
    GATES["go"].wait(timeout=30)
    db.session.scalar(select(Job.id).limit(1))  # the job's own transaction begins
    ctx.log("step two")
    GATES["two"].set()
    GATES["finish"].wait(timeout=30)


def _lines(app, job_id: int) -> list[str]:
    with app.app_context():
        try:
            return list(
                db.session.scalars(
                    select(JobLogLine.line)
                    .where(JobLogLine.job_id == job_id)
                    .order_by(JobLogLine.id)
                )
            )
        finally:
            db.session.remove()


def test_log_lines_are_in_the_table_while_the_job_still_runs(tmp_path):
    GATES.update({name: threading.Event() for name in ("one", "go", "two", "finish")})
    with fresh_database(os.environ.get("INFRAWG_TEST_DATABASE_URL"), tmp_path) as url:
        app = migrated_app(url, TICK_INTERVAL=0)
        with app.app_context():
            job_id = enqueue("test_live_log").id
            db.session.commit()
            db.session.remove()
        worker = threading.Thread(target=lambda: _run(app), daemon=True)
        worker.start()
        try:
            assert GATES["one"].wait(timeout=30)
            seen = _lines(app, job_id)
            assert seen[0].startswith("attempt 1 of 1 by ") and seen[1:] == ["step one"]
            GATES["go"].set()
            assert GATES["two"].wait(timeout=30)
            if not url.startswith("sqlite"):
                # On SQLite the job's open transaction holds the only write lock: its later
                # lines come with the outcome (README, Jobs).
                assert _lines(app, job_id)[-1] == "step two"
        finally:
            GATES["go"].set()
            GATES["finish"].set()
            worker.join(timeout=30)
        lines = _lines(app, job_id)
        assert lines[1:] == ["step one", "step two", "done"]  # each line once, in order
        with app.app_context():
            assert db.session.get(Job, job_id).state == JobState.SUCCEEDED
            db.session.remove()
            db.engine.dispose()


def _run(app) -> None:
    with app.app_context():
        try:
            runner.run_due_jobs()
        finally:
            db.session.remove()


def _on_dead_fails(ctx: JobContext, mail_id: int) -> None:
    row = db.session.get(OutboxMail, mail_id)
    row.state = MailState.FAILED  # half its work, undone when it then fails
    db.session.flush()
    raise RuntimeError("the notice template is missing")


@job("test_dies_badly", max_attempts=1, on_dead=_on_dead_fails)
def _dies(ctx: JobContext, mail_id: int) -> None:
    raise RuntimeError("relay refused")


def test_a_failing_on_dead_is_recorded_and_the_job_is_still_dead(app):
    mail = OutboxMail(recipients="a@example.org", subject="s", body="b", state=MailState.PENDING)
    db.session.add(mail)
    db.session.flush()
    dying = enqueue("test_dies_badly", mail_id=mail.id)
    db.session.commit()
    assert runner.run_due_jobs() == 1
    db.session.refresh(dying)
    assert dying.state == JobState.DEAD
    assert dying.last_error == (
        "RuntimeError: relay refused; then on_dead failed: RuntimeError: "
        "the notice template is missing"
    )
    lines = dict(
        db.session.execute(
            select(JobLogLine.line, JobLogLine.staff_only).where(JobLogLine.job_id == dying.id)
        ).all()
    )
    assert lines["on_dead failed: RuntimeError: the notice template is missing"] is True
    assert lines["error: RuntimeError: relay refused"] is True
    assert lines["giving up"] is False
    db.session.refresh(mail)
    assert mail.state == MailState.PENDING  # on_dead's half-work rolled back
