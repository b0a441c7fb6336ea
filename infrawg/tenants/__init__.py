"""Tenant organisations (WG and CO), their tenant members, applications and requests."""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("tenants", __name__)


def init_app(app: Flask) -> None:
    """Routes, and R4 when a member leaves the group: the last tenant member of an
    organisation may not, and a leaver's tenancies end."""
    # Imported here, not at the top: importing the package (for its models) loads no views.
    from infrawg import web
    from infrawg.policy import Permission
    from infrawg.tenants import service, views  # noqa: F401  (views: the blueprint's routes)
    from infrawg.ui import NavGroup, NavLink

    app.register_blueprint(bp)
    web.add_nav_link(
        app,
        NavLink(
            NavGroup.PEOPLE,
            "Organisations",
            "tenants.organisations",
            web.permitted(Permission.ORGANISATION_READ),
            order=20,
            current=("tenants.",),
        ),
    )
    service.init_signals(app)
