"""Pages that build a survey (R15): the list, settings, questions, delegation, opening, closing."""

from __future__ import annotations

from flask import request, url_for
from flask_login import current_user

from infrawg import policy
from infrawg.errors import DomainError, Invalid
from infrawg.forms import ConfirmForm, options
from infrawg.membership.people import get_person
from infrawg.policy import Permission, requires
from infrawg.surveys import answers, bp, building, mailing, responses
from infrawg.surveys.forms import DelegateForm, QuestionForm, SurveyForm
from infrawg.surveys.models import Audience, QuestionKind, Section, Survey
from infrawg.timeutil import utcnow
from infrawg.ui import plural
from infrawg.web import (
    confirm_first,
    incomplete_form,
    paginate,
    redirect_after_post,
    refused,
    render,
    submit,
)


@bp.get("/surveys")
@requires(Permission.SURVEY_READ)
def surveys():
    return render(
        "surveys/list.html",
        "surveys/_survey_rows.html",
        page=paginate(building.surveys_for(current_user)),
        organisations=responses.tenant_organisations_of(current_user),
        action_form=ConfirmForm(),
    )


def _survey_input(form: SurveyForm) -> building.SurveyInput:
    return building.SurveyInput(
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

    def again(status: int = 200, _error: DomainError | None = None):
        return render("surveys/new.html", "surveys/_survey_form.html", status=status, form=form)

    if request.method == "GET":
        year = utcnow().year
        form.year.data = year
        form.title.data = f"Annual survey {year}"
        form.anonymous.data = True
        form.reminder_days.data = 3
        return again()
    return submit(
        form,
        lambda: building.create_survey(current_user, _survey_input(form)),
        done=lambda survey: redirect_after_post(
            url_for("surveys.survey", survey_id=survey.id), "The survey is saved as a draft."
        ),
        again=again,
        field="closes_on",
    )


def _managed_survey(survey_id: int, **_url_values: object) -> Survey:
    """The subject of the pages that change a survey: found as its managers find it."""
    return building.get_survey(survey_id, current_user)


def _survey_page(survey, status: int = 200, **forms):
    manage = building.can_manage(current_user, survey)
    sheet_links = []
    if Section.TENANTS in survey.audience.sections:
        sheet_links = responses.tenant_organisations_of(current_user)
    forms.setdefault("settings_form", SurveyForm(obj=survey, audience=survey.audience.value))
    forms.setdefault("question_form", QuestionForm(section=survey.audience.sections[0].value))
    delegate_form = forms.setdefault("delegate_form", DelegateForm())
    delegate_form.person_id.choices = options((p.id, p.name) for p in building.staff_people())
    return render(
        "surveys/survey.html",
        status=status,
        survey=survey,
        manage=manage,
        questions=building.questions_of(survey),
        managers=building.managers_of(survey),
        answered=answers.has_answered(current_user, survey),
        organisations=sheet_links,
        action_form=ConfirmForm(),
        **forms,
    )


@bp.get("/surveys/<int:survey_id>")
@requires(Permission.SURVEY_READ)
def survey(survey_id: int):
    return _survey_page(building.get_survey(survey_id, current_user))


@bp.post("/surveys/<int:survey_id>/settings")
@requires(Permission.SURVEY_MANAGE, subject=_managed_survey)
def update_survey(survey_id: int):
    survey = policy.route_subject()
    form = SurveyForm()
    return submit(
        form,
        lambda: building.update_survey(current_user, survey, _survey_input(form)),
        done=lambda _: redirect_after_post(
            url_for("surveys.survey", survey_id=survey_id), "Saved."
        ),
        again=lambda status, _error: _survey_page(
            building.get_survey(survey_id), status, settings_form=form
        ),
        field="title",
    )


@bp.post("/surveys/<int:survey_id>/copy")
@requires(Permission.SURVEY_CREATE)
def copy_survey(survey_id: int):
    return submit(
        ConfirmForm(),
        lambda: building.copy_survey(current_user, building.get_survey(survey_id, current_user)),
        done=lambda copy: redirect_after_post(
            url_for("surveys.survey", survey_id=copy.id),
            f"Copied into a draft for {copy.year}: check the dates and questions.",
        ),
        again=refused,
    )


@bp.post("/surveys/<int:survey_id>/questions")
@requires(Permission.SURVEY_MANAGE, subject=_managed_survey)
def add_question(survey_id: int):
    survey = policy.route_subject()
    form = QuestionForm()
    return submit(
        form,
        lambda: building.add_question(
            current_user,
            survey,
            Section(form.section.data),
            QuestionKind(form.kind.data),
            form.prompt.data or "",
            form.options_text.data or "",
            bool(form.required.data),
        ),
        done=lambda _: redirect_after_post(
            url_for("surveys.survey", survey_id=survey_id) + "#questions", "Question added."
        ),
        again=lambda status, _error: _survey_page(
            building.get_survey(survey_id), status, question_form=form
        ),
        field="options_text",
    )


@bp.route("/surveys/<int:survey_id>/questions/<int:question_id>", methods=["GET", "POST"])
@requires(Permission.SURVEY_MANAGE, subject=_managed_survey)
def edit_question(survey_id: int, question_id: int):
    survey = policy.route_subject()
    question = building.get_question(survey, question_id)
    form = QuestionForm(obj=question, kind=question.kind.value, section=question.section.value)

    def again(status: int = 200, _error: DomainError | None = None):
        return render(
            "surveys/question.html", status=status, survey=survey, question=question, form=form
        )

    if request.method == "GET":
        return again()
    return submit(
        form,
        lambda: building.update_question(
            current_user,
            question,
            QuestionKind(form.kind.data),
            form.prompt.data or "",
            form.options_text.data or "",
            bool(form.required.data),
        ),
        done=lambda _: redirect_after_post(
            url_for("surveys.survey", survey_id=survey_id) + "#questions", "Question saved."
        ),
        again=again,
        field="options_text",
    )


@bp.post("/surveys/<int:survey_id>/questions/<int:question_id>/remove")
@requires(Permission.SURVEY_READ)
def remove_question(survey_id: int, question_id: int):
    survey = building.get_survey(survey_id, current_user)
    return submit(
        ConfirmForm(),
        lambda: building.remove_question(current_user, building.get_question(survey, question_id)),
        done=lambda _: _questions_changed(survey, "Question removed."),
        again=refused,
    )


@bp.post("/surveys/<int:survey_id>/questions/<int:question_id>/move/<direction>")
@requires(Permission.SURVEY_READ)
def move_question(survey_id: int, question_id: int, direction: str):
    survey = building.get_survey(survey_id, current_user)
    steps = {"up": -1, "down": 1}

    def move() -> None:
        if direction not in steps:
            raise Invalid("Move a question up or down.")
        building.move_question(
            current_user, building.get_question(survey, question_id), steps[direction]
        )

    return submit(ConfirmForm(), move, done=lambda _: _questions_changed(survey), again=refused)


def _questions_changed(survey, message: str | None = None):
    """htmx swaps the question list in place; a plain form goes back to the page."""
    return redirect_after_post(
        url_for("surveys.survey", survey_id=survey.id) + "#questions",
        message,
        swap=lambda: render(
            "surveys/_questions.html",
            survey=survey,
            questions=building.questions_of(survey),
            manage=True,
            action_form=ConfirmForm(),
        ),
    )


@bp.post("/surveys/<int:survey_id>/delegates")
@requires(Permission.SURVEY_CREATE)
def delegate(survey_id: int):
    survey = building.get_survey(survey_id, current_user)
    form = DelegateForm()
    form.person_id.choices = options((p.id, p.name) for p in building.staff_people())
    return submit(
        form,
        lambda: building.delegate(current_user, survey, get_person(form.person_id.data)),
        done=lambda _: redirect_after_post(
            url_for("surveys.survey", survey_id=survey_id), "Delegated."
        ),
        again=lambda status, _error: _survey_page(survey, status, delegate_form=form),
    )


@bp.post("/surveys/<int:survey_id>/open")
@requires(Permission.SURVEY_READ)
def open_survey(survey_id: int):
    survey = building.get_survey(survey_id, current_user)
    # Opening mails the whole audience: say so and ask once more (refusals come first).
    ConfirmForm().validate_on_submit() or incomplete_form()
    building.check_can_open(current_user, survey)
    asking = confirm_first(
        lambda: render(
            "confirm_page.html",
            title=f"Open {survey.title}?",
            explanation="Opening the survey mails an invitation to everyone in its audience "
            f"now; it then stays open until {survey.closes_on.isoformat()}.",
            rows=[
                ("Invitations", plural(len(mailing.audience_of(survey)), "invitation") + " to send")
            ],
            action=url_for("surveys.open_survey", survey_id=survey_id),
            button="Yes, open the survey and send the invitations",
            cancel=url_for("surveys.survey", survey_id=survey_id),
        )
    )
    if asking is not None:
        return asking
    return submit(
        ConfirmForm(),
        lambda: building.open_survey(current_user, survey),
        done=lambda sent: redirect_after_post(
            url_for("surveys.survey", survey_id=survey_id),
            f"The survey is open. Invitations: {sent} sent now"
            + ("." if sent else " (or queued for the mail job)."),
        ),
        again=refused,
    )


@bp.post("/surveys/<int:survey_id>/close")
@requires(Permission.SURVEY_READ)
def close_survey(survey_id: int):
    survey = building.get_survey(survey_id, current_user)
    return submit(
        ConfirmForm(),
        lambda: building.close_survey(current_user, survey),
        done=lambda _: redirect_after_post(
            url_for("surveys.results_page", survey_id=survey_id), "The survey is closed."
        ),
        again=refused,
    )


@bp.get("/surveys/<int:survey_id>/preview")
@requires(Permission.SURVEY_MANAGE, subject=_managed_survey)
def preview(survey_id: int):
    survey = policy.route_subject()
    return render(
        "surveys/preview.html",
        survey=survey,
        sections=[(s, building.questions_of(survey, s)) for s in survey.audience.sections],
    )
