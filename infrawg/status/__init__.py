"""Impact notices (R5) and the status page: staff announce maintenance or an incident on
services; the tenant members of every affected organisation are mailed (with an .ics) and
shown the notice on the site, acknowledge it, and receive its updates and the all-clear."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask

bp = Blueprint("status", __name__)


def _waiting(person: Any) -> dict[str, int]:
    from infrawg.status.service import waiting_acknowledgement

    if not person.is_member:
        return {}
    return {"impact_notices": waiting_acknowledgement(person)}


def init_app(app: Flask) -> None:
    """Routes, the nav entry and the count of notices waiting for acknowledgement."""
    # Imported here, not at the top: importing the package (for its models) loads no views.
    from infrawg import web
    from infrawg.status import views  # noqa: F401  (the blueprint's routes)

    app.register_blueprint(bp)
    web.add_nav_area(app, "status")
    web.add_nav_counter(app, _waiting)
