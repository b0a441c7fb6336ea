"""Pages of membership: home, join, confirm, dashboard, account, the staff queues."""

from __future__ import annotations

from flask import current_app, flash, request, url_for
from flask_login import current_user

from infrawg.errors import DomainError, Invalid
from infrawg.extensions import db, limiter
from infrawg.forms import ConfirmForm
from infrawg.membership import accounts, bp, jobs, people, service
from infrawg.membership import drift as list_drift
from infrawg.membership.auth_views import start_session
from infrawg.membership.forms import (
    ChangePasswordForm,
    DecisionForm,
    DriftActionForm,
    JoinForm,
    LeaveForm,
    ProfileForm,
    RosterForm,
)
from infrawg.policy import Permission, can, public, requires, signed_in
from infrawg.web import (
    incomplete_form,
    paginate,
    redirect_after_post,
    render,
)


def nav_counts(person) -> dict[str, int]:
    if can(person, Permission.MEMBERSHIP_DECIDE):
        return {"applications": service.count_pending_applications()}
    return {}


def _join_limit() -> str:
    return current_app.config["RATELIMIT_JOIN"]


def _check_email_limit() -> str:
    return current_app.config["RATELIMIT_CHECK_EMAIL"]


@bp.get("/")
@public
def home():
    return render("membership/home.html")


@bp.route("/join", methods=["GET", "POST"])
@public
@limiter.limit(_join_limit, methods=["POST"])
def join():
    form = JoinForm()
    # A list subscriber's invitation: the email is given (and confirmed) by the signed link.
    invite = request.args.get("invite") or None
    invited = service.invited_email(invite) if invite else None
    if invited:
        form.email.data = invited
    if form.validate_on_submit():
        try:
            person = service.apply(
                form.name.data,
                form.email.data,
                form.password.data,
                form.foundation_member.data,
                invite=invite,
            )
        except DomainError as error:
            db.session.rollback()
            form.email.errors.append(error.message)
        else:
            db.session.commit()
            if invited:
                start_session(person)
                flash(f"Your email is confirmed. Your status: {person.status.label}.", "ok")
                return redirect_after_post(url_for("membership.dashboard"))
            return render("membership/join_sent.html", person=person)
    status = 422 if form.is_submitted() else 200
    return render(
        "membership/join.html",
        "membership/_join_form.html",
        status=status,
        form=form,
        invite=invite,
    )


@bp.post("/join/check-email")
@public
# It tells whether an email already has an account: not an oracle to query at speed.
@limiter.limit(_check_email_limit)
def join_check_email():
    """Inline validation of the email field while the applicant types."""
    error = None
    try:
        service.check_can_apply(request.form.get("email", ""))
    except DomainError as exc:
        error = exc.message
    return render("membership/_field_error.html", error=error, field_id="email")


@bp.route("/join/confirm/<token>", methods=["GET", "POST"])
@public
def confirm(token: str):
    person = service.person_for_confirmation(token)
    form = ConfirmForm()
    if form.validate_on_submit():
        person = service.confirm_email(token)
        db.session.commit()
        start_session(person)
        flash(f"Your email is confirmed. Your status: {person.status.label}.", "ok")
        return redirect_after_post(url_for("membership.dashboard"))
    return render("membership/confirm.html", person=person, form=form)


@bp.get("/dashboard")
@signed_in
def dashboard():
    return render("membership/dashboard.html", person=current_user)


@bp.get("/account/status")
@signed_in
def status():
    return render("membership/dashboard.html", "membership/_status.html", person=current_user)


@bp.post("/account/resend-confirmation")
@signed_in
def resend_confirmation():
    ConfirmForm().validate_on_submit() or incomplete_form()
    service.resend_confirmation(current_user)
    db.session.commit()
    return redirect_after_post(url_for("membership.dashboard"), "We sent the link again.")


def _account_page(status: int = 200, **forms):
    forms.setdefault("profile_form", ProfileForm(obj=current_user))
    forms.setdefault("password_form", ChangePasswordForm())
    forms.setdefault("leave_form", LeaveForm())
    forms.setdefault("action_form", ConfirmForm())
    return render(
        "membership/account.html",
        status=status,
        person=current_user,
        linked_logins=_linked_logins(),
        sessions=accounts.sessions_of(current_user),
        current_session=current_user.signed_in_session,
        oidc_enabled=bool(current_app.config.get("OIDC_CLIENT_ID")),
        **forms,
    )


def _linked_logins():
    from sqlalchemy import select

    from infrawg.membership.models import LinkedLogin

    return db.session.scalars(
        select(LinkedLogin).where(LinkedLogin.person_id == current_user.id)
    ).all()


@bp.get("/account")
@signed_in
def account():
    return _account_page()


@bp.post("/account/profile")
@signed_in
def update_profile():
    from infrawg.membership.accounts import update_profile as update

    form = ProfileForm()
    if not form.validate_on_submit():
        return _account_page(422, profile_form=form)
    update(current_user, form.name.data)
    db.session.commit()
    return redirect_after_post(url_for("membership.account"), "Your profile is saved.")


