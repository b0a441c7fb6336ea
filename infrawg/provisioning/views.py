"""Pages of the service layer: catalogue, requests, services (the generic frame plus the
kind's panels), plans, decommissioning. Each kind's own routes live in its folder."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import request, url_for
from flask_login import current_user

from infrawg.forms import ConfirmForm, options
from infrawg.jobs import service as jobs
from infrawg.jobs.models import Job
from infrawg.policy import Permission, can, require, requires, route_subject
from infrawg.provisioning import bp, kinds, lifecycle, service
from infrawg.provisioning.forms import (
    GENERIC_REQUEST_FIELDS,
    ApplyForm,
    CapacityForm,
    DecisionForm,
    DecommissionForm,
    RequestForm,
    ServiceTypeForm,
    SuspendForm,
    request_form_for,
)
from infrawg.provisioning.models import Service, ServiceState
from infrawg.web import (
    incomplete_form,
    paginate,
    redirect_after_post,
    refused,
    render,
    submit,
)


def nav_counts(person) -> dict[str, int]:
    counts = {}
    if can(person, Permission.SERVICE_DECIDE):
        counts["service_requests"] = service.count_waiting_decisions()
    return counts


def dashboard_services(person) -> dict[str, Any] | None:
    """The dashboard's section of the person's organisations' services (tenant members)."""
    organisations = service.organisations_of(person)
    if not organisations or not can(person, Permission.SERVICE_VIEW):
        return None
    return {
        "my_services": service.services_of_organisations_of(person),
        "my_organisations": organisations,
    }


@bp.app_template_global("organisation_services")
def organisation_services(organisation) -> list[Service]:
    """For the organisation's page (tenants): its services, if the viewer may see them."""
    return service.services_of_organisation(current_user, organisation)


# -- services ------------------------------------------------------------------------------------


@bp.get("/services")
@requires(Permission.SERVICE_VIEW)
def services():
    state = request.args.get("state") or None
    return render(
        "provisioning/services.html",
        "provisioning/_service_rows.html",
        page=paginate(service.services_for(current_user, state)),
        state=state,
        states=list(ServiceState),
        organisations=service.organisations_of(current_user),
    )


@bp.get("/services/catalogue")
@requires(Permission.SERVICE_VIEW)
def catalogue():
    return _catalogue_page()


def _catalogue_page(status: int = 200, form: ServiceTypeForm | None = None):
    manage = can(current_user, Permission.SERVICE_TYPE_MANAGE)
    types = service.catalogue(include_inactive=manage)
    if form is None:
        form = ServiceTypeForm()
    form.provider.choices = options(service.provider_choices()) if manage else []
    return render(
        "provisioning/catalogue.html",
        status=status,
        types=types,
        in_use=service.capacity_in_use([t.id for t in types]),
        form=form,
        capacity_forms={t.id: CapacityForm(obj=t, prefix=f"t{t.id}") for t in types},
        manage=manage,
    )


def _loader(permission: Permission, load: Callable[..., Any]) -> Callable[..., Any]:
    """A route's subject loader: who may not ``permission`` at all is refused before
    anything is looked up (403, as for any route); for the others, what they may not
    see is not found (cross-tenant lookups find nothing)."""

    def loader(**ids: Any) -> Any:
        require(current_user, permission)
        return load(**ids)

    return loader


def _service(service_id: int, **_: Any) -> Service:
    return service.get_service(current_user, service_id)


VISIBLE_SERVICE = _loader(Permission.SERVICE_VIEW, _service)


@bp.post("/services/catalogue")
@requires(Permission.SERVICE_TYPE_MANAGE)
def add_service_type():
    form = ServiceTypeForm()
    form.provider.choices = options(service.provider_choices())
    return submit(
        form,
        lambda: service.add_service_type(
            current_user,
            form.name.data,
            form.provider.data,
            form.description.data,
            form.capacity.data,
        ),
        done=lambda added: redirect_after_post(url_for(".catalogue"), f"{added.name} added."),
        again=lambda status, error: _catalogue_page(422, form),
        field="name",
    )


