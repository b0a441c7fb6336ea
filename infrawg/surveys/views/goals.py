"""Pages of the goals (R15): the years, a goal, its comments and updates, the feed, publishing."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Response, current_app, request, url_for
from flask_login import current_user

from infrawg.errors import DomainError, Invalid
from infrawg.extensions import db
from infrawg.forms import options
from infrawg.policy import Permission, can, public, requires
from infrawg.surveys import bp, feeds, goals, milestones
from infrawg.surveys.forms import MAX_ID, CommentForm, GoalForm, GoalUpdateForm, PublishForm
from infrawg.surveys.models import GoalStatus, SurveyState
from infrawg.timeutil import utcnow
from infrawg.ui import plural
from infrawg.web import (
    confirm_first,
    external_url,
    incomplete_form,
    redirect_after_post,
    refused,
    render,
    submit,
)


@bp.app_template_global("published_goals")
def _published_goals():
    """For the home page's goals section: (year, goals) of the latest published year."""
    return goals.current_goals()


@bp.get("/goals")
@public
def goals_index():
    drafts = None
    if can(current_user, Permission.GOAL_READ_DRAFT):
        drafts = db.session.scalars(goals.draft_goals()).all()
    return render("surveys/goals_index.html", years=goals.published_years(), drafts=drafts)


@bp.get("/goals/<int:year>")
@public
def goals_year(year: int):
    published = goals.goals_of_year(year)
    drafts = []
    if can(current_user, Permission.GOAL_READ_DRAFT):
        drafts = [g for g in goals.goals_of_year(year, include_drafts=True) if not g.published]
    return render(
        "surveys/goals_year.html",
        year=year,
        goals=published,
        drafts=drafts,
        publish_form=PublishForm(),
    )


@bp.get("/goals/<int:year>/feed.atom")
@public
def goals_feed(year: int):
    entries, updated = goals.feed_entries(year)
    body = feeds.goals_atom(
        year,
        entries,
        updated,
        site_name=str(current_app.jinja_env.globals["site_name"]),
        host=urlsplit(current_app.config["BASE_URL"]).hostname or "localhost",
        self_url=external_url("surveys.goals_feed", year=year),
        page_url=external_url("surveys.goals_year", year=year),
        goal_url=lambda goal: external_url("surveys.goal", goal_id=goal.id),
    )
    return Response(body, mimetype="application/atom+xml")


def _goal_form(form: GoalForm) -> GoalForm:
    form.owner_id.choices = options(
        [("", "Nobody yet")] + [(p.id, p.name) for p in milestones.members()]
    )
    surveys_closed = {}
    links = []
    for survey, question in goals.motivating_questions():
        if survey.state == SurveyState.CLOSED:
            surveys_closed[survey.id] = f"{survey.title} ({survey.year})"
        links.append((str(question.id), f"{survey.year} · Q{question.position}: {question.prompt}"))
        for index, option in enumerate(question.options):
            links.append(
                (f"{question.id}:{index}", f"{survey.year} · Q{question.position} → {option}")
            )
    form.survey_id.choices = options([("", "None"), *surveys_closed.items()])
    form.links.choices = options(links)
    return form


def _goal_input(form: GoalForm) -> goals.GoalInput:
    links = []
    for raw in form.links.data or []:
        question, _, option = str(raw).partition(":")
        try:
            if not 0 <= int(question) <= MAX_ID:
                raise ValueError(question)
            links.append((int(question), int(option) if option else None))
        except ValueError:
            raise Invalid("A linked question is not one of the survey's.") from None
    return goals.GoalInput(
        year=form.year.data,
        title=form.title.data or "",
        description=form.description.data or "",
        owner_id=form.owner_id.data,
        target_on=form.target_on.data,
        survey_id=form.survey_id.data,
        links=links,
    )


@bp.route("/goals/new", methods=["GET", "POST"])
@requires(Permission.GOAL_MANAGE)
def new_goal():
    form = _goal_form(GoalForm())

    def again(status: int = 200, _error: DomainError | None = None):
        return render("surveys/goal_form.html", status=status, form=form, goal=None)

    if request.method == "GET":
        form.year.data = utcnow().year + 1
        if request.args.get("survey", "").isdigit():
            form.survey_id.data = int(request.args["survey"])
        return again()
    return submit(
        form,
        lambda: goals.draft_goal(current_user, _goal_input(form)),
        done=lambda goal: redirect_after_post(
            url_for("surveys.goal", goal_id=goal.id),
            "The goal is drafted. Members can read it and comment.",
        ),
        again=again,
        field="links",
    )


