"""Pages of surveys, goals and milestones (R15). Thin: parse, call a service, render."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Response, current_app, request, stream_with_context, url_for
from flask_login import current_user

from infrawg.errors import DomainError, Invalid
from infrawg.extensions import db
from infrawg.forms import ConfirmForm, options
from infrawg.policy import Permission, can, public, requires
from infrawg.surveys import bp, feeds, goals, jobs, milestones, results, service
from infrawg.surveys.forms import (
    MAX_ID,
    CommentForm,
    DelegateForm,
    GoalForm,
    GoalUpdateForm,
    MilestoneForm,
    ProjectForm,
    PublishForm,
    QuestionForm,
    SurveyForm,
)
from infrawg.surveys.models import (
    Audience,
    GoalStatus,
    MilestoneStatus,
    ProjectKind,
    QuestionKind,
    Section,
    SurveyState,
)
from infrawg.timeutil import utcnow
from infrawg.web import (
    external_url,
    incomplete_form,
    nav_counter,
    paginate,
    redirect_after_post,
    render,
)

# Importing the jobs module registers the survey's mail job with the runner.
assert jobs.SEND == service.SEND_JOB


@nav_counter
def _surveys_waiting(person) -> dict[str, int]:
    if can(person, Permission.SURVEY_READ):
        return {"surveys": service.count_waiting_for(person)}
    return {}


@bp.context_processor
def _enums() -> dict:
    return {"QuestionKind": QuestionKind, "SurveyState": SurveyState, "Section": Section}


@bp.app_template_global("published_goals")
def _published_goals():
    """For the home page's goals section: (year, goals) of the latest published year."""
    return goals.current_goals()


# Surveys ----------------------------------------------------------------------------------


@bp.get("/surveys")
@requires(Permission.SURVEY_READ)
def surveys():
    return render(
        "surveys/list.html",
        "surveys/_survey_rows.html",
        page=paginate(service.surveys_for(current_user)),
        organisations=service.tenant_organisations_of(current_user),
        action_form=ConfirmForm(),
    )


def _survey_input(form: SurveyForm) -> service.SurveyInput:
    return service.SurveyInput(
        title=form.title.data or "",
        year=form.year.data,
        intro=form.intro.data or "",
        audience=Audience(form.audience.data),
        anonymous=bool(form.anonymous.data),
        opens_on=form.opens_on.data,
        closes_on=form.closes_on.data,
        reminder_days=form.reminder_days.data,
    )


@bp.route("/surveys/new", methods=["GET", "POST"])
@requires(Permission.SURVEY_CREATE)
def new_survey():
    form = SurveyForm()
    if request.method == "GET":
        year = utcnow().year
        form.year.data = year
        form.title.data = f"Annual survey {year}"
        form.anonymous.data = True
        form.reminder_days.data = 3
    elif form.validate_on_submit():
        try:
            survey = service.create_survey(current_user, _survey_input(form))
        except DomainError as error:
            db.session.rollback()
            form.closes_on.errors.append(error.message)
        else:
            db.session.commit()
            return redirect_after_post(
                url_for("surveys.survey", survey_id=survey.id), "The survey is saved as a draft."
            )
    status = 422 if form.is_submitted() else 200
    return render("surveys/new.html", "surveys/_survey_form.html", status=status, form=form)


def _survey_page(survey, status: int = 200, **forms):
    manage = service.can_manage(current_user, survey)
    sheet_links = []
    if Section.TENANTS in survey.audience.sections:
        sheet_links = service.tenant_organisations_of(current_user)
    forms.setdefault("settings_form", SurveyForm(obj=survey, audience=survey.audience.value))
    forms.setdefault("question_form", QuestionForm(section=survey.audience.sections[0].value))
    delegate_form = forms.setdefault("delegate_form", DelegateForm())
    delegate_form.person_id.choices = options((p.id, p.name) for p in service.staff_people())
    return render(
        "surveys/survey.html",
        status=status,
        survey=survey,
        manage=manage,
        questions=service.questions_of(survey),
        managers=service.managers_of(survey),
        answered=service.has_answered(current_user, survey),
        organisations=sheet_links,
        action_form=ConfirmForm(),
        **forms,
    )