@bp.post("/services/catalogue/<int:type_id>")
@requires(Permission.SERVICE_TYPE_MANAGE)
def update_service_type(type_id: int):
    service_type = service.get_service_type(type_id)
    form = CapacityForm(prefix=f"t{type_id}")
    return submit(
        form,
        lambda: service.update_service_type(
            current_user, service_type, form.capacity.data, form.active.data
        ),
        done=lambda updated: redirect_after_post(url_for(".catalogue"), f"{updated.name} updated."),
        again=refused,
    )


def _chosen_type(types: list[Any]) -> Any:
    """The service type asked for (posted, or ?type= on the page), else the first offered."""
    raw = (
        request.form.get("service_type")
        or request.args.get("service_type")  # the select's htmx request
        or request.args.get("type")
    )
    wanted = next((t for t in types if str(t.id) == str(raw)), None)
    return wanted or (types[0] if types else None)


@bp.route("/services/request", methods=["GET", "POST"])
@requires(Permission.SERVICE_VIEW)
def request_service():
    organisations = service.organisations_of(current_user)
    types = service.catalogue()
    chosen = _chosen_type(types)
    kind = kinds.get(chosen.kind) if chosen is not None else None
    form = request_form_for(kind.ParametersForm if kind else None)()
    form.organisation.choices = options((o.id, o.name) for o in organisations)
    form.service_type.choices = options((t.id, t.name) for t in types)
    if not form.is_submitted():
        if chosen is not None:
            form.service_type.data = chosen.id
        # "Request a service" on an organisation's page names the organisation.
        wanted = request.args.get("organisation", type=int)
        if any(o.id == wanted for o in organisations):
            form.organisation.data = wanted
        return _request_page(form, organisations, 200)

    def ask_for_it() -> Service:
        organisation = next(o for o in organisations if o.id == form.organisation.data)
        service_type = service.get_service_type(form.service_type.data)
        return service.request_service(
            current_user,
            organisation,
            service_type,
            kinds.get(service_type.kind).form_parameters(form),
            form.purpose.data,
        )

    kind_fields = [f.name for f in form if f.name not in GENERIC_REQUEST_FIELDS]
    return submit(
        form,
        ask_for_it,
        done=lambda created: redirect_after_post(
            url_for(".service_page", service_id=created.id),
            f"Your request for {created.name} waits for the chair.",
        ),
        again=lambda status, error: _request_page(form, organisations, status),
        field=kind_fields[0] if kind_fields else "service_type",
    )


def _request_page(form: RequestForm, organisations, status: int):
    refusals = {o.id: service.ineligibility(o) for o in organisations}
    return render(
        "provisioning/request.html",
        "provisioning/_request_form.html",
        status=status,
        form=form,
        kind_fields=[f for f in form if f.name not in GENERIC_REQUEST_FIELDS],
        organisations=organisations,
        refusals=refusals,
    )


def _service_page(item, status: int = 200, **extra):
    """The service page: the generic frame, then the kind's panels; for htmx, the kind's
    fragment (DNS: the records table, which record edits answer with)."""
    kind = kinds.get(item.service_type.kind)
    manage = can(current_user, Permission.SERVICE_MANAGE, item)
    context = {
        "item": item,
        "kind": kind,
        "panels": kind.panels,
        "editable": item.state.on_provider and manage,
        "decommissionable": manage and item.state in lifecycle.DECOMMISSIONABLE,
        "jobs": jobs.jobs_of(item) if can(current_user, Permission.JOB_MANAGE) else [],
        "following": _following(item),
        "decision_form": DecisionForm(),
        "suspend_form": SuspendForm(formdata=None),
        "suspendable": item.state in lifecycle.SUSPENDABLE,
        "action_form": ConfirmForm(),
        "capacity_used": service.capacity_in_use([item.service_type_id]).get(
            item.service_type_id, 0
        ),
    }
    context.update(kind.panel_context(item, current_user))
    context.update(extra)
    return render("provisioning/service.html", kind.fragment, status=status, **context)


def _following(item: Service) -> Job | None:
    """The service's newest unfinished job, followed live on the page by whoever may (staff,
    its tenant members): a provisioning, an applied change, a long operation's progress."""
    for queued in jobs.jobs_of(item, limit=5):
        if queued.state.pending and can(current_user, Permission.JOB_FOLLOW, queued):
            return queued
    return None


