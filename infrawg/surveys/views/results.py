"""Pages of a survey's results (R15): the page, its print view, the CSV, the text answers."""

from __future__ import annotations

from flask import Response, stream_with_context
from flask_login import current_user

from infrawg.policy import Permission, requires
from infrawg.surveys import bp, building, results
from infrawg.web import paginate, render


def _results_context(survey_id: int):
    survey = building.get_survey(survey_id, current_user)
    results.require_results_access(current_user, survey)
    return {
        "survey": survey,
        "results": results.compute(survey),
        "organisations": results.answered_organisations(survey),
        "min_breakdown": results.MIN_BREAKDOWN,
        "manage": building.can_manage(current_user, survey),
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
    survey = building.get_survey(survey_id, current_user)
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
    survey = building.get_survey(survey_id, current_user)
    results.require_results_access(current_user, survey)
    question = building.get_question(survey, question_id)
    suppressed = results.section_suppression(survey, question.section)
    return render(
        "surveys/text_answers.html",
        "surveys/_text_answers.html",
        survey=survey,
        question=question,
        suppressed=suppressed,
        page=None if suppressed else paginate(results.text_answers(question)),
    )
