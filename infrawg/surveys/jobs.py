"""The survey's mail as a job of the service layer's runner, when that runner exists.

Without it, `flask infrawg surveys send` (from cron) does the same work; both call the one
idempotent function, so running either twice sends nothing twice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

SEND = "surveys.send"


def _job_decorator() -> Callable[..., Any] | None:
    try:
        from infrawg.jobs.runner import job
    except ImportError:  # the runner is not installed: the CLI command sends
        return None
    return job


job = _job_decorator()


def send(ctx: Any) -> None:
    """Send every invitation, reminder and goal announcement that is due."""
    from infrawg.surveys.mailing import send_due_mail

    report = send_due_mail()
    ctx.log(
        f"sent {report.invitations} invitations, {report.reminders} reminders, "
        f"{report.announcements} goal announcements"
    )


if job is not None:
    job(SEND, max_attempts=5)(send)
