"""Governance: roles and their authority, the chair and board, the audit trail."""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("governance", __name__)


def init_app(app: Flask) -> None:
    """Routes, the chair's and board's nav counts, `flask infrawg bootstrap`, and the end of
    a leaver's roles (staff and chair count only for members)."""
    # Imported here, not at the top: importing the package (for its models) loads no views.
    from infrawg import cli, web
    from infrawg.governance import service, views
    from infrawg.governance.cli import bootstrap_command

    app.register_blueprint(bp)
    web.add_nav_counter(app, views.nav_counts)
    cli.add_command(app, bootstrap_command)
    service.init_signals(app)
