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
    web.add_nav_link(app, *nav_links())
    cli.add_command(app, surveys_cli)


def nav_links():
    from infrawg import web
    from infrawg.policy import Permission
    from infrawg.ui import NavGroup, NavLink

    return (
        NavLink(
            NavGroup.SURVEYS,
            "Surveys",
            "surveys.surveys",
            web.permitted(Permission.SURVEY_READ),
            count="surveys",
            count_label="to answer",
            id="nav-surveys",
            order=10,
            current=("surveys.",),
        ),
        NavLink(
            NavGroup.SURVEYS, "Goals", "surveys.goals_index", order=20, current=("surveys.goal",)
        ),
        NavLink(
            NavGroup.SURVEYS,
            "Milestones",
            "surveys.projects",
            web.permitted(Permission.MILESTONE_READ),
            order=30,
            current=("surveys.project", "surveys.milestone"),
        ),
    )