@bp.get("/surveys/<int:survey_id>")
@requires(Permission.SURVEY_READ)
def survey(survey_id: int):
    return _survey_page(service.get_survey(survey_id, current_user))


@bp.post("/surveys/<int:survey_id>/settings")
@requires(Permission.SURVEY_READ)
def update_survey(survey_id: int):
    survey = service.get_survey(survey_id, current_user)
    service.require_manage(current_user, survey)
    form = SurveyForm()
    if not form.validate_on_submit():
        return _survey_page(survey, 422, settings_form=form)
    try:
        service.update_survey(current_user, survey, _survey_input(form))
    except Invalid as error:
        db.session.rollback()
        form.title.errors.append(error.message)
        return _survey_page(service.get_survey(survey_id), 422, settings_form=form)
    db.session.commit()
    return redirect_after_post(url_for("surveys.survey", survey_id=survey_id), "Saved.")


@bp.post("/surveys/<int:survey_id>/copy")
@requires(Permission.SURVEY_CREATE)
def copy_survey(survey_id: int):
    ConfirmForm().validate_on_submit() or incomplete_form()
    copy = service.copy_survey(current_user, service.get_survey(survey_id, current_user))
    db.session.commit()
    return redirect_after_post(
        url_for("surveys.survey", survey_id=copy.id),
        f"Copied into a draft for {copy.year}: check the dates and questions.",
    )


@bp.post("/surveys/<int:survey_id>/questions")
@requires(Permission.SURVEY_READ)
def add_question(survey_id: int):
    survey = service.get_survey(survey_id, current_user)
    service.require_manage(current_user, survey)
    form = QuestionForm()
    if not form.validate_on_submit():
        return _survey_page(survey, 422, question_form=form)
    try:
        service.add_question(
            current_user,
            survey,
            Section(form.section.data),
            QuestionKind(form.kind.data),
            form.prompt.data,
            form.options_text.data or "",
            bool(form.required.data),
        )
    except Invalid as error:
        db.session.rollback()
        form.options_text.errors.append(error.message)
        return _survey_page(service.get_survey(survey_id), 422, question_form=form)
    db.session.commit()
    return redirect_after_post(
        url_for("surveys.survey", survey_id=survey_id) + "#questions", "Question added."
    )


@bp.route("/surveys/<int:survey_id>/questions/<int:question_id>", methods=["GET", "POST"])
@requires(Permission.SURVEY_READ)
def edit_question(survey_id: int, question_id: int):
    survey = service.get_survey(survey_id, current_user)
    question = service.get_question(survey, question_id)
    service.require_manage(current_user, survey)
    form = QuestionForm(obj=question, kind=question.kind.value, section=question.section.value)
    if request.method == "POST" and form.validate_on_submit():
        try:
            service.update_question(
                current_user,
                question,
                QuestionKind(form.kind.data),
                form.prompt.data,
                form.options_text.data or "",
                bool(form.required.data),
            )
        except Invalid as error:
            db.session.rollback()
            form.options_text.errors.append(error.message)
        else:
            db.session.commit()
            return redirect_after_post(
                url_for("surveys.survey", survey_id=survey_id) + "#questions", "Question saved."
            )
    status = 422 if form.is_submitted() else 200
    return render(
        "surveys/question.html", status=status, survey=survey, question=question, form=form
    )


@bp.post("/surveys/<int:survey_id>/questions/<int:question_id>/remove")
@requires(Permission.SURVEY_READ)
def remove_question(survey_id: int, question_id: int):
    survey = service.get_survey(survey_id, current_user)
    ConfirmForm().validate_on_submit() or incomplete_form()
    service.remove_question(current_user, service.get_question(survey, question_id))
    db.session.commit()
    return _questions_changed(survey, "Question removed.")


