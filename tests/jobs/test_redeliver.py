"""The scheduled retry of undelivered mail (`notices.redeliver`, hourly)."""

from __future__ import annotations

from datetime import timedelta

from infrawg.extensions import db
from infrawg.jobs import runner
from infrawg.jobs.models import Job, JobState
from infrawg.notices.mail import DELIVER, REDELIVER, REST
from infrawg.notices.models import MailState, OutboxMail
from infrawg.timeutil import utcnow


def mail(state: MailState, age: timedelta = timedelta(hours=1), job: Job | None = None):
    row = OutboxMail(
        recipients="r@example.org", subject="s", body="b", state=state, at=utcnow() - age
    )
    row.job_id = job.id if job is not None else None
    db.session.add(row)
    db.session.flush()
    return row


def delivery(state: JobState, finished_ago: timedelta | None = None) -> Job:
    row = Job(kind=DELIVER, args={}, state=state)
    if finished_ago is not None:
        row.finished_at = utcnow() - finished_ago
    db.session.add(row)
    db.session.flush()
    return row


def run_redeliver() -> None:
    run = runner.enqueue(REDELIVER)
    db.session.commit()
    assert runner.run_job(run.id, runner.claim_attempt(run.id)) == JobState.SUCCEEDED


def test_undelivered_mail_gets_a_new_delivery_job_when_its_own_is_gone_or_long_dead(app):
    orphan = mail(MailState.PENDING)
    waiting_job = delivery(JobState.QUEUED)
    waiting = mail(MailState.PENDING, job=waiting_job)
    rested = mail(MailState.FAILED, job=delivery(JobState.DEAD, REST + timedelta(hours=1)))
    just_died = mail(MailState.FAILED, job=delivery(JobState.DEAD, timedelta(hours=1)))
    too_old = mail(MailState.FAILED, timedelta(days=3), delivery(JobState.DEAD, timedelta(days=2)))
    sent = mail(MailState.SENT)
    db.session.commit()
    before = {row.id: row.job_id for row in (orphan, waiting, rested, just_died, too_old, sent)}

    run_redeliver()

    for row in (orphan, rested):
        db.session.refresh(row)
        assert row.state == MailState.PENDING and row.job_id != before[row.id]
        again = db.session.get(Job, row.job_id)
        assert again.kind == DELIVER and again.args == {"mail_id": row.id}
        assert (again.subject_type, again.subject_id) == ("outbox_mail", row.id)
        assert again.state == JobState.QUEUED
    for row, state in (
        (waiting, MailState.PENDING),
        (just_died, MailState.FAILED),
        (too_old, MailState.FAILED),
        (sent, MailState.SENT),
    ):
        db.session.refresh(row)
        assert (row.state, row.job_id) == (state, before[row.id])
