"""Confidential list archives (R16): members only unless an explicit act says otherwise."""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("archives", __name__)


def init_app(app: Flask) -> None:
    """Routes (with their template filters) and `flask infrawg archive ...`."""
    # Imported here, not at the top: importing the package (for its models) loads no views.
    from infrawg import cli
    from infrawg.archives import views  # noqa: F401  (the blueprint's routes and filters)
    from infrawg.archives.cli import archive_cli

    app.register_blueprint(bp)
    cli.add_command(app, archive_cli)
