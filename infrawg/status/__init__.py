"""Impact notices (R5) and the status page: staff announce maintenance or an incident on
services; the tenant members of every affected organisation are mailed (with an .ics) and
shown the notice on the site, acknowledge it, and receive its updates and the all-clear."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask

bp = Blueprint("status", __name__)


def _waiting(person: Any) -> dict[str, Any]:
    from infrawg.status.service import waiting_acknowledgement_count

    if not person.is_member:
        return {}
    return {"impact_notices": waiting_acknowledgement_count(person)}


def init_app(app: Flask) -> None:
    """Routes, the nav entry and the count of notices waiting for acknowledgement."""
    # Imported here, not at the top: importing the package (for its models) loads no views.
    from infrawg import web
    from infrawg.status import views  # noqa: F401  (the blueprint's routes)

    app.register_blueprint(bp)
    web.add_nav_counter(app, _waiting)
    web.add_nav_link(app, *nav_links())


def nav_links():
    from infrawg import web
    from infrawg.policy import Permission
    from infrawg.ui import NavGroup, NavLink

    return (
        NavLink(
            NavGroup.SERVICES,
            "Impact notices",
            "status.notices",
            web.permitted(Permission.NOTICE_MANAGE),
            id="nav-notices",
            order=30,
            current=("status.notice",),
        ),
        NavLink(
            NavGroup.SERVICES,
            "My notices",
            "status.mine",
            lambda person: (
                web.permitted(Permission.DASHBOARD_READ)(person)
                and not web.permitted(Permission.NOTICE_MANAGE)(person)
            ),
            count="impact_notices",
            count_label="to acknowledge",
            id="nav-my-notices",
            order=30,
        ),
        # The status page is public: it names nothing private.
        NavLink(NavGroup.SERVICES, "Status", "status.status_page", id="nav-status", order=40),
    )
