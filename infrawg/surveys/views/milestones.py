"""Pages of projects and their milestones (R16), and each member's calendar link."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Response, current_app, request, url_for
from flask_login import current_user

from infrawg.errors import DomainError
from infrawg.forms import ConfirmForm, options
from infrawg.policy import Permission, public, requires
from infrawg.surveys import bp, feeds, mailing, milestones
from infrawg.surveys.forms import MilestoneForm, ProjectForm
from infrawg.surveys.models import MilestoneStatus, ProjectKind
from infrawg.timeutil import utcnow
from infrawg.web import (
    external_url,
    paginate,
    redirect_after_post,
    refused,
    render,
    submit,
)


@bp.get("/projects")
@requires(Permission.MILESTONE_READ)
def projects():
    return render("surveys/projects.html", page=paginate(milestones.projects()))


def _project_form(form: ProjectForm) -> ProjectForm:
    form.organisation_id.choices = options(
        [("", "None")] + [(o.id, o.name) for o in mailing.audience_organisations()]
    )
    return form


@bp.route("/projects/new", methods=["GET", "POST"])
@requires(Permission.MILESTONE_MANAGE)
def new_project():
    form = _project_form(ProjectForm())

    def again(status: int = 200, _error: DomainError | None = None):
        return render("surveys/project_form.html", status=status, form=form)

    if request.method == "GET":
        return again()
    return submit(
        form,
        lambda: milestones.create_project(
            current_user,
            form.name.data or "",
            form.slug.data or "",
            form.description.data or "",
            ProjectKind(form.kind.data),
            form.organisation_id.data,
        ),
        done=lambda project: redirect_after_post(url_for("surveys.project", slug=project.slug)),
        again=again,
        field="slug",
    )


def _milestone_form(form: MilestoneForm) -> MilestoneForm:
    form.owner_id.choices = options(
        [("", "Nobody yet")] + [(p.id, p.name) for p in milestones.members()]
    )
    return form


def _project_page(project, status: int = 200, milestone_form=None, new_link: str | None = None):
    return render(
        "surveys/project.html",
        status=status,
        project=project,
        today=utcnow().date(),
        milestone_form=milestone_form or _milestone_form(MilestoneForm()),
        calendar=milestones.active_calendar_token(current_user, project),
        new_link=new_link,
        action_form=ConfirmForm(),
    )


@bp.get("/projects/<slug>")
@requires(Permission.MILESTONE_READ)
def project(slug: str):
    return _project_page(milestones.get_project(slug))


def _milestone_input(form: MilestoneForm) -> milestones.MilestoneInput:
    return milestones.MilestoneInput(
        title=form.title.data or "",
        due_on=form.due_on.data,
        owner_id=form.owner_id.data,
        status=MilestoneStatus(form.status.data),
        notes=form.notes.data or "",
    )


@bp.post("/projects/<slug>/milestones")
@requires(Permission.MILESTONE_MANAGE)
def add_milestone(slug: str):
    project = milestones.get_project(slug)
    form = _milestone_form(MilestoneForm())
    return submit(
        form,
        lambda: milestones.add_milestone(current_user, project, _milestone_input(form)),
        done=lambda _: redirect_after_post(
            url_for("surveys.project", slug=slug), "Milestone added."
        ),
        again=lambda status, _error: _project_page(
            milestones.get_project(slug), status, milestone_form=form
        ),
        field="owner_id",
    )


@bp.route("/projects/<slug>/milestones/<int:milestone_id>", methods=["GET", "POST"])
@requires(Permission.MILESTONE_MANAGE)
def edit_milestone(slug: str, milestone_id: int):
    project = milestones.get_project(slug)
    milestone = milestones.get_milestone(project, milestone_id)
    form = _milestone_form(MilestoneForm(obj=milestone, status=milestone.status.value))

    def again(status: int = 200, _error: DomainError | None = None):
        return render(
            "surveys/milestone.html", status=status, project=project, milestone=milestone, form=form
        )

    if request.method == "GET":
        return again()
    return submit(
        form,
        lambda: milestones.update_milestone(current_user, milestone, _milestone_input(form)),
        done=lambda _: redirect_after_post(
            url_for("surveys.project", slug=slug), "Milestone saved."
        ),
        again=again,
        field="owner_id",
    )


@bp.post("/projects/<slug>/calendar-link")
@requires(Permission.MILESTONE_READ)
def calendar_link(slug: str):
    project = milestones.get_project(slug)
    return submit(
        ConfirmForm(),
        lambda: milestones.issue_calendar_link(current_user, project),
        done=lambda secret: _project_page(
            milestones.get_project(slug),
            new_link=external_url("surveys.project_calendar", slug=slug, token=secret),
        ),
        again=refused,
    )


@bp.post("/projects/<slug>/calendar-link/revoke")
@requires(Permission.MILESTONE_READ)
def revoke_calendar_link(slug: str):
    project = milestones.get_project(slug)
    return submit(
        ConfirmForm(),
        lambda: milestones.revoke_calendar_link(current_user, project),
        done=lambda _: redirect_after_post(
            url_for("surveys.project", slug=slug), "Your calendar link no longer works."
        ),
        again=refused,
    )


@bp.get("/projects/<slug>/calendar/<token>.ics")
@public
def project_calendar(slug: str, token: str):
    """R16: members only, by a secret link a calendar program can fetch without a session."""
    project = milestones.project_for_calendar(slug, token)
    body = feeds.project_calendar(
        project,
        host=urlsplit(current_app.config["BASE_URL"]).hostname or "localhost",
        now=utcnow(),
        link=external_url("surveys.project", slug=slug),
    )
    response = Response(body, mimetype="text/calendar")
    response.headers["Cache-Control"] = "private, no-store"
    return response
