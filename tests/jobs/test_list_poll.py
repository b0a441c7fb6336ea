"""Issue 14 on the schedule: the roster poll runs as a scheduled job; a direct subscriber is
invited to join, a member who unsubscribed on the list is asked, staff hear of new drift."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from infrawg.extensions import db
from infrawg.jobs import runner
from infrawg.jobs.models import Job, JobState
from infrawg.jobs.schedules import tick
from infrawg.membership.jobs import POLL_JOB
from infrawg.membership.lists import list_backend
from tests.conftest import outbox_to

SLOT = datetime(2026, 11, 2, 9, 0)


def poll_at(now: datetime) -> Job:
    """Tick at ``now`` and run the roster poll it enqueued."""
    tick(now)
    run = db.session.scalar(
        select(Job).where(Job.kind == POLL_JOB, Job.state == JobState.QUEUED).order_by(Job.id)
    )
    assert run is not None and run.run_key == f"{POLL_JOB}@{now.isoformat()}"
    assert runner.run_job(run.id, runner.claim_attempt(run.id)) == JobState.SUCCEEDED
    return run


def test_r2_the_scheduled_roster_poll_invites_direct_subscribers_and_asks_leavers(
    app, people, staff
):
    leaver = people.make("Lou Leaver", email="lou@example.org")
    backend = list_backend()
    backend.subscribe(leaver.email)
    backend.subscribe(staff.email)
    db.session.commit()
    poll_at(SLOT)  # the first poll only records the roster

    backend.subscribe("walkin@example.org")
    backend.unsubscribe(leaver.email)
    db.session.commit()
    poll_at(SLOT + timedelta(minutes=15))

    (invitation,) = outbox_to("walkin@example.org")
    assert "/join?invite=" in invitation.body  # signed: the address comes prefilled, confirmed
    (asked,) = outbox_to(leaver.email)
    assert asked.subject == "[Infra-WG] Did you mean to leave the Infra-WG?"
    report = outbox_to(staff.email)[-1]
    assert report.subject.startswith("[Infra-WG] Mailing list drift:")
    assert "walkin@example.org" in report.body

    # The next slot's poll finds nothing new: nobody is mailed twice.
    poll_at(SLOT + timedelta(minutes=30))
    assert len(outbox_to("walkin@example.org")) == 1
    assert len(outbox_to(leaver.email)) == 1
