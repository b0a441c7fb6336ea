"""Pages of membership: home, join, confirm, dashboard, account, the staff queues."""

from __future__ import annotations

from flask import current_app, flash, request, url_for
from flask_login import current_user

from infrawg.errors import DomainError, HandoverNeeded, Invalid, NotAllowed
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
from infrawg.membership.models import Person
from infrawg.policy import Permission, can, public, requires, route_subject, signed_in
from infrawg.web import (
    NavCount,
    attach_error,
    confirm_first,
    dashboard_sections,
    error_status,
    form_or_refused,
    paginate,
    redirect_after_post,
    refused,
    render,
    submit,
)


def nav_counts(person) -> dict[str, NavCount]:
    if can(person, Permission.MEMBERSHIP_DECIDE):
        return {"applications": service.pending_applications_count()}
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

    def join_page(status: int = 200):
        return render(
            "membership/join.html",
            "membership/_join_form.html",
            status=status,
            form=form,
            invite=invite,
        )

    def joined(person: Person):
        if invited:
            start_session(person)
            flash(f"Your email is confirmed. Your status: {person.status.label}.", "ok")
            return redirect_after_post(url_for("membership.dashboard"))
        return render("membership/join_sent.html", person=person)

    if not form.is_submitted():
        return join_page()
    return submit(
        form,
        lambda: service.apply(
            form.name.data,
            form.email.data,
            form.password.data,
            form.foundation_member.data,
            invite=invite,
        ),
        done=joined,
        # Every refusal of an application (R2: a duplicate, an address off the roster) is
        # about what the form says: it is shown there, as bad input (422, also for the
        # Conflict of a duplicate).
        again=lambda _status, _error: join_page(422),
        field="email",
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
    try:
        person = service.person_for_confirmation(token)
    except service.AlreadyConfirmed as used:
        # A second click on the mailed link is not a conflict: say so and offer sign-in.
        return render("membership/already_confirmed.html", message=used.message)
    form = ConfirmForm()
    if not form.is_submitted():
        return render("membership/confirm.html", person=person, form=form)

    def confirmed(person: Person):
        start_session(person)
        flash(f"Your email is confirmed. Your status: {person.status.label}.", "ok")
        return redirect_after_post(url_for("membership.dashboard"))

    return submit(form, lambda: service.confirm_email(token), done=confirmed, again=refused)


@bp.get("/dashboard")
@signed_in
def dashboard():
    return render(
        "membership/dashboard.html", person=current_user, sections=dashboard_sections(current_user)
    )


@bp.get("/account/status")
@signed_in
def status():
    return render(
        "membership/dashboard.html",
        "membership/_status.html",
        person=current_user,
        sections=dashboard_sections(current_user),
    )


@bp.post("/account/resend-confirmation")
@signed_in
def resend_confirmation():
    return submit(
        ConfirmForm(),
        lambda: service.resend_confirmation(current_user),
        done=lambda _: redirect_after_post(
            url_for("membership.dashboard"), "We sent the link again."
        ),
        again=refused,
    )


def _account_page(status: int = 200, **forms):
    forms.setdefault("profile_form", ProfileForm(obj=current_user))
    forms.setdefault("password_form", ChangePasswordForm())
    forms.setdefault("leave_form", LeaveForm())
    forms.setdefault("action_form", ConfirmForm())
    return render(
        "membership/account.html",
        status=status,
        person=current_user,
        linked_logins=accounts.linked_logins_of(current_user),
        sessions=accounts.sessions_of(current_user),
        current_session=current_user.signed_in_session,
        oidc_enabled=bool(current_app.config.get("OIDC_CLIENT_ID")),
        **forms,
    )


@bp.get("/account")
@signed_in
def account():
    return _account_page()


@bp.post("/account/profile")
@signed_in
def update_profile():
    form = ProfileForm()
    return submit(
        form,
        lambda: accounts.update_profile(current_user, form.name.data),
        done=lambda _: redirect_after_post(url_for("membership.account"), "Your profile is saved."),
        again=form_or_refused(lambda status: _account_page(status, profile_form=form)),
    )


@bp.post("/account/password")
@signed_in
def change_password():
    form = ChangePasswordForm()
    return submit(
        form,
        lambda: accounts.change_password(current_user, form.current.data or "", form.password.data),
        done=lambda _: redirect_after_post(
            url_for("membership.account"),
            "Your password is changed. Other browsers signed in to your account are signed out.",
        ),
        again=form_or_refused(lambda status: _account_page(status, password_form=form)),
    )


@bp.post("/account/leave")
@signed_in
def leave():
    form = LeaveForm()

    def refused_leaving(status: int, error: DomainError | None):
        # R4: the last tenant member is offered the hand-over form of each organisation.
        if isinstance(error, HandoverNeeded):
            return _account_page(status, leave_form=form, handover=error)
        return form_or_refused(lambda status: _account_page(status, leave_form=form))(status, error)

    if form.validate_on_submit():
        # Leaving ends the list subscription, the roles and the tenancies: check that it is
        # allowed, then ask once more before doing it.
        try:
            service.check_can_leave(current_user)
        except NotAllowed:
            raise  # to the audited handler
        except DomainError as error:
            db.session.rollback()
            attach_error(form, error, "reason")
            return refused_leaving(error_status(error), error)
        db.session.rollback()  # only a check: release what it locked while the person reads
        asking = confirm_first(
            lambda: render("membership/leave_confirm.html", form=form, person=current_user)
        )
        if asking is not None:
            return asking
    return submit(
        form,
        lambda: service.leave(current_user, form.reason.data or None),
        done=lambda _: redirect_after_post(
            url_for("membership.dashboard"), "You left the group. You can rejoin at any time."
        ),
        again=refused_leaving,
        field="reason",
    )


@bp.post("/account/rejoin")
@signed_in
def rejoin():
    return submit(
        ConfirmForm(),
        lambda: service.rejoin(current_user),
        done=lambda _: redirect_after_post(
            url_for("membership.dashboard"), f"Your status: {current_user.status.label}."
        ),
        again=refused,
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


def _applicant(person_id: int, **_: str) -> Person:
    return people.get_person(person_id)


@bp.post("/membership/applications/<int:person_id>/<any(approve, decline):decision>")
@requires(Permission.MEMBERSHIP_DECIDE, subject=_applicant)
def decide(person_id: int, decision: str):
    form = DecisionForm()
    person: Person = route_subject()

    def decided(_: None):
        verb = "approved" if decision == "approve" else "declined"
        return redirect_after_post(
            url_for("membership.applications"),
            f"The application of {person.name} is {verb}.",
            swap=lambda: render(
                "membership/_application_row.html", applicant=person, form=DecisionForm()
            ),
        )

    def again(status: int):
        return render(
            "membership/applications.html",
            "membership/_application_row.html",
            status=status,
            page=paginate(service.pending_applications()),
            applicant=person,
            form=form,
        )

    return submit(
        form,
        lambda: service.decide_application(
            current_user, person, decision == "approve", form.reason.data or ""
        ),
        done=decided,
        again=form_or_refused(again),
        field="reason",
    )


@bp.route("/membership/roster", methods=["GET", "POST"])
@requires(Permission.ROSTER_MANAGE)
def roster():
    form = RosterForm()

    def roster_page(status: int = 200, result: service.RosterResult | None = None):
        return render(
            "membership/roster.html",
            status=status,
            form=form,
            result=result,
            size=service.roster_size(),
            verifier=current_app.config["MEMBERSHIP_VERIFIER"],
        )

    if not form.is_submitted():
        return roster_page()
    return submit(
        form,
        lambda: service.upload_roster(current_user, form.roster.data.stream),
        done=lambda result: roster_page(result=result),
        again=form_or_refused(roster_page),
        field="roster",
    )


# Importing the module registers the list-sync job in every process that builds the app.
assert jobs.SYNC_JOB


def _drift_page(status: int = 200, form: DriftActionForm | None = None):
    report = list_drift.report()
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
    try:
        action = list_drift.DriftAction(form.action.data or "")
    except ValueError:
        raise Invalid("There is no such repair action.") from None
    return submit(
        form,
        lambda: list_drift.resolve(current_user, form.email.data, action, form.reason.data or ""),
        done=lambda _: redirect_after_post(
            url_for("membership.drift"), f"{action.label}: {form.email.data}. Recorded."
        ),
        again=form_or_refused(lambda status: _drift_page(status, form)),
        field="reason",
    )


@bp.post("/membership/drift/exceptions/<int:exception_id>/remove")
@requires(Permission.MEMBERSHIP_DRIFT_REPAIR)
def remove_drift_exception(exception_id: int):
    return submit(
        ConfirmForm(),
        lambda: list_drift.remove_exception(current_user, exception_id),
        done=lambda _: redirect_after_post(
            url_for("membership.drift"), "The exception is removed."
        ),
        again=refused,
    )
