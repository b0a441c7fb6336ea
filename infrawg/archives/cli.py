"""`flask infrawg archive ...`: import an mbox, run the LMTP server."""

from __future__ import annotations

import os
import time

import click
from flask import current_app
from flask.cli import AppGroup

from infrawg.extensions import db

archive_cli = AppGroup("archive", help="The confidential list archives (R16).")


@archive_cli.command("import")
@click.argument("list_name", metavar="LIST")
@click.argument("path", metavar="FILE", type=click.Path(exists=True, dir_okay=False))
@click.option("--batch-size", default=1000, show_default=True, help="Messages per commit.")
def import_command(list_name: str, path: str, batch_size: int) -> None:
    """Import the mbox FILE (plain, .gz, .xz or .bz2) into LIST (created members-only).

    Messages are readable only once the whole file is in. Importing the same file again
    adds nothing.
    """
    from infrawg.archives.ingest import import_mbox
    from infrawg.archives.lmtp import LIST_NAME

    if not LIST_NAME.match(list_name):
        raise click.BadParameter("lower-case letters, digits, '.', '_' and '-'", param_hint="LIST")
    started = time.monotonic()
    with click.progressbar(length=os.path.getsize(path), label="Importing") as bar:
        done = 0

        def progress(position: int) -> None:
            nonlocal done
            bar.update(position - done)
            done = position

        summary = import_mbox(
            db.session(), list_name, path, batch_size=batch_size, progress=progress
        )
    elapsed = time.monotonic() - started
    rate = summary.read / elapsed if elapsed else 0.0
    click.echo(f"{summary.line()} in {elapsed:.1f} s ({rate:,.0f} messages/s)")


@archive_cli.command("lmtp")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8024, show_default=True, type=int)
@click.option("--list", "list_name", default=None, help="Store all mail in this list.")
def lmtp_command(host: str, port: int, list_name: str | None) -> None:
    """Run the LMTP server the list server delivers to (until interrupted)."""
    from infrawg.archives.lmtp import make_server

    server = make_server(current_app._get_current_object(), host, port, list_name)  # type: ignore[attr-defined]
    server.start()
    click.echo(f"LMTP server listening on {host}:{port}; Ctrl-C stops it.")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
