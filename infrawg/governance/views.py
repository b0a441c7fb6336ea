"""Pages of governance: the charter, people and their roles, the chair's and board's queues."""

from __future__ import annotations

from typing import Any

from flask import Response, request, stream_with_context, url_for
from flask_login import current_user
from sqlalchemy import Select
from sqlalchemy.orm import selectinload

import infrawg.provisioning.service as provisioning
import infrawg.tenants.applications as applications
import infrawg.tenants.service as tenants
from infrawg import audit, policy
from infrawg.audit import AuditEvent
from infrawg.extensions import db
from infrawg.forms import ConfirmForm
from infrawg.governance import bp, roles, service
from infrawg.governance.forms import (
    AppointChairForm,
    DecisionForm,
    GrantStaffForm,
    StaffRequestForm,
    StepDownForm,
)
from infrawg.governance.models import Role
from infrawg.membership.people import get_person, person_by_email
from infrawg.policy import Permission, can, public, requires, signed_in
from infrawg.tenants.forms import ReasonForm
from infrawg.web import (
    NavCount,
    confirm_first,
    incomplete_form,
    paginate,
    redirect_after_post,
    render,
    submit,
)


def nav_counts(person) -> dict[str, NavCount]:
    counts: dict[str, NavCount] = {}
    if can(person, Permission.STAFF_DECIDE):
        counts["chair_queue"] = (
            service.open_staff_requests_count().scalar_subquery()
            + applications.applications_waiting_count("chair").scalar_subquery()
        )
    if can(person, Permission.APPLICATION_DECIDE_BOARD):
        counts["board_queue"] = applications.applications_waiting_count("board")
    return counts


def dashboard_reviews(person) -> dict[str, Any] | None:
    """R3: for the chair's dashboard, the staff of a previous chair still to review."""
    if not can(person, Permission.STAFF_DECIDE):
        return None
    grants = service.staff_grants_to_review(person)
    return {"reviews": grants} if grants else None


def _audit_filters() -> tuple[str | None, str, Select | None]:
    """The trail's filters from the query string, and the events they select for the
    current user (None: the person filter names nobody they may find)."""
    action = request.args.get("action") or None
    person_email = (request.args.get("person") or "").strip()[:300]
    person = person_by_email(person_email) if person_email else None
    if person_email and person is None:
        # No events, and the same answer as for a person whose events one may not read:
        # the filter does not tell whether an account exists.
        return action, person_email, None
    stmt = audit.events_query(current_user, action, person.id if person else None)
    return action, person_email, stmt


@bp.get("/audit")
@requires(Permission.AUDIT_READ)
def audit_trail():
    action, person_email, stmt = _audit_filters()
    page = None
    if stmt is not None:
        page = paginate(stmt.options(selectinload(AuditEvent.actor)), per_page=50)
    return render(
        "governance/audit.html",
        "governance/_audit_rows.html",
        page=page,
        actions=audit.known_actions(current_user),
        action=action,
        person_email=person_email,
    )


@bp.get("/audit.csv")
@requires(Permission.AUDIT_READ)
def audit_csv():
    stmt = _audit_filters()[2]
    return Response(
        stream_with_context(audit.csv_lines(stmt)),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="audit-trail.csv"'},
    )


@bp.get("/charter")
@public
def charter():
    return render(
        "governance/charter.html",
        chair=roles.current_chair(),
        board=roles.current_grants(Role.BOARD),
        staff=roles.current_grants(Role.STAFF),
    )


# People ---------------------------------------------------------------------------------


@bp.get("/people")
@requires(Permission.DIRECTORY_READ)
def people():
    search = (request.args.get("q") or "").strip()[:100]
    page = paginate(service.directory(search))
    return render(
        "governance/people.html",
        "governance/_people_rows.html",
        page=page,
        search=search,
        roles_by_person=service.current_roles_by_person(p.id for p in page.items),
    )


@bp.get("/people/<int:person_id>")
@requires(Permission.DIRECTORY_READ)
def person(person_id: int):
    subject = get_person(person_id)
    return render(
        "governance/person.html",
        subject=subject,
        roles_now=sorted(role.value for role in policy.roles_of(subject)),
        history=service.role_history(subject),
        tenancies=tenants.tenancies_of(subject),
    )


