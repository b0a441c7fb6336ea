"""`flask infrawg upgrade`: `flask db upgrade` that is safe to start on every node at once.

Two nodes running the migrations together would both try to create the same tables. On
PostgreSQL the upgrade holds an advisory lock for the whole run; a second node waits for it,
then finds the schema at head and does nothing. On SQLite (one host) an exclusive lock on a
file next to the database does the same.
"""

from __future__ import annotations

import contextlib
import fcntl
import zlib
from collections.abc import Iterator
from pathlib import Path

import click
from flask.cli import with_appcontext
from sqlalchemy import make_url, text
from sqlalchemy.engine import Engine

from infrawg.extensions import db

# pg_advisory_lock takes a bigint; any fixed number the site uses for nothing else.
UPGRADE_LOCK_KEY = zlib.crc32(b"infrawg: schema upgrade")


@contextlib.contextmanager
def upgrade_lock(engine: Engine) -> Iterator[None]:
    """Hold the site-wide upgrade lock; says so when it has to wait for another node."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            key = {"key": UPGRADE_LOCK_KEY}
            if not connection.scalar(text("SELECT pg_try_advisory_lock(:key)"), key):
                click.echo("Another node is upgrading the database; waiting for it.")
                connection.execute(text("SELECT pg_advisory_lock(:key)"), key)
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), key)
        return
    database = make_url(str(engine.url)).database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield  # nothing another process could share
        return
    with open(Path(database).with_name(Path(database).name + ".upgrade-lock"), "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            click.echo("Another process is upgrading the database; waiting for it.")
            fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@click.command("upgrade")
@with_appcontext
def upgrade_command() -> None:
    """Migrate the database to the newest schema (`flask db upgrade`) under a lock, so
    starting it on several nodes at once is safe: one migrates, the others wait and find
    nothing left to do."""
    from flask_migrate import upgrade

    with upgrade_lock(db.engine):
        upgrade()
    click.echo("The database schema is up to date.")
