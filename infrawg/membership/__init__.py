"""Membership: joining through the list's link, accounts, the member dashboard."""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("membership", __name__)
auth_bp = Blueprint("auth", __name__)


def init_app(app: Flask) -> None:
    """Routes, sign-in, the nav count of applications, the list's jobs and commands."""
    # Imported here, not at the top: importing the package (for its models) loads no views.
    from infrawg import cli, web
    from infrawg.extensions import login_manager
    from infrawg.membership import auth_views, twofactor_views, views
    from infrawg.membership import jobs as _jobs  # noqa: F401  (the list's jobs, by name)
    from infrawg.membership.cli import list_cli

    login_manager.user_loader(auth_views.load_user)
    auth_views.register_oidc(app)
    app.register_blueprint(bp)
    app.register_blueprint(auth_bp)
    twofactor_views.init_app(app)
    web.add_nav_counter(app, views.nav_counts)
    web.add_nav_link(app, *nav_links())
    cli.add_command(app, list_cli)


def nav_links():
    from infrawg import web
    from infrawg.policy import Permission
    from infrawg.ui import NavGroup, NavLink

    return (
        NavLink(
            NavGroup.PEOPLE,
            "Applications",
            "membership.applications",
            web.permitted(Permission.MEMBERSHIP_DECIDE),
            count="applications",
            id="nav-applications",
            order=30,
        ),
        NavLink(
            NavGroup.PEOPLE,
            "List drift",
            "membership.drift",
            web.permitted(Permission.MEMBERSHIP_DRIFT_READ),
            order=60,
        ),
        NavLink(
            NavGroup.PEOPLE,
            "Roster",
            "membership.roster",
            web.permitted(Permission.ROSTER_MANAGE),
            order=61,
        ),
    )