@bp.post("/account/password")
@signed_in
def change_password():
    from infrawg.membership.accounts import change_password as change

    form = ChangePasswordForm()
    if not form.validate_on_submit():
        return _account_page(422, password_form=form)
    try:
        change(current_user, form.current.data or "", form.password.data)
    except Invalid as error:
        db.session.rollback()
        form.current.errors.append(error.message)
        return _account_page(422, password_form=form)
    db.session.commit()
    return redirect_after_post(
        url_for("membership.account"),
        "Your password is changed. Other browsers signed in to your account are signed out.",
    )


@bp.post("/account/leave")
@signed_in
def leave():
    form = LeaveForm()
    if not form.validate_on_submit():
        return _account_page(422, leave_form=form)
    service.leave(current_user, form.reason.data or None)
    db.session.commit()
    return redirect_after_post(
        url_for("membership.dashboard"), "You left the group. You can rejoin at any time."
    )


@bp.post("/account/rejoin")
@signed_in
def rejoin():
    ConfirmForm().validate_on_submit() or incomplete_form()
    service.rejoin(current_user)
    db.session.commit()
    return redirect_after_post(
        url_for("membership.dashboard"), f"Your status: {current_user.status.label}."
    )


@bp.get("/membership/applications")
@requires(Permission.MEMBERSHIP_DECIDE)
def applications():
    page = paginate(service.pending_applications())
    return render(
        "membership/applications.html",
        "membership/_applications.html",
        page=page,
        form=DecisionForm(),
    )


@bp.post("/membership/applications/<int:person_id>/<any(approve, decline):decision>")
@requires(Permission.MEMBERSHIP_DECIDE)
def decide(person_id: int, decision: str):
    form = DecisionForm()
    person = people.get_person(person_id)
    if not form.validate_on_submit():
        incomplete_form()
    try:
        service.decide_application(
            current_user, person, decision == "approve", form.reason.data or ""
        )
    except Invalid as error:
        db.session.rollback()
        form.reason.errors.append(error.message)
        return render(
            "membership/applications.html",
            "membership/_application_row.html",
            status=422,
            page=paginate(service.pending_applications()),
            applicant=person,
            form=form,
        )
    db.session.commit()
    if request.htmx:
        return render("membership/_application_row.html", applicant=person, form=DecisionForm())
    verb = "approved" if decision == "approve" else "declined"
    return redirect_after_post(
        url_for("membership.applications"), f"The application of {person.name} is {verb}."
    )


@bp.route("/membership/roster", methods=["GET", "POST"])
@requires(Permission.ROSTER_MANAGE)
def roster():
    form = RosterForm()
    result = None
    status = 200
    if form.validate_on_submit():
        try:
            result = service.upload_roster(current_user, form.roster.data.stream)
        except Invalid as error:
            db.session.rollback()
            form.roster.errors.append(error.message)
            status = 422
        else:
            db.session.commit()
    elif form.is_submitted():
        status = 422
    return render(
        "membership/roster.html",
        status=status,
        form=form,
        result=result,
        size=service.roster_size(),
        verifier=current_app.config["MEMBERSHIP_VERIFIER"],
    )


# Importing the module registers the list-sync job in every process that builds the app.
assert jobs.SYNC_JOB


def _drift_page(status: int = 200, form: DriftActionForm | None = None):
    report = service.list_drift()
    return render(
        "membership/drift.html",
        status=503 if report.error and status == 200 else status,
        drift=report,
        form=form or DriftActionForm(),
        on_list_actions=list_drift.ON_LIST_ACTIONS,
        off_list_actions=list_drift.OFF_LIST_ACTIONS,
        can_repair=can(current_user, Permission.MEMBERSHIP_DRIFT_REPAIR),
    )


@bp.get("/membership/drift")
@requires(Permission.MEMBERSHIP_DRIFT_READ)
def drift():
    return _drift_page()


@bp.post("/membership/drift/resolve")
@requires(Permission.MEMBERSHIP_DRIFT_REPAIR)
def resolve_drift():
    form = DriftActionForm()
    if not form.validate_on_submit():
        incomplete_form()
    try:
        action = list_drift.DriftAction(form.action.data)
    except ValueError:
        raise Invalid("There is no such repair action.") from None
    try:
        list_drift.resolve(current_user, form.email.data, action, form.reason.data or "")
    except Invalid as error:
        db.session.rollback()
        form.reason.errors.append(error.message)
        return _drift_page(422, form)
    db.session.commit()
    return redirect_after_post(
        url_for("membership.drift"), f"{action.label}: {form.email.data}. Recorded."
    )


@bp.post("/membership/drift/exceptions/<int:exception_id>/remove")
@requires(Permission.MEMBERSHIP_DRIFT_REPAIR)
def remove_drift_exception(exception_id: int):
    ConfirmForm().validate_on_submit() or incomplete_form()
    list_drift.remove_exception(current_user, exception_id)
    db.session.commit()
    return redirect_after_post(url_for("membership.drift"), "The exception is removed.")
