"""The site's background jobs, used by every area: the runner, its table, its pages.

    from infrawg.jobs import JobContext, Pending, enqueue, job

`runner` holds the whole mechanism (its docstring is the guide); `schedules` the jobs that
run on a schedule and the tick that enqueues them; `service` the queries the pages use;
`cli` `flask infrawg worker`, `flask infrawg tick` and `flask infrawg requeue-jobs`.
"""

from __future__ import annotations

from flask import Blueprint, Flask

from infrawg.jobs.runner import JobContext, Pending, enqueue, job, run_due_jobs

__all__ = ["JobContext", "Pending", "bp", "enqueue", "init_app", "job", "run_due_jobs"]

bp = Blueprint("jobs", __name__)


def init_app(app: Flask) -> None:
    """The job pages, staff's count of dead jobs, the worker commands, and RQ pushes after
    commit. Runs before the areas' init_app, which declare their jobs."""
    from infrawg import cli, web
    from infrawg.jobs import runner, views
    from infrawg.jobs.cli import requeue_command, tick_command, worker_command

    runner.install_session_hooks()
    app.register_blueprint(bp)
    web.add_nav_counter(app, views.nav_counts)
    web.add_nav_link(app, *nav_links())
    cli.add_command(app, worker_command)
    cli.add_command(app, requeue_command)
    cli.add_command(app, tick_command)
    views.start_worker_on_first_request(app)


def nav_links():
    from infrawg import web
    from infrawg.policy import Permission
    from infrawg.ui import NavGroup, NavLink

    return (
        NavLink(
            NavGroup.SERVICES,
            "Jobs",
            "jobs.job_queue",
            web.permitted(Permission.JOB_MANAGE),
            count="dead_jobs",
            count_label="gave up",
            id="nav-jobs",
            order=20,
            current=("jobs.",),
        ),
    )