@bp.get("/services/<int:service_id>")
@requires(Permission.SERVICE_VIEW, subject=VISIBLE_SERVICE)
def service_page(service_id: int):
    return _service_page(route_subject())


@bp.post("/services/<int:service_id>/decide/<decision>")
@requires(Permission.SERVICE_DECIDE, subject=_loader(Permission.SERVICE_DECIDE, _service))
def decide(service_id: int, decision: str):
    item = route_subject()
    if decision not in ("approve", "decline"):
        incomplete_form()
    form = DecisionForm()
    return submit(
        form,
        lambda: service.decide(
            current_user,
            item,
            approve=decision == "approve",
            reason=form.reason.data,
            override_reason=form.override_reason.data if form.override.data else "",
        ),
        done=lambda decided: redirect_after_post(
            url_for(".service_page", service_id=service_id),
            f"{decided.name}: {decided.state.label}.",
        ),
        # After the rollback the service is read again, as it is now.
        again=lambda status, error: _service_page(
            service.get_service(current_user, service_id), status, decision_form=form
        ),
        field="reason",
    )


@bp.get("/services/<int:service_id>/plan")
@requires(Permission.SERVICE_VIEW, subject=VISIBLE_SERVICE)
def plan(service_id: int):
    item = route_subject()
    reviewed = lifecycle.review_plan(current_user, item)
    return render(
        "provisioning/plan.html",
        item=item,
        plan=reviewed,
        form=ApplyForm(formdata=None, reviewed=lifecycle.digest(reviewed)),
    )


@bp.post("/services/<int:service_id>/apply")
@requires(Permission.SERVICE_VIEW, subject=VISIBLE_SERVICE)
def apply(service_id: int):
    # The plan page is the confirmation: the form carries the digest of the plan reviewed.
    item = route_subject()
    form = ApplyForm()
    return submit(
        form,
        lambda: lifecycle.request_apply(current_user, item, form.reviewed.data),
        done=lambda queued: redirect_after_post(
            url_for(".service_page", service_id=service_id),
            f"The plan is being applied (job #{queued.id}).",
        ),
        again=refused,
    )


# -- decommissioning: the destroy plan, reviewed ------------------------------------------------


@bp.get("/services/<int:service_id>/decommission")
@requires(Permission.SERVICE_VIEW, subject=VISIBLE_SERVICE)
def decommission_plan(service_id: int):
    item = route_subject()
    reviewed = lifecycle.review_destroy(current_user, item)
    return render(
        "provisioning/decommission.html",
        item=item,
        plan=reviewed,
        form=DecommissionForm(formdata=None, reviewed=lifecycle.digest(reviewed)),
    )


@bp.post("/services/<int:service_id>/decommission")
@requires(Permission.SERVICE_VIEW, subject=VISIBLE_SERVICE)
def decommission(service_id: int):
    # The destroy plan's page is the confirmation: the form carries the plan's digest.
    item = route_subject()
    form = DecommissionForm()
    return submit(
        form,
        lambda: lifecycle.request_decommission(
            current_user, item, form.reviewed.data, form.reason.data
        ),
        done=lambda queued: redirect_after_post(
            url_for(".service_page", service_id=service_id),
            f"{item.name} is being decommissioned (job #{queued.id}).",
        ),
        again=refused,
    )


# -- suspension by the chair (R7 takes the same path) ---------------------------------------------


@bp.post("/services/<int:service_id>/<any(suspend, resume):change>")
@requires(Permission.SERVICE_DECIDE, subject=_loader(Permission.SERVICE_DECIDE, _service))
def suspend_or_resume(service_id: int, change: str):
    item = route_subject()
    form = SuspendForm()
    act = lifecycle.suspend if change == "suspend" else lifecycle.resume
    return submit(
        form,
        lambda: act(current_user, item, (form.reason.data or "").strip()),
        done=lambda changed: redirect_after_post(
            url_for(".service_page", service_id=service_id),
            f"{changed.name}: {changed.state.label}.",
        ),
        again=lambda status, error: _service_page(
            service.get_service(current_user, service_id), status, suspend_form=form
        ),
        field="reason",
    )