@bp.post("/surveys/<int:survey_id>/questions/<int:question_id>/move/<direction>")
@requires(Permission.SURVEY_READ)
def move_question(survey_id: int, question_id: int, direction: str):
    survey = service.get_survey(survey_id, current_user)
    ConfirmForm().validate_on_submit() or incomplete_form()
    steps = {"up": -1, "down": 1}
    if direction not in steps:
        raise Invalid("Move a question up or down.")
    service.move_question(current_user, service.get_question(survey, question_id), steps[direction])
    db.session.commit()
    return _questions_changed(survey)


def _questions_changed(survey, message: str | None = None):
    """htmx swaps the question list in place; a plain form goes back to the page."""
    if request.headers.get("HX-Request"):
        return render(
            "surveys/_questions.html",
            survey=survey,
            questions=service.questions_of(survey),
            manage=True,
            action_form=ConfirmForm(),
        )
    return redirect_after_post(
        url_for("surveys.survey", survey_id=survey.id) + "#questions", message
    )


@bp.post("/surveys/<int:survey_id>/delegates")
@requires(Permission.SURVEY_CREATE)
def delegate(survey_id: int):
    survey = service.get_survey(survey_id, current_user)
    form = DelegateForm()
    form.person_id.choices = options((p.id, p.name) for p in service.staff_people())
    if not form.validate_on_submit():
        return _survey_page(survey, 422, delegate_form=form)
    from infrawg.membership.service import get_person

    service.delegate(current_user, survey, get_person(form.person_id.data))
    db.session.commit()
    return redirect_after_post(url_for("surveys.survey", survey_id=survey_id), "Delegated.")


@bp.post("/surveys/<int:survey_id>/open")
@requires(Permission.SURVEY_READ)
def open_survey(survey_id: int):
    survey = service.get_survey(survey_id, current_user)
    ConfirmForm().validate_on_submit() or incomplete_form()
    sent = service.open_survey(current_user, survey)
    db.session.commit()
    return redirect_after_post(
        url_for("surveys.survey", survey_id=survey_id),
        f"The survey is open. Invitations: {sent} sent now"
        + ("." if sent else " (or queued for the mail job)."),
    )


@bp.post("/surveys/<int:survey_id>/close")
@requires(Permission.SURVEY_READ)
def close_survey(survey_id: int):
    survey = service.get_survey(survey_id, current_user)
    ConfirmForm().validate_on_submit() or incomplete_form()
    service.close_survey(current_user, survey)
    db.session.commit()
    return redirect_after_post(
        url_for("surveys.results_page", survey_id=survey_id), "The survey is closed."
    )


@bp.get("/surveys/<int:survey_id>/preview")
@requires(Permission.SURVEY_READ)
def preview(survey_id: int):
    survey = service.get_survey(survey_id, current_user)
    service.require_manage(current_user, survey)
    return render(
        "surveys/preview.html",
        survey=survey,
        sections=[(s, service.questions_of(survey, s)) for s in survey.audience.sections],
    )


# Answering --------------------------------------------------------------------------------


def _sheet_page(template: str, sheet, status: int = 200, errors=None, answers=None):
    return render(
        template,
        status=status,
        typed=request.form if errors else None,
        sheet=sheet,
        survey=sheet.survey,
        answers=answers if answers is not None else sheet.answers,
        errors=errors or {},
    )


