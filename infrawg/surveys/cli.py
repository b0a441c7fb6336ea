"""`flask infrawg surveys ...`: sending the survey's mail outside a request."""

from __future__ import annotations

from datetime import date

import click
from flask.cli import AppGroup

from infrawg.extensions import db

surveys_cli = AppGroup("surveys", help="The annual survey, its mail and the goals.")


@surveys_cli.command("send")
@click.option(
    "--on",
    "on",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Act as if today were this day (YYYY-MM-DD); for catching up.",
)
def send_command(on) -> None:
    """Send what is due now: invitations, reminders, goal announcements. The `surveys.send`
    job does this every hour on its schedule; by hand (catching up with --on) it is safe:
    nobody ever gets the same mail twice."""
    from infrawg.surveys.mailing import send_due_mail

    day: date | None = on.date() if on else None
    report = send_due_mail(day)
    db.session.commit()
    click.echo(
        f"Sent {report.invitations} invitations, {report.reminders} reminders, "
        f"{report.announcements} goal announcements."
    )
