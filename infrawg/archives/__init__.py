"""Confidential list archives (R16): members only unless an explicit act says otherwise."""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("archives", __name__)


def init_app(app: Flask) -> None:
    """Routes (with their template filters) and `flask infrawg archive ...`."""
    # Imported here, not at the top: importing the package (for its models) loads no views.
    from infrawg import cli, web
    from infrawg.archives import views  # noqa: F401  (the blueprint's routes and filters)
    from infrawg.archives.cli import archive_cli
    from infrawg.policy import Permission
    from infrawg.ui import NavGroup, NavLink

    app.register_blueprint(bp)
    web.add_nav_link(
        app,
        NavLink(
            NavGroup.ARCHIVES,
            "Archives",
            "archives.index",
            web.permitted(Permission.ARCHIVE_READ),
            id="nav-archives",
            order=10,
            current=("archives.",),
        ),
        NavLink(
            NavGroup.ARCHIVES,
            "Search",
            "archives.search_page",
            web.permitted(Permission.ARCHIVE_READ),
            order=20,
        ),
        NavLink(
            NavGroup.ARCHIVES,
            "Quarantine",
            "archives.quarantine",
            web.permitted(Permission.ARCHIVE_QUARANTINE),
            order=30,
            current=("archives.quarantine",),
        ),
    )
    cli.add_command(app, archive_cli)