@bp.route("/surveys/<int:survey_id>/answer", methods=["GET", "POST"])
@requires(Permission.SURVEY_READ)
def answer(survey_id: int):
    survey = service.get_survey(survey_id, current_user)
    sheet = service.member_sheet(current_user, survey)
    if request.method == "GET":
        return _sheet_page("surveys/answer.html", sheet)
    try:
        if request.form.get("action") == "draft":
            service.save_member_draft(current_user, survey, request.form)
            message = "Your answers are saved as a draft. Come back to finish before it closes."
            target = url_for("surveys.answer", survey_id=survey_id)
        else:
            service.submit_member_response(current_user, survey, request.form)
            message = "Thank you: your answers are in."
            target = url_for("surveys.survey", survey_id=survey_id)
    except service.AnswerErrors as error:
        db.session.rollback()
        return _sheet_page(
            "surveys/answer.html",
            sheet,
            422,
            error.errors,
            service.answers_as_typed(sheet.questions, request.form),
        )
    db.session.commit()
    return redirect_after_post(target, message)


@bp.route("/surveys/<int:survey_id>/answer/<slug>", methods=["GET", "POST"])
@requires(Permission.SURVEY_READ)
def answer_tenant(survey_id: int, slug: str):
    survey = service.get_survey(survey_id, current_user)
    organisation = service.get_organisation(slug)
    sheet = service.tenant_sheet(current_user, survey, organisation)
    if request.method == "GET":
        return _sheet_page("surveys/answer_tenant.html", sheet)
    try:
        if request.form.get("action") == "draft":
            service.save_tenant_draft(current_user, survey, organisation, request.form)
            message = f"The answers for {organisation.name} are saved as a draft."
        else:
            service.submit_tenant_response(current_user, survey, organisation, request.form)
            message = f"The answers for {organisation.name} are in. Any of its tenant members "
            message += "may edit them until the survey closes."
    except service.AnswerErrors as error:
        db.session.rollback()
        return _sheet_page(
            "surveys/answer_tenant.html",
            sheet,
            422,
            error.errors,
            service.answers_as_typed(sheet.questions, request.form),
        )
    db.session.commit()
    return redirect_after_post(
        url_for("surveys.answer_tenant", survey_id=survey_id, slug=slug), message
    )


@bp.get("/surveys/<int:survey_id>/invited/<token>")
@public
def invited(survey_id: int, token: str):
    """The link in the invitation: checked, then on to the answer page (sign-in first)."""
    survey = service.get_survey(survey_id)
    person = service.read_invitation(survey.id, token)
    return render(
        "surveys/invited.html",
        survey=survey,
        person=person,
        other_account=current_user.is_authenticated and current_user.id != person.id,
    )


@bp.get("/surveys/reminders-off/<token>")
@public
def reminders_off(token: str):
    """One click from the reminder mail: no more reminders of this survey."""
    survey = service.stop_reminders(token)
    db.session.commit()
    return render(
        "surveys/reminders_off.html", survey=survey, token=token, action_form=ConfirmForm()
    )


@bp.post("/surveys/reminders-on/<token>")
@public
def reminders_on(token: str):
    ConfirmForm().validate_on_submit() or incomplete_form()
    survey = service.restart_reminders(token)
    db.session.commit()
    return render("surveys/reminders_on.html", survey=survey)


# Results ----------------------------------------------------------------------------------


def _results_context(survey_id: int):
    survey = service.get_survey(survey_id, current_user)
    results.require_results_access(current_user, survey)
    return {
        "survey": survey,
        "results": results.compute(survey),
        "organisations": results.answered_organisations(survey),
        "min_breakdown": results.MIN_BREAKDOWN,
        "manage": service.can_manage(current_user, survey),
    }


@bp.get("/surveys/<int:survey_id>/results")
@requires(Permission.SURVEY_RESULTS_READ)
def results_page(survey_id: int):
    return render("surveys/results.html", **_results_context(survey_id))


@bp.get("/surveys/<int:survey_id>/results/print")
@requires(Permission.SURVEY_RESULTS_READ)
def results_print(survey_id: int):
    return render("surveys/results_print.html", **_results_context(survey_id))


