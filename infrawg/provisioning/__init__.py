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
    web.add_nav_link(app, *nav_links())
    cli.add_command(app, worker_command)
    cli.add_command(app, requeue_command)
    service.init_signals(app)


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
        NavLink(
            NavGroup.SERVICES,
            "Jobs",
            "provisioning.job_queue",
            web.permitted(Permission.JOB_MANAGE),
            count="dead_jobs",
            count_label="gave up",
            id="nav-jobs",
            order=20,
            current=("provisioning.job",),
        ),
    )
