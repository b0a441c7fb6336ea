"""The survey's mail as a scheduled job of the site (`infrawg/jobs/`).

`surveys.send` runs every hour (the tick enqueues it; reminders are due by the day, so an
hourly run is never late by more than an hour) and whenever an act makes mail due (opening a
survey, publishing goals: `mailing.dispatch_mail`). It calls the one idempotent sender, so
running it more often than needed, or `flask infrawg surveys send` by hand, sends nothing
twice.
"""

from __future__ import annotations

from datetime import timedelta

from infrawg.jobs.runner import JobContext, job

SEND = "surveys.send"
EVERY = timedelta(hours=1)


@job(SEND, max_attempts=5, every=EVERY)
def send(ctx: JobContext) -> None:
    """Send every invitation, reminder and goal announcement that is due."""
    from infrawg.surveys.mailing import send_due_mail

    report = send_due_mail()
    ctx.log(
        f"sent {report.invitations} invitations, {report.reminders} reminders, "
        f"{report.announcements} goal announcements"
    )


FREEZE = "surveys.freeze"


@job(FREEZE, max_attempts=5, every=EVERY)
def freeze(ctx: JobContext) -> None:
    """Store the response rate of every survey that closed by its date (one closed by hand
    stored it as it closed): within the hour after closing, whoever joins later."""
    from infrawg.surveys.rates import freeze_closed

    ctx.log(f"froze the response rates of {freeze_closed()} closed surveys")