# Your roles -----------------------------------------------------------------------------


def _my_roles_page(status: int = 200, **forms):
    forms.setdefault("request_form", StaffRequestForm())
    forms.setdefault("step_down_form", StepDownForm())
    return render(
        "governance/my_roles.html",
        status=status,
        subject=current_user,
        roles_now=sorted(role.value for role in policy.roles_of(current_user)),
        is_staff=Role.STAFF in policy.roles_of(current_user),
        history=service.role_history(current_user),
        staff_requests=service.staff_requests_of(current_user),
        tenancies=tenants.tenancies_of(current_user),
        action_form=DecisionForm(),
        **forms,
    )


@bp.get("/account/roles")
@signed_in
def my_roles():
    return _my_roles_page()


@bp.post("/account/roles/staff-request")
@requires(Permission.STAFF_REQUEST)
def ask_staff():
    form = StaffRequestForm()
    return submit(
        form,
        lambda: service.ask_for_staff(current_user, form.motivation.data),
        done=lambda _: redirect_after_post(
            url_for("governance.my_roles"), "You asked for staff status. The chair will decide."
        ),
        again=lambda status, _: _my_roles_page(status, request_form=form),
        field="motivation",
    )


@bp.post("/account/roles/staff-request/<int:request_id>/withdraw")
@signed_in
def withdraw_staff_request(request_id: int):
    DecisionForm().validate_on_submit() or incomplete_form()
    service.withdraw_staff_request(current_user, service.get_staff_request(request_id))
    db.session.commit()
    return redirect_after_post(url_for("governance.my_roles"), "Your request is withdrawn.")


@bp.post("/account/roles/step-down")
@signed_in
def step_down():
    form = StepDownForm()
    if form.validate_on_submit():
        # Asked once more before the act, but only of someone who is staff (else the refusal).
        service.check_can_step_down(current_user)
        asking = confirm_first(
            lambda: render("governance/step_down_confirm.html", form=form, person=current_user)
        )
        if asking is not None:
            return asking
    return submit(
        form,
        lambda: service.step_down(current_user, form.reason.data),
        done=lambda _: redirect_after_post(
            url_for("governance.my_roles"), "You stepped down from staff. You remain a member."
        ),
        again=lambda status, _: _my_roles_page(status, step_down_form=form),
        field="reason",
    )


# The chair's queue (R3, R8) -------------------------------------------------------------


def _chair_queue_page(status: int = 200, **forms):
    forms.setdefault("grant_form", GrantStaffForm())
    return render(
        "governance/chair_queue.html",
        status=status,
        page=paginate(service.open_staff_requests()),
        applications=list(db.session.scalars(applications.applications_waiting_for("chair"))),
        others=applications.applications_waiting_for_others("chair"),
        service_requests=provisioning.waiting_decisions(),
        staff=roles.current_grants(Role.STAFF),
        to_review=service.staff_grants_to_review(current_user),
        form=DecisionForm(),
        app_form=ReasonForm(),
        **forms,
    )


@bp.get("/chair")
@requires(Permission.STAFF_DECIDE)
def chair_queue():
    return _chair_queue_page()


def _row(full_title: str, row_template: str, status: int = 200, **context: Any):
    """A row alone for htmx; for a plain browser, a page holding the row (confirm or error)."""
    return render(
        "governance/row_page.html",
        row_template,
        status=status,
        title=full_title,
        row_template=row_template,
        **context,
    )


@bp.post("/chair/staff-requests/<int:request_id>/<any(grant, decline):decision>")
@requires(Permission.STAFF_DECIDE)
def decide_staff_request(request_id: int, decision: str):
    form = DecisionForm()
    staff_request = service.get_staff_request(request_id)
    form.validate_on_submit() or incomplete_form()
    row = "governance/_staff_request_row.html"
    back = url_for("governance.chair_queue")
    if decision == "decline":
        # A confirmation step before a destructive act: the row asks, then posts again.
        asking = confirm_first(
            lambda: _row(
                "Decline a staff request",
                row,
                confirming=True,
                req=staff_request,
                form=form,
                back=back,
            )
        )
        if asking is not None:
            return asking
    decide = service.grant_staff_request if decision == "grant" else service.decline_staff_request

    def done(_: None):
        decided = service.get_staff_request(request_id)
        verb = "granted" if decision == "grant" else "declined"
        return redirect_after_post(
            url_for("governance.chair_queue"),
            f"The request of {decided.person.name} is {verb}.",
            swap=lambda: render(row, req=decided, form=DecisionForm()),
        )

    return submit(
        form,
        lambda: decide(current_user, staff_request, form.reason.data),
        done=done,
        again=lambda status, error: _row(
            "Staff request",
            row,
            status=status,
            error=error.message if error else None,
            req=service.get_staff_request(request_id),
            form=form,
            back=back,
        ),
    )


