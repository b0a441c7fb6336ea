"""`flask infrawg list ...`: the mailing list outside a request."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from infrawg.extensions import db
from infrawg.membership.drift import sync
from infrawg.membership.lists import ListUnavailable

list_cli = AppGroup("list", help="The group's mailing list.")


@list_cli.command("sync")
def sync_command() -> None:
    """Poll the list's roster: invite who subscribed on the list directly, ask who
    unsubscribed there whether they meant to leave, mail staff the new drift. The
    `membership.list_poll` schedule does the same every 15 minutes; this runs it now."""
    try:
        result = sync()
    except ListUnavailable as error:
        db.session.rollback()
        raise click.ClickException(f"The list cannot be read; nothing changed: {error}") from None
    db.session.commit()
    if result.first_run:
        click.echo(f"First sync: recorded the roster of {result.roster} addresses.")
    click.echo(
        f"{result.roster} on the list; invited {len(result.invited)}, asked "
        f"{len(result.asked)} whether they meant to leave; {len(result.new_drift)} new drift rows."
    )
