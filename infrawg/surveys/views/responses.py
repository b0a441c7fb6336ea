"""The page where a tenant member answers the tenant section for an organisation (R15)."""

from __future__ import annotations

from flask import request, url_for
from flask_login import current_user

import infrawg.tenants.service as tenants
from infrawg.extensions import db
from infrawg.policy import Permission, requires
from infrawg.surveys import answers, bp, building, responses
from infrawg.surveys.views.answers import sheet_page
from infrawg.web import redirect_after_post


@bp.route("/surveys/<int:survey_id>/answer/<slug>", methods=["GET", "POST"])
@requires(Permission.SURVEY_READ)
def answer_tenant(survey_id: int, slug: str):
    survey = building.get_survey(survey_id, current_user)
    organisation = tenants.get_organisation(slug)
    sheet = responses.tenant_sheet(current_user, survey, organisation)
    if request.method == "GET":
        return sheet_page("surveys/answer_tenant.html", sheet)
    seen = request.form.get("sheet_version", "")
    try:
        if request.form.get("action") == "draft":
            responses.save_tenant_draft(current_user, survey, organisation, request.form, seen)
            message = f"The answers for {organisation.name} are saved as a draft."
        else:
            responses.submit_tenant_response(current_user, survey, organisation, request.form, seen)
            message = f"The answers for {organisation.name} are in. Any of its tenant members "
            message += "may edit them until the survey closes."
    except responses.SheetChanged as error:
        db.session.rollback()
        # Nothing was saved: show the sheet as it is now (its new version) with what this
        # person typed, and say why.
        fresh = responses.tenant_sheet(current_user, survey, organisation)
        return sheet_page(
            "surveys/answer_tenant.html",
            fresh,
            error.status,
            answers=answers.answers_as_typed(fresh.questions, request.form),
            conflict=error.message,
        )
    except answers.AnswerErrors as error:
        db.session.rollback()
        return sheet_page(
            "surveys/answer_tenant.html",
            sheet,
            422,
            error.errors,
            answers.answers_as_typed(sheet.questions, request.form),
        )
    db.session.commit()
    return redirect_after_post(
        url_for("surveys.answer_tenant", survey_id=survey_id, slug=slug), message
    )