@bp.post("/chair/staff")
@requires(Permission.STAFF_DECIDE)
def grant_staff():
    form = GrantStaffForm()
    return submit(
        form,
        lambda: service.grant_staff(current_user, form.email.data, form.reason.data),
        done=lambda _: redirect_after_post(
            url_for("governance.chair_queue"), "Staff status granted."
        ),
        again=lambda status, _: _chair_queue_page(status, grant_form=form),
        field="email",
    )


@bp.post("/chair/staff/<int:grant_id>/keep")
@requires(Permission.STAFF_DECIDE)
def keep_staff(grant_id: int):
    """R3: the chair keeps a staff grant made under a previous chair."""
    ConfirmForm().validate_on_submit() or incomplete_form()
    person = service.keep_staff(current_user, service.get_grant(grant_id))
    name = person.name
    db.session.commit()
    return redirect_after_post(url_for("governance.chair_queue"), f"{name} stays staff.")


@bp.post("/chair/staff/<int:grant_id>/revoke")
@requires(Permission.STAFF_DECIDE)
def revoke_staff(grant_id: int):
    form = DecisionForm()
    grant = service.get_grant(grant_id)
    form.validate_on_submit() or incomplete_form()
    row = "governance/_staff_row.html"
    back = url_for("governance.chair_queue")
    asking = confirm_first(
        lambda: _row("Revoke staff status", row, confirming=True, grant=grant, form=form, back=back)
    )
    if asking is not None:
        return asking

    def done(_: None):
        revoked = service.get_grant(grant_id)
        return redirect_after_post(
            url_for("governance.chair_queue"),
            f"{revoked.person.name} is no longer staff.",
            swap=lambda: render(row, grant=revoked, form=DecisionForm()),
        )

    return submit(
        form,
        lambda: service.revoke_staff(current_user, grant, form.reason.data),
        done=done,
        again=lambda status, error: _row(
            "Revoke staff status",
            row,
            status=status,
            confirming=True,
            error=error.message if error else None,
            grant=service.get_grant(grant_id),
            form=form,
            back=back,
        ),
    )


# The board's queue (R6, R8) -------------------------------------------------------------


def _board_queue_page(status: int = 200, **forms):
    forms.setdefault("chair_form", AppointChairForm())
    return render(
        "governance/board_queue.html",
        "governance/_appoint_chair.html",
        status=status,
        applications=list(db.session.scalars(applications.applications_waiting_for("board"))),
        others=applications.applications_waiting_for_others("board"),
        chair=roles.current_chair(),
        app_form=ReasonForm(),
        **forms,
    )


@bp.get("/board")
@requires(Permission.APPLICATION_DECIDE_BOARD)
def board_queue():
    return _board_queue_page()


@bp.post("/board/chair")
@requires(Permission.CHAIR_APPOINT)
def appoint_chair():
    form = AppointChairForm()
    if not form.validate_on_submit():
        return _board_queue_page(422, chair_form=form)
    if roles.current_chair() is not None:
        # R6: appointing ends the current chair's appointment: ask first.
        asking = confirm_first(lambda: _board_queue_page(200, chair_form=form, confirming=True))
        if asking is not None:
            return asking
    return submit(
        form,
        lambda: service.appoint_chair(
            current_user,
            form.email.data,
            form.resolution_ref.data,
            form.resolution_date.data,
            form.reason.data or "",
        ),
        done=lambda _: redirect_after_post(
            url_for("governance.board_queue"), "The chair is appointed."
        ),
        again=lambda status, _: _board_queue_page(status, chair_form=form),
        field="email",
    )
