"""Pages of tenants: organisations, CO applications, tenant members and invitations."""

from __future__ import annotations

from typing import Any

from flask import request, url_for
from flask_login import current_user

from infrawg.extensions import db
from infrawg.policy import Permission, can, public, requires, route_subject, signed_in
from infrawg.tenants import applications, bp, service
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
    confirm_first,
    incomplete_form,
    paginate,
    redirect_after_post,
    render,
    submit,
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
        applications=applications.applications_of(organisation),
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
    if not form.is_submitted():
        return render("tenants/new_wg.html", form=form)
    return submit(
        form,
        lambda: service.record_working_group(
            current_user,
            form.name.data,
            form.slug.data,
            form.description.data,
            form.mission.data,
            form.website.data,
            form.approval_ref.data,
        ),
        done=lambda organisation: redirect_after_post(
            url_for("tenants.organisation", slug=organisation.slug),
            f"{organisation.name} is recorded and eligible for services.",
        ),
        again=lambda status, _: render("tenants/new_wg.html", status=status, form=form),
    )


@bp.route("/organisations/apply", methods=["GET", "POST"])
@requires(Permission.APPLICATION_CREATE)
def apply():
    form = COApplicationForm()
    if not form.is_submitted():
        return render("tenants/apply.html", form=form)
    return submit(
        form,
        # The slug is read before the commit expires the application.
        lambda: (
            applications.apply_as_co(
                current_user,
                form.name.data,
                form.slug.data,
                form.description.data,
                form.website.data,
                form.services.data,
                form.mission_statement.data,
            ).organisation.slug
        ),
        done=lambda slug: redirect_after_post(
            url_for("tenants.organisation", slug=slug),
            "Your application is sent to the chair and the board.",
        ),
        again=lambda status, _: render("tenants/apply.html", status=status, form=form),
    )


@bp.post("/organisations/<slug>/end-charter")
@requires(Permission.ORGANISATION_MANAGE)
def end_charter(slug: str):
    organisation = service.get_organisation(slug)
    name = organisation.name
    form = ReasonForm()
    form.validate_on_submit() or incomplete_form()
    asking = confirm_first(
        lambda: _organisation_page(organisation, charter_form=form, confirming="charter")
    )
    if asking is not None:
        return asking
    return submit(
        form,
        lambda: service.end_charter(current_user, organisation, form.reason.data),
        done=lambda _: redirect_after_post(
            url_for("tenants.organisation", slug=slug),
            f"The charter of {name} ended; its services are suspended.",
        ),
        again=lambda status, _: _organisation_page(
            service.get_organisation(slug), status, charter_form=form, confirming="charter"
        ),
        field="reason",
    )


def _organisation(slug: str, **_: Any):
    """The route's organisation, for ``@requires(..., subject=_organisation)``."""
    return service.get_organisation(slug)


@bp.post("/organisations/<slug>/apply-co")
@requires(Permission.TENANT_ACT_FOR, subject=_organisation)
def apply_co(slug: str):
    organisation = route_subject()
    form = BecomeCOForm()
    return submit(
        form,
        lambda: applications.apply_to_become_co(
            current_user, organisation, form.services.data, form.mission_statement.data
        ),
        done=lambda _: redirect_after_post(
            url_for("tenants.organisation", slug=slug),
            "The application is sent to the chair and the board.",
        ),
        again=lambda status, error: _organisation_page(
            organisation if error is None else service.get_organisation(slug), status, co_form=form
        ),
        field="mission_statement",
    )


@bp.post("/organisations/<slug>/invite")
@requires(Permission.TENANT_INVITE, subject=_organisation)
def invite(slug: str):
    organisation = route_subject()
    form = InviteForm()
    return submit(
        form,
        lambda: service.invite(current_user, organisation, form.email.data),
        done=lambda _: redirect_after_post(
            url_for("tenants.organisation", slug=slug),
            f"We sent the invitation to {form.email.data}.",
        ),
        again=lambda status, error: _organisation_page(
            organisation if error is None else service.get_organisation(slug),
            status,
            invite_form=form,
        ),
        field="email",
    )


@bp.post("/organisations/<slug>/handover")
@requires(Permission.TENANT_ACT_FOR, subject=_organisation)
def handover(slug: str):
    organisation = route_subject()
    form = HandoverForm()
    return submit(
        form,
        lambda: service.invite(current_user, organisation, form.email.data, handover=True),
        done=lambda _: redirect_after_post(
            url_for("tenants.organisation", slug=slug),
            f"We asked {form.email.data} to take over. You can leave once they accept.",
        ),
        again=lambda status, error: _organisation_page(
            organisation if error is None else service.get_organisation(slug),
            status,
            handover_form=form,
        ),
        field="email",
    )


@bp.post("/organisations/<slug>/leave")
@requires(Permission.TENANT_ACT_FOR, subject=_organisation)
def leave(slug: str):
    organisation = route_subject()
    name = organisation.name
    form = ReasonForm()
    form.validate_on_submit() or incomplete_form()
    asking = confirm_first(
        lambda: _organisation_page(organisation, leave_form=form, confirming="leave")
    )
    if asking is not None:
        return asking
    return submit(
        form,
        lambda: service.leave(current_user, organisation, form.reason.data),
        done=lambda _: redirect_after_post(
            url_for("tenants.organisation", slug=slug),
            f"You are no longer a tenant member of {name}.",
        ),
        again=lambda status, _: _organisation_page(
            service.get_organisation(slug), status, leave_form=form, confirming="leave"
        ),
        field="reason",
    )


@bp.post(
    "/applications/<int:application_id>/<any(chair, board):side>/<any(approve, decline):decision>"
)
@signed_in
def decide(application_id: int, side: str, decision: str):
    application = applications.get_application(application_id)
    applications.require_decider(current_user, side)
    form = ReasonForm()
    form.validate_on_submit() or incomplete_form()
    row = "tenants/_application_row.html"
    back = request.referrer or ""

    def row_page(title: str, status: int = 200, **context: Any):
        return render(
            "governance/row_page.html",
            row,
            status=status,
            title=title,
            row_template=row,
            app_form=form,
            back=back,
            **context,
        )

    if decision == "decline":
        asking = confirm_first(
            lambda: row_page("Decline an application", confirming=side, application=application)
        )
        if asking is not None:
            return asking

    def done(_: None):
        target = url_for("governance.chair_queue" if side == "chair" else "governance.board_queue")
        return redirect_after_post(
            target,
            "The decision is recorded.",
            swap=lambda: render(
                row, application=applications.get_application(application_id), app_form=ReasonForm()
            ),
        )

    return submit(
        form,
        lambda: applications.decide_application(
            current_user, application, side, Decision(decision), form.reason.data
        ),
        done=done,
        again=lambda status, error: row_page(
            "Application",
            status,
            error=error.message if error else None,
            application=applications.get_application(application_id),
        ),
    )


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