@bp.route("/goal/<int:goal_id>/edit", methods=["GET", "POST"])
@requires(Permission.GOAL_MANAGE)
def edit_goal(goal_id: int):
    goal = goals.get_goal(goal_id, current_user)
    form = _goal_form(GoalForm(obj=goal))

    def again(status: int = 200, _error: DomainError | None = None):
        return render("surveys/goal_form.html", status=status, form=form, goal=goal)

    if request.method == "GET":
        form.links.data = [
            f"{link.question_id}:{link.option}"
            if link.option is not None
            else str(link.question_id)
            for link in goal.links
        ]
        return again()
    return submit(
        form,
        lambda: goals.update_goal(current_user, goal, _goal_input(form)),
        done=lambda _: redirect_after_post(url_for("surveys.goal", goal_id=goal_id), "Saved."),
        again=again,
        field="links",
    )


def _goal_page(goal, status: int = 200, **forms):
    member = can(current_user, Permission.GOAL_READ_DRAFT)
    forms.setdefault("comment_form", CommentForm())
    forms.setdefault("update_form", GoalUpdateForm(status=goal.status.value))
    return render(
        "surveys/goal.html",
        "surveys/_comments.html",
        status=status,
        goal=goal,
        # R16: the comment thread is the group's own discussion.
        comments=goals.comments_of(goal) if member else [],
        member=member,
        **forms,
    )


@bp.get("/goal/<int:goal_id>")
@public
def goal(goal_id: int):
    return _goal_page(goals.get_goal(goal_id, current_user))


@bp.post("/goal/<int:goal_id>/comments")
@requires(Permission.GOAL_COMMENT)
def comment(goal_id: int):
    goal = goals.get_goal(goal_id, current_user)
    form = CommentForm()

    def done(_result: object):
        return redirect_after_post(
            url_for("surveys.goal", goal_id=goal_id) + "#comments",
            swap=lambda: _goal_page(goal, comment_form=CommentForm(formdata=None)),
        )

    return submit(
        form,
        lambda: goals.comment(current_user, goal, form.body.data or ""),
        done=done,
        again=lambda status, _error: _goal_page(goal, status, comment_form=form),
        field="body",
    )


@bp.post("/goal/<int:goal_id>/updates")
@requires(Permission.GOAL_MANAGE)
def goal_update(goal_id: int):
    goal = goals.get_goal(goal_id, current_user)
    form = GoalUpdateForm()
    return submit(
        form,
        lambda: goals.add_update(
            current_user, goal, GoalStatus(form.status.data), form.note.data or ""
        ),
        done=lambda _: redirect_after_post(
            url_for("surveys.goal", goal_id=goal_id), "Progress recorded."
        ),
        again=lambda status, _error: _goal_page(
            goals.get_goal(goal_id, current_user), status, update_form=form
        ),
        field="note",
    )


@bp.post("/goals/<int:year>/publish")
@requires(Permission.GOAL_PUBLISH)
def publish_goals(year: int):
    form = PublishForm()
    form.validate_on_submit() or incomplete_form()
    # Publishing announces the goals to every member: show what goes out, then ask once more.
    drafts = goals.drafts_to_publish(current_user, year)
    asking = confirm_first(
        lambda: render(
            "confirm_page.html",
            title=f"Publish the goals for {year}?",
            explanation="Publishing makes these goals public, updates the feed and mails the "
            "announcement to every member and to the foundation's announcement address.",
            rows=[
                ("Goals", plural(len(drafts), "goal")),
                *((f"Goal {n}", goal.title) for n, goal in enumerate(drafts, 1)),
                ("Your word", form.note.data or "(none)"),
            ],
            action=url_for("surveys.publish_goals", year=year),
            hidden={"note": form.note.data or ""},
            button=f"Yes, publish and announce the goals for {year}",
            cancel=url_for("surveys.goals_year", year=year),
        )
    )
    if asking is not None:
        return asking
    return submit(
        form,
        lambda: goals.publish_year(current_user, year, form.note.data or ""),
        done=lambda _: redirect_after_post(
            url_for("surveys.goals_year", year=year),
            f"The goals for {year} are public and announced to the membership.",
        ),
        again=refused,
    )
