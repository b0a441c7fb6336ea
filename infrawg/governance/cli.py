"""`flask infrawg bootstrap`: the first chair and board of a new installation."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from infrawg.errors import DomainError
from infrawg.extensions import db


@click.command("bootstrap")
@with_appcontext
@click.option("--chair", "chair_email", required=True, help="Email of the first chair.")
@click.option(
    "--board", "board_emails", multiple=True, required=True, help="Email of a board member."
)
def bootstrap_command(chair_email: str, board_emails: tuple[str, ...]) -> None:
    """Set the first chair and board (refused once a chair exists: then the board appoints)."""
    from infrawg.governance.service import bootstrap

    try:
        chair, board = bootstrap(chair_email, list(board_emails))
    except DomainError as error:
        db.session.rollback()
        raise click.ClickException(error.message) from None
    db.session.commit()
    click.echo(f"Chair: {chair.name} <{chair.email}>")
    for person in board:
        click.echo(f"Board: {person.name} <{person.email}>")
    click.echo("New accounts have no password: use 'Forgot your password?' on the sign-in page.")
