"""Pages of tenants: organisations, CO applications, tenant members and invitations."""

from __future__ import annotations

from flask import request, url_for
from flask_login import current_user

from infrawg import policy
from infrawg.errors import DomainError, NotAllowed
from infrawg.extensions import db
from infrawg.policy import Permission, can, public, requires, signed_in
from infrawg.tenants import bp, service
from infrawg.tenants.forms import (
    BecomeCOForm,
    COApplicationForm,
    HandoverForm,
    InviteForm,
    ReasonForm,
    WorkingGroupForm,
)
from infrawg.tenants.models import Decision
from infrawg.web import (
    error_status,
    incomplete_form,
    paginate,
    redirect_after_post,
    render,
    wants_fragment,
)


@bp.get("/organisations")
@requires(Permission.ORGANISATION_READ)
def organisations():
    search = (request.args.get("q") or "").strip()[:100]
    return render(
        "tenants/organisations.html",
        "tenants/_organisation_rows.html",
        page=paginate(service.organisations(search)),
        search=search,
    )


def _organisation_page(organisation, status: int = 200, **forms):
    forms.setdefault("invite_form", InviteForm())
    forms.setdefault("handover_form", HandoverForm())
    forms.setdefault("leave_form", ReasonForm())
    forms.setdefault("charter_form", ReasonForm())
    forms.setdefault("co_form", BecomeCOForm())
    is_tenant = can(current_user, Permission.TENANT_ACT_FOR, organisation)
    return render(
        "tenants/organisation.html",
        status=status,
        organisation=organisation,
        contacts=service.contacts_for(organisation),
        applications=service.applications_of(organisation),
        invitations=service.open_invitations(organisation),
        is_tenant=is_tenant,
        app_form=ReasonForm(),
        **forms,
    )


@bp.get("/organisations/<slug>")
@requires(Permission.ORGANISATION_READ)
def organisation(slug: str):
    return _organisation_page(service.get_organisation(slug))


@bp.route("/organisations/new-wg", methods=["GET", "POST"])
@requires(Permission.ORGANISATION_MANAGE)
def new_working_group():
    form = WorkingGroupForm()
    if form.validate_on_submit():
        try:
            organisation = service.record_working_group(
                current_user,
                form.name.data,
                form.slug.data,
                form.description.data,
                form.mission.data,
                form.website.data,
                form.approval_ref.data,
            )
        except NotAllowed:
            raise
        except DomainError as error:
            db.session.rollback()
            form.form_errors.append(error.message)
            return render("tenants/new_wg.html", status=error_status(error), form=form)
        db.session.commit()
        return redirect_after_post(
            url_for("tenants.organisation", slug=organisation.slug),
            f"{organisation.name} is recorded and eligible for services.",
        )
    return render("tenants/new_wg.html", status=422 if form.is_submitted() else 200, form=form)


@bp.route("/organisations/apply", methods=["GET", "POST"])
@requires(Permission.APPLICATION_CREATE)
def apply():
    form = COApplicationForm()
    if form.validate_on_submit():
        try:
            application = service.apply_as_co(
                current_user,
                form.name.data,
                form.slug.data,
                form.description.data,
                form.website.data,
                form.services.data,
                form.mission_statement.data,
            )
        except NotAllowed:
            raise
        except DomainError as error:
            db.session.rollback()
            form.form_errors.append(error.message)
            return render("tenants/apply.html", status=error_status(error), form=form)
        slug = application.organisation.slug
        db.session.commit()
        return redirect_after_post(
            url_for("tenants.organisation", slug=slug),
            "Your application is sent to the chair and the board.",
        )
    return render("tenants/apply.html", status=422 if form.is_submitted() else 200, form=form)


@bp.post("/organisations/<slug>/end-charter")
@requires(Permission.ORGANISATION_MANAGE)
def end_charter(slug: str):
    organisation = service.get_organisation(slug)
    form = ReasonForm()
    form.validate_on_submit() or incomplete_form()
    if not form.confirmed.data:
        return _organisation_page(organisation, charter_form=form, confirming="charter")
    try:
        service.end_charter(current_user, organisation, form.reason.data)
    except NotAllowed:
        raise
    except DomainError as error:
        db.session.rollback()
        form.reason.errors.append(error.message)
        organisation = service.get_organisation(slug)
        return _organisation_page(
            organisation, error_status(error), charter_form=form, confirming="charter"
        )
    db.session.commit()
    return redirect_after_post(
        url_for("tenants.organisation", slug=slug),
        f"The charter of {organisation.name} ended; its services are suspended.",
    )


