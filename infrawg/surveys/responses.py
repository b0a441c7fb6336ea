"""The survey's tenant section (R15): one response per organisation, edited by any of its
tenant members until the survey closes; versions keep two of them from overwriting each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

import infrawg.tenants.service as tenants
from infrawg import policy
from infrawg.actions import Action
from infrawg.errors import Conflict, NotAllowed
from infrawg.extensions import db
from infrawg.membership.models import Person
from infrawg.policy import Permission
from infrawg.surveys.answers import (
    Answers,
    answer_rows,
    answers_of,
    draft_answers,
    draft_of,
    parse_answers,
    record_answering,
    require_open,
    require_section,
    save_draft,
)
from infrawg.surveys.building import questions_of
from infrawg.surveys.models import Answer, Question, Response, Section, Survey, SurveyDraft
from infrawg.tenants.models import OrganisationStatus, TenantOrganisation
from infrawg.timeutil import utcnow


def tenant_organisations_of(person: Person) -> list[TenantOrganisation]:
    """Organisations receiving services for which ``person`` is a current tenant member."""
    if not person.is_member:
        return []
    organisations = [
        tenancy.organisation
        for tenancy in tenants.tenancies_of(person)
        if tenancy.organisation.status == OrganisationStatus.APPROVED
    ]
    return sorted(organisations, key=lambda organisation: organisation.name)


def tenant_response(survey: Survey, organisation: TenantOrganisation) -> Response | None:
    return db.session.scalar(
        select(Response).where(
            Response.survey_id == survey.id, Response.organisation_id == organisation.id
        )
    )


def sheet_version(response: Response | None, draft: SurveyDraft | None) -> str:
    """The version of an organisation's sheet as its form carries it: response and draft."""
    return f"{response.version if response else 0}.{draft.version if draft else 0}"


@dataclass
class TenantSheet:
    survey: Survey
    organisation: TenantOrganisation
    questions: list[Question]
    response: Response | None
    answered_by: Person | None
    answers: Answers = field(default_factory=dict)
    draft_saved_at: datetime | None = None
    version: str = "0.0"


class SheetChanged(Conflict):
    """Another tenant member saved the organisation's sheet after this one was read."""

    def __init__(self, organisation: TenantOrganisation) -> None:
        super().__init__(
            f"Another tenant member of {organisation.name} saved these answers after you "
            "opened them, so yours were not saved. Your answers are still in the form below; "
            "open the sheet again to see theirs, or save again to replace them with yours."
        )


def _require_tenant_of(person: Person, survey: Survey, organisation: TenantOrganisation) -> None:
    require_section(survey, Section.TENANTS)
    # R15: the tenant section is answered for an organisation by one of its tenant members.
    if not policy.can(person, Permission.TENANT_ACT_FOR, organisation):
        raise NotAllowed(
            f"You are not a tenant member of {organisation.name}, so you cannot answer for it."
        )
    if organisation.status != OrganisationStatus.APPROVED:
        raise Conflict("Only organisations receiving services answer the tenant survey.")


def tenant_sheet(person: Person, survey: Survey, organisation: TenantOrganisation) -> TenantSheet:
    """The organisation's response (or draft) as its tenant members see it."""
    _require_tenant_of(person, survey, organisation)
    response = tenant_response(survey, organisation)
    draft = draft_of(survey, organisation=organisation)
    answers = draft_answers(draft)
    if answers is None and response is not None:
        answers = answers_of(response)
    answered_by = None
    if response is not None and response.person_id is not None:
        answered_by = db.session.get(Person, response.person_id)
    return TenantSheet(
        survey=survey,
        organisation=organisation,
        questions=questions_of(survey, Section.TENANTS),
        response=response,
        answered_by=answered_by,
        answers=answers or {},
        draft_saved_at=draft.saved_at if draft else None,
        version=sheet_version(response, draft),
    )


def _require_unchanged(
    organisation: TenantOrganisation,
    seen_version: str | None,
    response: Response | None,
    draft: SurveyDraft | None,
) -> None:
    # Two liaisons of one organisation edit one sheet: the second to save is told, and
    # nothing of the first is overwritten. ``None`` (a script, not a form) skips the check.
    if seen_version is not None and seen_version != sheet_version(response, draft):
        raise SheetChanged(organisation)


def _flush_sheet(organisation: TenantOrganisation) -> None:
    """Flush a sheet's save; a concurrent save of the same version loses, and is told."""
    try:
        db.session.flush()
    except (IntegrityError, StaleDataError):
        # Another save won the race: its insert took the unique row, or its UPDATE moved
        # the version this one was read at.
        db.session.rollback()
        raise SheetChanged(organisation) from None


def save_tenant_draft(
    person: Person,
    survey: Survey,
    organisation: TenantOrganisation,
    form: Mapping[str, Any],
    seen_version: str | None = None,
) -> None:
    """Keep the organisation's answers so far; any of its tenant members may resume.

    ``seen_version`` is the sheet version the form was read at (``TenantSheet.version``);
    SheetChanged when another tenant member saved since.
    """
    _require_tenant_of(person, survey, organisation)
    require_open(survey)
    answers = parse_answers(questions_of(survey, Section.TENANTS), form, complete=False)
    draft = draft_of(survey, organisation=organisation)
    _require_unchanged(organisation, seen_version, tenant_response(survey, organisation), draft)
    save_draft(survey, answers, organisation=organisation, draft=draft)
    _flush_sheet(organisation)
    record_answering(person, survey, Action.SURVEY_DRAFT_SAVED, f"for {organisation.audit_label}")


def submit_tenant_response(
    person: Person,
    survey: Survey,
    organisation: TenantOrganisation,
    form: Mapping[str, Any],
    seen_version: str | None = None,
) -> Response:
    """R15: one response per organisation; another tenant member may edit it until close.

    ``seen_version`` is the sheet version the form was read at; SheetChanged (nothing
    saved) when another tenant member saved the response or its draft since.
    """
    _require_tenant_of(person, survey, organisation)
    require_open(survey)
    questions = questions_of(survey, Section.TENANTS)
    answers = parse_answers(questions, form)
    response = tenant_response(survey, organisation)
    _require_unchanged(
        organisation, seen_version, response, draft_of(survey, organisation=organisation)
    )
    edited = response is not None
    if response is None:
        response = Response(
            survey_id=survey.id, section=Section.TENANTS, organisation_id=organisation.id, version=1
        )
        db.session.add(response)
    else:
        response.version = response.version + 1  # the UPDATE matches the version read
    response.person_id = None if survey.anonymous else person.id
    # R15: an anonymous response keeps no time.
    response.submitted_at = None if survey.anonymous else utcnow()
    _flush_sheet(organisation)
    db.session.execute(delete(Answer).where(Answer.response_id == response.id))
    db.session.add_all(answer_rows(response.id, answers, {q.id: q for q in questions}))
    db.session.execute(
        delete(SurveyDraft).where(
            SurveyDraft.survey_id == survey.id, SurveyDraft.organisation_id == organisation.id
        )
    )
    record_answering(
        person,
        survey,
        Action.SURVEY_TENANT_ANSWER_EDITED if edited else Action.SURVEY_TENANT_ANSWERED,
        f"for {organisation.audit_label}",
    )
    return response
