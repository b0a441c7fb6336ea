"""The service layer: providers, the service catalogue, requests and services."""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("provisioning", __name__)


def init_app(app: Flask) -> None:
    """Routes, the chair's nav count, the service jobs, and R7/R8: a lapsed charter suspends
    an organisation's services, its recognition as a CO resumes them."""
    # Imported here, not at the top: importing the package (for its models) loads no views.
    from flask import url_for

    from infrawg import web
    from infrawg.jobs.views import register_subject_page
    from infrawg.provisioning import kinds, lifecycle, service, views  # noqa: F401  (jobs)

    # Each kind's routes and jobs, before the blueprint is registered.
    for kind in kinds.available().values():
        kind.init_app(app)
    app.register_blueprint(bp)
    web.add_nav_counter(app, views.nav_counts)
    register_subject_page(
        app,
        "service",
        lambda item: (item.name, url_for("provisioning.service_page", service_id=item.id)),
    )
    web.add_nav_link(app, *nav_links())
    web.add_dashboard_section(app, "provisioning/_my_services.html", views.dashboard_services)
    lifecycle.init_signals(app)


def nav_links():
    from infrawg import web
    from infrawg.policy import Permission
    from infrawg.ui import NavGroup, NavLink

    return (
        NavLink(
            NavGroup.SERVICES,
            "Services",
            "provisioning.services",
            web.permitted(Permission.SERVICE_VIEW),
            count="service_requests",
            id="nav-services",
            order=10,
            current=("provisioning.",),
        ),
    )