@bp.post("/organisations/<slug>/apply-co")
@signed_in
def apply_co(slug: str):
    organisation = service.get_organisation(slug)
    policy.require(current_user, Permission.TENANT_ACT_FOR, organisation)
    form = BecomeCOForm()
    if not form.validate_on_submit():
        return _organisation_page(organisation, 422, co_form=form)
    try:
        service.apply_to_become_co(
            current_user, organisation, form.services.data, form.mission_statement.data
        )
    except NotAllowed:
        raise
    except DomainError as error:
        db.session.rollback()
        form.mission_statement.errors.append(error.message)
        return _organisation_page(service.get_organisation(slug), error_status(error), co_form=form)
    db.session.commit()
    return redirect_after_post(
        url_for("tenants.organisation", slug=slug),
        "The application is sent to the chair and the board.",
    )


@bp.post("/organisations/<slug>/invite")
@signed_in
def invite(slug: str):
    organisation = service.get_organisation(slug)
    policy.require(current_user, Permission.TENANT_INVITE, organisation)
    form = InviteForm()
    if not form.validate_on_submit():
        return _organisation_page(organisation, 422, invite_form=form)
    try:
        service.invite(current_user, organisation, form.email.data)
    except NotAllowed:
        raise
    except DomainError as error:
        db.session.rollback()
        form.email.errors.append(error.message)
        return _organisation_page(
            service.get_organisation(slug), error_status(error), invite_form=form
        )
    db.session.commit()
    return redirect_after_post(
        url_for("tenants.organisation", slug=slug), f"We sent the invitation to {form.email.data}."
    )


@bp.post("/organisations/<slug>/handover")
@signed_in
def handover(slug: str):
    organisation = service.get_organisation(slug)
    policy.require(current_user, Permission.TENANT_ACT_FOR, organisation)
    form = HandoverForm()
    if not form.validate_on_submit():
        return _organisation_page(organisation, 422, handover_form=form)
    try:
        service.invite(current_user, organisation, form.email.data, handover=True)
    except NotAllowed:
        raise
    except DomainError as error:
        db.session.rollback()
        form.email.errors.append(error.message)
        return _organisation_page(
            service.get_organisation(slug), error_status(error), handover_form=form
        )
    db.session.commit()
    return redirect_after_post(
        url_for("tenants.organisation", slug=slug),
        f"We asked {form.email.data} to take over. You can leave once they accept.",
    )


@bp.post("/organisations/<slug>/leave")
@signed_in
def leave(slug: str):
    organisation = service.get_organisation(slug)
    policy.require(current_user, Permission.TENANT_ACT_FOR, organisation)
    form = ReasonForm()
    form.validate_on_submit() or incomplete_form()
    if not form.confirmed.data:
        return _organisation_page(organisation, leave_form=form, confirming="leave")
    try:
        service.leave(current_user, organisation, form.reason.data)
    except NotAllowed:
        raise
    except DomainError as error:
        db.session.rollback()
        form.reason.errors.append(error.message)
        return _organisation_page(
            service.get_organisation(slug), error_status(error), leave_form=form, confirming="leave"
        )
    db.session.commit()
    return redirect_after_post(
        url_for("tenants.organisation", slug=slug),
        f"You are no longer a tenant member of {organisation.name}.",
    )


@bp.post(
    "/applications/<int:application_id>/<any(chair, board):side>/<any(approve, decline):decision>"
)
@signed_in
def decide(application_id: int, side: str, decision: str):
    application = service.get_application(application_id)
    service.require_decider(current_user, side)
    form = ReasonForm()
    form.validate_on_submit() or incomplete_form()
    row = "tenants/_application_row.html"
    context = {"application": application, "app_form": form, "back": request.referrer or ""}
    if decision == "decline" and not form.confirmed.data:
        return render(
            "governance/row_page.html",
            row,
            title="Decline an application",
            row_template=row,
            confirming=side,
            **context,
        )
    try:
        service.decide_application(
            current_user, application, side, Decision(decision), form.reason.data
        )
    except NotAllowed:
        raise
    except DomainError as error:
        db.session.rollback()
        context["application"] = service.get_application(application_id)
        return render(
            "governance/row_page.html",
            row,
            status=error_status(error),
            title="Application",
            row_template=row,
            error=error.message,
            **context,
        )
    db.session.commit()
    application = service.get_application(application_id)
    if wants_fragment():
        return render(row, application=application, app_form=ReasonForm())
    target = url_for("governance.chair_queue" if side == "chair" else "governance.board_queue")
    return redirect_after_post(target, "The decision is recorded.")


@bp.get("/invitations/<token>")
@public
def invitation(token: str):
    return render(
        "tenants/invitation.html",
        invitation=service.invitation_for_token(token),
        token=token,
        form=ReasonForm(),
    )


@bp.post("/invitations/<token>/accept")
@signed_in
def accept_invitation(token: str):
    ReasonForm().validate_on_submit() or incomplete_form()
    tenancy = service.accept_invitation(current_user, token)
    slug = tenancy.organisation.slug
    db.session.commit()
    return redirect_after_post(
        url_for("tenants.organisation", slug=slug),
        "You are now a tenant member: the organisation's contact with the Infra-WG.",
    )
