"""`flask infrawg ...` commands: the group is the app's; each area adds its own commands."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext

from infrawg.benchdata import bench_data_command
from infrawg.demo import load_demo
from infrawg.upgrade import upgrade_command

_GROUP = "infrawg_cli"


@click.command("demo")
@with_appcontext
@click.option("--if-empty", is_flag=True, help="Only load when the database has no people.")
def demo_command(if_empty: bool) -> None:
    """Load demo data: a chair, two staff, members, applicants; prints the passwords once."""
    load_demo(if_empty=if_empty)


def add_command(app: Flask, command: click.Command) -> None:
    """Add ``command`` under `flask infrawg` for ``app`` (an area calls it in its init_app)."""
    app.extensions[_GROUP].add_command(command)


def init_app(app: Flask) -> None:
    """The `flask infrawg` group of this app, before the areas add to it."""
    group = AppGroup("infrawg", help="Infra-WG site commands.")
    group.add_command(demo_command)
    group.add_command(bench_data_command)
    group.add_command(upgrade_command)
    app.extensions[_GROUP] = group
    app.cli.add_command(group)
