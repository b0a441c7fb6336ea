"""The annual survey, the goals the chair publishes, and project milestones (R15)."""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("surveys", __name__)


def init_app(app: Flask) -> None:
    """Routes, the nav count of surveys waiting for an answer, the mail job and
    `flask infrawg surveys ...`."""
    # Imported here, not at the top: importing the package (for its models) loads no views.
    from infrawg import cli, web
    from infrawg.surveys import jobs as _jobs  # noqa: F401  (the survey mail job, by name)
    from infrawg.surveys import views  # noqa: F401  (the blueprint's routes)
    from infrawg.surveys.cli import surveys_cli
    from infrawg.surveys.views import answers

    app.register_blueprint(bp)
    web.add_nav_counter(app, answers.nav_counts)
    cli.add_command(app, surveys_cli)
