"""Pages of the service layer: catalogue, requests, services, DNS zones."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import request, url_for
from flask_login import current_user

from infrawg.forms import ConfirmForm, options
from infrawg.jobs import service as jobs
from infrawg.jobs.models import Job
from infrawg.policy import Permission, can, require, requires, route_subject
from infrawg.provisioning import bp, service, zones
from infrawg.provisioning.forms import (
    ApplyForm,
    CapacityForm,
    DecisionForm,
    DnssecForm,
    RecordEditForm,
    RecordForm,
    RequestForm,
    ServiceTypeForm,
)
from infrawg.provisioning.models import Service, ServiceState
from infrawg.web import (
    confirm_first,
    incomplete_form,
    paginate,
    redirect_after_post,
    refused,
    render,
    submit,
    wants_fragment,
)


def nav_counts(person) -> dict[str, int]:
    counts = {}
    if can(person, Permission.SERVICE_DECIDE):
        counts["service_requests"] = service.count_waiting_decisions()
    return counts


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


@bp.route("/services/request", methods=["GET", "POST"])
@requires(Permission.SERVICE_VIEW)
def request_service():
    form = RequestForm()
    organisations = service.organisations_of(current_user)
    types = service.catalogue()
    form.organisation.choices = options((o.id, o.name) for o in organisations)
    form.service_type.choices = options((t.id, t.name) for t in types)
    if not form.is_submitted():
        return _request_page(form, organisations, 200)

    def ask_for_it() -> Service:
        organisation = next(o for o in organisations if o.id == form.organisation.data)
        return service.request_service(
            current_user,
            organisation,
            service.get_service_type(form.service_type.data),
            {"zone": form.zone.data, "dnssec": form.dnssec.data},
            form.purpose.data,
        )

    return submit(
        form,
        ask_for_it,
        done=lambda created: redirect_after_post(
            url_for(".service_page", service_id=created.id),
            f"Your request for {created.name} waits for the chair.",
        ),
        again=lambda status, error: _request_page(form, organisations, status),
        field="zone",
    )


def _request_page(form: RequestForm, organisations, status: int):
    refusals = {o.id: service.ineligibility(o) for o in organisations}
    return render(
        "provisioning/request.html",
        "provisioning/_request_form.html",
        status=status,
        form=form,
        organisations=organisations,
        refusals=refusals,
    )


def _service_page(item, status: int = 200, **extra):
    """The service page; for htmx, only its records section (edits answer with it)."""
    zone = item.zone
    records = zones.records_of(zone) if zone is not None else []
    context = {
        "item": item,
        "zone": zone,
        "records": records,
        "ns_records": zones.apex_ns(zone, records) if zone is not None else [],
        "ds_records": zones.ds_to_set(zone) if zone is not None else [],
        "editable": item.state.on_provider and can(current_user, Permission.SERVICE_MANAGE, item),
        "jobs": jobs.jobs_of(item) if can(current_user, Permission.JOB_MANAGE) else [],
        "decision_form": DecisionForm(),
        "dnssec_form": DnssecForm(dnssec=zone.dnssec if zone else False),
        "action_form": ConfirmForm(),
        "add_form": RecordForm(formdata=None),
        "edit_form": None,
        "editing": None,
        "confirming": None,
        "capacity_used": service.capacity_in_use([item.service_type_id]).get(
            item.service_type_id, 0
        ),
    }
    if zone is not None and can(current_user, Permission.SERVICE_MANAGE, item):
        context["delegation_job"] = zones.latest_delegation_job(item)
        context["delegation"] = zones.delegation_result(context["delegation_job"])
    context.update(extra)
    return render(
        "provisioning/service.html", "provisioning/_records.html", status=status, **context
    )


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


# -- DNS records (R11) ---------------------------------------------------------------------------


@bp.post("/services/<int:service_id>/records")
@requires(Permission.SERVICE_VIEW, subject=VISIBLE_SERVICE)
def add_record(service_id: int):
    item = route_subject()
    form = RecordForm()
    return submit(
        form,
        lambda: zones.add_record(
            current_user, item, form.name.data, form.rdtype.data, form.ttl.data, form.values.data
        ),
        done=lambda added: redirect_after_post(url_for(".service_page", service_id=service_id)),
        again=lambda status, error: _service_page(
            service.get_service(current_user, service_id), status, add_form=form
        ),
        field="values",
    )


@bp.get("/services/<int:service_id>/records/<int:record_id>/edit")
@requires(Permission.SERVICE_VIEW, subject=VISIBLE_SERVICE)
def edit_record(service_id: int, record_id: int):
    item = route_subject()
    record = zones.get_record(item, record_id)
    form = RecordEditForm(formdata=None, ttl=str(record.ttl), values="\n".join(record.values))
    return _service_page(item, editing=record.id, edit_form=form)


@bp.post("/services/<int:service_id>/records/<int:record_id>")
@requires(Permission.SERVICE_VIEW, subject=VISIBLE_SERVICE)
def update_record(service_id: int, record_id: int):
    item = route_subject()
    form = RecordEditForm()
    return submit(
        form,
        lambda: zones.update_record(current_user, item, record_id, form.ttl.data, form.values.data),
        done=lambda updated: redirect_after_post(url_for(".service_page", service_id=service_id)),
        again=lambda status, error: _service_page(
            service.get_service(current_user, service_id),
            status,
            editing=record_id,
            edit_form=form,
        ),
        field="values",
    )


def _ask_before_deleting(item: Service, record_id: int):
    # Asked only about a record that may be deleted now; otherwise the refusal answers.
    zones.deletable_record(current_user, item, record_id)
    return _service_page(item, confirming=record_id)


@bp.post("/services/<int:service_id>/records/<int:record_id>/delete")
@requires(Permission.SERVICE_VIEW, subject=VISIBLE_SERVICE)
def delete_record(service_id: int, record_id: int):
    item = route_subject()
    if (asking := confirm_first(lambda: _ask_before_deleting(item, record_id))) is not None:
        return asking
    return submit(
        ConfirmForm(),
        lambda: zones.delete_record(current_user, item, record_id),
        done=lambda _: redirect_after_post(url_for(".service_page", service_id=service_id)),
        again=refused,
    )


@bp.post("/services/<int:service_id>/dnssec")
@requires(Permission.SERVICE_VIEW, subject=VISIBLE_SERVICE)
def set_dnssec(service_id: int):
    item = route_subject()
    form = DnssecForm()
    return submit(
        form,
        lambda: zones.set_dnssec(current_user, item, bool(form.dnssec.data)),
        done=lambda zone: redirect_after_post(
            url_for(".plan", service_id=service_id),
            "DNSSEC " + ("on" if zone.dnssec else "off") + ": review the plan and apply it.",
        ),
        again=refused,
    )


@bp.get("/services/<int:service_id>/plan")
@requires(Permission.SERVICE_VIEW, subject=VISIBLE_SERVICE)
def plan(service_id: int):
    item = route_subject()
    reviewed = zones.review_plan(current_user, item, service.provider_for)
    return render(
        "provisioning/plan.html",
        item=item,
        plan=reviewed,
        form=ApplyForm(formdata=None, reviewed=zones.digest(reviewed)),
    )


@bp.post("/services/<int:service_id>/apply")
@requires(Permission.SERVICE_VIEW, subject=VISIBLE_SERVICE)
def apply(service_id: int):
    # The plan page is the confirmation: the form carries the digest of the plan reviewed.
    item = route_subject()
    form = ApplyForm()
    return submit(
        form,
        lambda: zones.request_apply(current_user, item, form.reviewed.data, service.provider_for),
        done=lambda queued: redirect_after_post(
            url_for(".service_page", service_id=service_id),
            f"The plan is being applied (job #{queued.id}).",
        ),
        again=refused,
    )


def _delegation_queued(item: Service, queued: Job):
    if wants_fragment():
        return render("provisioning/_delegation.html", job=queued, result=None, item=item)
    return redirect_after_post(
        url_for(".service_page", service_id=item.id),
        f"The delegation is being checked (job #{queued.id}); the answer appears below.",
    )


@bp.post("/services/<int:service_id>/delegation")
@requires(Permission.SERVICE_VIEW, subject=VISIBLE_SERVICE)
def delegation(service_id: int):
    item = route_subject()
    # R11: the parent's servers may take seconds to answer; a job asks them.
    return submit(
        ConfirmForm(),
        lambda: zones.request_delegation_check(current_user, item),
        done=lambda queued: _delegation_queued(item, queued),
        again=refused,
    )
