"""Mailing-list calls as jobs of the site's runner (`infrawg/jobs/`).

A join or a leave enqueues `membership.list_sync` in its own transaction; the job runs
after the commit. While Mailman is down the job fails and is retried with back-off
(30 s doubling to an hour, for about a day); staff see it on the jobs page and can retry
it there. The job reads the membership again when it runs, so it is idempotent and
out-of-order retries still converge on what the site says now.

`membership.list_poll` runs every 15 minutes on its schedule (the tick enqueues it):
`drift.sync`, the roster's other direction. While Mailman is down it fails and retries (3
attempts); the schedule enqueues no other run until that one has finished.
"""

from __future__ import annotations

from datetime import timedelta

from infrawg.jobs.runner import JobContext, job
from infrawg.membership.drift import sync
from infrawg.membership.lists import SUBSCRIBE, SYNC_JOB, apply_membership, list_backend


@job(SYNC_JOB, max_attempts=30)
def list_sync(ctx: JobContext, email: str) -> None:
    address = list_backend().list_address
    action = apply_membership(email)
    where = "on" if action == SUBSCRIBE else "off"
    ctx.log(f"{email} is {where} {address} ({action}, idempotent)")


POLL_JOB = "membership.list_poll"
# Someone who subscribes on the list is invited to join within this long (issue 14).
POLL_EVERY = timedelta(minutes=15)


@job(POLL_JOB, max_attempts=3, every=POLL_EVERY)
def list_poll(ctx: JobContext) -> None:
    """Poll the roster on the schedule (what `flask infrawg list sync` does by hand): invite
    who subscribed on the list, ask who unsubscribed there, mail staff the new drift."""
    result = sync()
    ctx.log(
        f"{result.roster} on the list; invited {len(result.invited)}, asked "
        f"{len(result.asked)}; {len(result.new_drift)} new drift rows"
    )
