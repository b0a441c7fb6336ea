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
    web.add_nav_link(app, *nav_links())
    web.add_dashboard_section(
        app, "governance/_waiting_reviews.html", views.dashboard_reviews, waiting=True
    )
    cli.add_command(app, bootstrap_command)
    service.init_signals(app)


def nav_links():
    from infrawg import web
    from infrawg.policy import Permission
    from infrawg.ui import NavGroup, NavLink

    return (
        NavLink(
            NavGroup.PEOPLE,
            "People",
            "governance.people",
            web.permitted(Permission.DIRECTORY_READ),
            order=10,
            current=("governance.people", "governance.person"),
        ),
        NavLink(
            NavGroup.PEOPLE,
            "Chair's queue",
            "governance.chair_queue",
            web.permitted(Permission.STAFF_DECIDE),
            count="chair_queue",
            id="nav-chair-queue",
            order=40,
        ),
        NavLink(
            NavGroup.PEOPLE,
            "Board's queue",
            "governance.board_queue",
            web.permitted(Permission.APPLICATION_DECIDE_BOARD),
            count="board_queue",
            id="nav-board-queue",
            order=41,
        ),
        NavLink(
            NavGroup.PEOPLE,
            "Audit trail",
            "governance.audit_trail",
            web.permitted(Permission.AUDIT_READ),
            order=50,
        ),
        NavLink(NavGroup.PEOPLE, "Charter", "governance.charter", order=90),
    )
