"""Pages where a member answers a survey's member section (R15), and the nav count of the
surveys waiting for them.
"""

from __future__ import annotations

from flask import request, url_for
from flask_login import current_user

from infrawg.extensions import db
from infrawg.policy import Permission, can, requires
from infrawg.surveys import answers, bp, building
from infrawg.web import NavCount, redirect_after_post, render


def nav_counts(person) -> dict[str, NavCount]:
    if can(person, Permission.SURVEY_READ):
        return {"surveys": answers.waiting_count(person)}
    return {}


def sheet_page(template: str, sheet, status: int = 200, errors=None, answers=None, conflict=None):
    """An answer sheet page; a refused one shows what was typed, with its errors."""
    return render(
        template,
        status=status,
        typed=request.form if errors else None,
        sheet=sheet,
        survey=sheet.survey,
        answers=answers if answers is not None else sheet.answers,
        errors=errors or {},
        conflict=conflict,
    )


@bp.route("/surveys/<int:survey_id>/answer", methods=["GET", "POST"])
@requires(Permission.SURVEY_READ)
def answer(survey_id: int):
    survey = building.get_survey(survey_id, current_user)
    sheet = answers.member_sheet(current_user, survey)
    if request.method == "GET":
        return sheet_page("surveys/answer.html", sheet)
    try:
        if request.form.get("action") == "draft":
            answers.save_member_draft(current_user, survey, request.form)
            message = "Your answers are saved as a draft. Come back to finish before it closes."
            target = url_for("surveys.answer", survey_id=survey_id)
        else:
            answers.submit_member_response(current_user, survey, request.form)
            message = "Thank you: your answers are in."
            target = url_for("surveys.survey", survey_id=survey_id)
    except answers.AnswerErrors as error:
        db.session.rollback()
        return sheet_page(
            "surveys/answer.html",
            sheet,
            422,
            error.errors,
            answers.answers_as_typed(sheet.questions, request.form),
        )
    db.session.commit()
    return redirect_after_post(target, message)
