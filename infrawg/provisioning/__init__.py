"""The service layer: providers, the service catalogue, requests and jobs."""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("provisioning", __name__)


def init_app(app: Flask) -> None:
    """Routes, staff's nav counts, the jobs and `flask infrawg worker`, and R7/R8: a lapsed
    charter suspends an organisation's services, its recognition as a CO resumes them."""
    # Imported here, not at the top: importing the package (for its models) loads no views.
    from infrawg import cli, web
    from infrawg.provisioning import jobs, service, views
    from infrawg.provisioning import zones as _zones  # noqa: F401  (its jobs, by name)
    from infrawg.provisioning.cli import requeue_command, worker_command

    jobs.install_session_hooks()
    app.register_blueprint(bp)
    web.add_nav_counter(app, views.nav_counts)
    cli.add_command(app, worker_command)
    cli.add_command(app, requeue_command)
    service.init_signals(app)
