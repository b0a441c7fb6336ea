"""`flask infrawg ...` commands."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

infrawg_cli = AppGroup("infrawg", help="Infra-WG site commands.")


@infrawg_cli.command("demo")
@click.option("--if-empty", is_flag=True, help="Only load when the database has no people.")
def demo_command(if_empty: bool) -> None:
    """Load demo data: a chair, two staff, members, applicants; prints the passwords once."""
    from infrawg.demo import load_demo

    load_demo(if_empty=if_empty)


def init_app(app: Flask) -> None:
    from infrawg.governance.cli import bootstrap_command

    infrawg_cli.add_command(bootstrap_command)
    from infrawg.surveys.cli import surveys_cli

    infrawg_cli.add_command(surveys_cli)
    from infrawg.archives.cli import archive_cli

    infrawg_cli.add_command(archive_cli)
    from infrawg.membership.cli import list_cli

    infrawg_cli.add_command(list_cli)

    from infrawg.upgrade import upgrade_command

    infrawg_cli.add_command(upgrade_command)
    app.cli.add_command(infrawg_cli)