@bp.get("/surveys/<int:survey_id>/results.csv")
@requires(Permission.SURVEY_RESULTS_READ)
def results_csv(survey_id: int):
    survey = service.get_survey(survey_id, current_user)
    results.require_results_access(current_user, survey)
    filename = f"survey-{survey.year}-{survey.id}.csv"
    return Response(
        stream_with_context(results.csv_rows(survey)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@bp.get("/surveys/<int:survey_id>/results/questions/<int:question_id>")
@requires(Permission.SURVEY_RESULTS_READ)
def text_answers(survey_id: int, question_id: int):
    survey = service.get_survey(survey_id, current_user)
    results.require_results_access(current_user, survey)
    question = service.get_question(survey, question_id)
    computed = results.compute(survey, texts_shown=0)
    section = next(s for s in computed.sections if s.section == question.section)
    return render(
        "surveys/text_answers.html",
        "surveys/_text_answers.html",
        survey=survey,
        question=question,
        suppressed=section.suppressed,
        page=None if section.suppressed else paginate(results.text_answers(question)),
    )


# Goals ------------------------------------------------------------------------------------


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
    body = render(
        "surveys/goals.atom",
        year=year,
        goals=entries,
        updated=updated,
        self_url=external_url("surveys.goals_feed", year=year),
        page_url=external_url("surveys.goals_year", year=year),
        base=current_app.config["BASE_URL"].rstrip("/"),
        host=urlsplit(current_app.config["BASE_URL"]).hostname or "localhost",
    )[0]
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
    if request.method == "GET":
        form.year.data = utcnow().year + 1
        if request.args.get("survey", "").isdigit():
            form.survey_id.data = int(request.args["survey"])
    if form.validate_on_submit():
        try:
            goal = goals.draft_goal(current_user, _goal_input(form))
        except Invalid as error:
            db.session.rollback()
            form.links.errors.append(error.message)
        else:
            db.session.commit()
            return redirect_after_post(
                url_for("surveys.goal", goal_id=goal.id),
                "The goal is drafted. Members can read it and comment.",
            )
    status = 422 if form.is_submitted() else 200
    return render("surveys/goal_form.html", status=status, form=form, goal=None)


@bp.route("/goal/<int:goal_id>/edit", methods=["GET", "POST"])
@requires(Permission.GOAL_MANAGE)
def edit_goal(goal_id: int):
    goal = goals.get_goal(goal_id, current_user)
    form = _goal_form(GoalForm(obj=goal))
    if request.method == "GET":
        form.links.data = [
            f"{link.question_id}:{link.option}"
            if link.option is not None
            else str(link.question_id)
            for link in goal.links
        ]
    if form.validate_on_submit():
        try:
            goals.update_goal(current_user, goal, _goal_input(form))
        except DomainError as error:
            db.session.rollback()
            form.links.errors.append(error.message)
        else:
            db.session.commit()
            return redirect_after_post(url_for("surveys.goal", goal_id=goal_id), "Saved.")
    status = 422 if form.is_submitted() else 200
    return render("surveys/goal_form.html", status=status, form=form, goal=goal)


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
    if not form.validate_on_submit():
        return _goal_page(goal, 422, comment_form=form)
    try:
        goals.comment(current_user, goal, form.body.data)
    except Invalid as error:
        db.session.rollback()
        form.body.errors.append(error.message)
        return _goal_page(goal, 422, comment_form=form)
    db.session.commit()
    if request.headers.get("HX-Request"):
        return _goal_page(goal, comment_form=CommentForm(formdata=None))
    return redirect_after_post(url_for("surveys.goal", goal_id=goal_id) + "#comments")


@bp.post("/goal/<int:goal_id>/updates")
@requires(Permission.GOAL_MANAGE)
def goal_update(goal_id: int):
    goal = goals.get_goal(goal_id, current_user)
    form = GoalUpdateForm()
    if not form.validate_on_submit():
        return _goal_page(goal, 422, update_form=form)
    try:
        goals.add_update(current_user, goal, GoalStatus(form.status.data), form.note.data or "")
    except Invalid as error:
        db.session.rollback()
        form.note.errors.append(error.message)
        return _goal_page(goals.get_goal(goal_id, current_user), 422, update_form=form)
    db.session.commit()
    return redirect_after_post(url_for("surveys.goal", goal_id=goal_id), "Progress recorded.")


@bp.post("/goals/<int:year>/publish")
@requires(Permission.GOAL_PUBLISH)
def publish_goals(year: int):
    form = PublishForm()
    form.validate_on_submit() or incomplete_form()
    goals.publish_year(current_user, year, form.note.data or "")
    db.session.commit()
    return redirect_after_post(
        url_for("surveys.goals_year", year=year),
        f"The goals for {year} are public and announced to the membership.",
    )


# Milestones -------------------------------------------------------------------------------


@bp.get("/projects")
@requires(Permission.MILESTONE_READ)
def projects():
    return render("surveys/projects.html", page=paginate(milestones.projects()))


def _project_form(form: ProjectForm) -> ProjectForm:
    form.organisation_id.choices = options(
        [("", "None")] + [(o.id, o.name) for o in service.audience_organisations()]
    )
    return form


@bp.route("/projects/new", methods=["GET", "POST"])
@requires(Permission.MILESTONE_MANAGE)
def new_project():
    form = _project_form(ProjectForm())
    if form.validate_on_submit():
        try:
            project = milestones.create_project(
                current_user,
                form.name.data,
                form.slug.data,
                form.description.data or "",
                ProjectKind(form.kind.data),
                form.organisation_id.data,
            )
        except DomainError as error:
            db.session.rollback()
            form.slug.errors.append(error.message)
        else:
            db.session.commit()
            return redirect_after_post(url_for("surveys.project", slug=project.slug))
    status = 422 if form.is_submitted() else 200
    return render("surveys/project_form.html", status=status, form=form)


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
    if form.validate_on_submit():
        try:
            milestones.add_milestone(current_user, project, _milestone_input(form))
        except Invalid as error:
            db.session.rollback()
            form.owner_id.errors.append(error.message)
        else:
            db.session.commit()
            return redirect_after_post(url_for("surveys.project", slug=slug), "Milestone added.")
    return _project_page(milestones.get_project(slug), 422, milestone_form=form)


@bp.route("/projects/<slug>/milestones/<int:milestone_id>", methods=["GET", "POST"])
@requires(Permission.MILESTONE_MANAGE)
def edit_milestone(slug: str, milestone_id: int):
    project = milestones.get_project(slug)
    milestone = milestones.get_milestone(project, milestone_id)
    form = _milestone_form(MilestoneForm(obj=milestone, status=milestone.status.value))
    if request.method == "POST" and form.validate_on_submit():
        try:
            milestones.update_milestone(current_user, milestone, _milestone_input(form))
        except Invalid as error:
            db.session.rollback()
            form.owner_id.errors.append(error.message)
        else:
            db.session.commit()
            return redirect_after_post(url_for("surveys.project", slug=slug), "Milestone saved.")
    status = 422 if form.is_submitted() else 200
    return render(
        "surveys/milestone.html", status=status, project=project, milestone=milestone, form=form
    )


@bp.post("/projects/<slug>/calendar-link")
@requires(Permission.MILESTONE_READ)
def calendar_link(slug: str):
    project = milestones.get_project(slug)
    ConfirmForm().validate_on_submit() or incomplete_form()
    secret = milestones.issue_calendar_link(current_user, project)
    db.session.commit()
    link = external_url("surveys.project_calendar", slug=slug, token=secret)
    return _project_page(milestones.get_project(slug), new_link=link)


@bp.post("/projects/<slug>/calendar-link/revoke")
@requires(Permission.MILESTONE_READ)
def revoke_calendar_link(slug: str):
    project = milestones.get_project(slug)
    ConfirmForm().validate_on_submit() or incomplete_form()
    milestones.revoke_calendar_link(current_user, project)
    db.session.commit()
    return redirect_after_post(
        url_for("surveys.project", slug=slug), "Your calendar link no longer works."
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
