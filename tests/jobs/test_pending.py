"""A long operation: a job function returns Pending, is called again later, and shows how far
it got without using up its attempts."""

from __future__ import annotations

from datetime import timedelta

from infrawg.extensions import db
from infrawg.jobs import JobContext, Pending, enqueue, job, run_due_jobs
from infrawg.jobs.models import JobState
from infrawg.timeutil import utcnow
from tests.conftest import html

STEPS: list[int] = []


@job("test_slow_order", max_attempts=1)
def _slow_order(ctx: JobContext, steps: int) -> Pending | None:
    STEPS.append(ctx.attempt)
    if len(STEPS) < steps:
        return Pending(timedelta(minutes=2), f"waiting for the CA ({len(STEPS)} of {steps})")
    return None


def test_a_pending_job_waits_is_called_again_and_keeps_its_attempts(app, people, staff):
    STEPS.clear()
    queued = enqueue("test_slow_order", steps=3)
    db.session.commit()
    before = utcnow()
    assert run_due_jobs() == 1
    db.session.refresh(queued)
    assert queued.state == JobState.QUEUED
    assert queued.progress == "waiting for the CA (1 of 3)"
    assert timedelta(minutes=1) < queued.next_run_at - before <= timedelta(minutes=3)
    assert run_due_jobs() == 0  # not due again yet

    client = people.sign_in(app.test_client(), staff)
    page = html(client.get(f"/jobs/{queued.id}"))
    assert "waiting for the CA (1 of 3)" in page.select_one("#job-progress").text

    for _ in range(2):
        queued.next_run_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
        run_due_jobs()
        db.session.refresh(queued)
    # A job allowed one attempt made three calls: waiting is not failing.
    assert queued.state == JobState.SUCCEEDED and len(STEPS) == 3
    assert queued.progress is None
