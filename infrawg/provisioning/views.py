"""Pages of the service layer: catalogue, requests, services, DNS zones, the job queue."""

from __future__ import annotations

import threading

from flask import current_app, request, url_for
from flask_login import current_user

from infrawg.errors import DomainError
from infrawg.extensions import db
from infrawg.forms import options
from infrawg.policy import Permission, can, requires
from infrawg.provisioning import bp, jobs, service, zones
from infrawg.provisioning.forms import (
    ActionForm,
    ApplyForm,
    CapacityForm,
    DecisionForm,
    DnssecForm,
    RecordEditForm,
    RecordForm,
    RequestForm,
    ServiceTypeForm,
)
from infrawg.provisioning.models import JobState, ServiceState
from infrawg.web import (
    error_status,
    incomplete_form,
    paginate,
    redirect_after_post,
    render,
    wants_fragment,
)

_worker_lock = threading.Lock()


@bp.before_app_request
def _embedded_worker() -> None:
    # INFRAWG_EMBEDDED_WORKER=1 (make run): jobs run in a thread of the web process. Started
    # on the first request, never in create_app, and not at all when RQ runs the jobs.
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if not app.config.get("EMBEDDED_WORKER") or app.config.get("REDIS_URL"):
        return
    with _worker_lock:
        if "infrawg_job_worker" not in app.extensions:
            app.extensions["infrawg_job_worker"] = jobs.start_embedded_worker(app)


def nav_counts(person) -> dict[str, int]:
    counts = {}
    if can(person, Permission.SERVICE_DECIDE):
        counts["service_requests"] = service.count_waiting_decisions()
    if can(person, Permission.JOB_MANAGE):
        counts["dead_jobs"] = service.count_dead_jobs()
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


@bp.post("/services/catalogue")
@requires(Permission.SERVICE_TYPE_MANAGE)
def add_service_type():
    form = ServiceTypeForm()
    form.provider.choices = options(service.provider_choices())
    if form.validate_on_submit():
        try:
            added = service.add_service_type(
                current_user,
                form.name.data,
                form.provider.data,
                form.description.data,
                form.capacity.data,
            )
        except DomainError as error:
            db.session.rollback()
            form.name.errors.append(error.message)
        else:
            db.session.commit()
            return redirect_after_post(url_for(".catalogue"), f"{added.name} added.")
    return _catalogue_page(422, form)


@bp.post("/services/catalogue/<int:type_id>")
@requires(Permission.SERVICE_TYPE_MANAGE)
def update_service_type(type_id: int):
    service_type = service.get_service_type(type_id)
    form = CapacityForm(prefix=f"t{type_id}")
    form.validate_on_submit() or incomplete_form()
    service.update_service_type(current_user, service_type, form.capacity.data, form.active.data)
    db.session.commit()
    return redirect_after_post(url_for(".catalogue"), f"{service_type.name} updated.")


@bp.route("/services/request", methods=["GET", "POST"])
@requires(Permission.SERVICE_VIEW)
def request_service():
    form = RequestForm()
    organisations = service.organisations_of(current_user)
    types = service.catalogue()
    form.organisation.choices = options((o.id, o.name) for o in organisations)
    form.service_type.choices = options((t.id, t.name) for t in types)
    if form.validate_on_submit():
        try:
            organisation = next(o for o in organisations if o.id == form.organisation.data)
            service_type = service.get_service_type(form.service_type.data)
            created = service.request_service(
                current_user,
                organisation,
                service_type,
                {"zone": form.zone.data, "dnssec": form.dnssec.data},
                form.purpose.data,
            )
        except DomainError as error:
            db.session.rollback()
            form.zone.errors.append(error.message)
            return _request_page(form, organisations, error_status(error))
        db.session.commit()
        return redirect_after_post(
            url_for(".service_page", service_id=created.id),
            f"Your request for {created.name} waits for the chair.",
        )
    return _request_page(form, organisations, 422 if form.is_submitted() else 200)


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
        "editable": item.state in zones.EDITABLE
        and can(current_user, Permission.SERVICE_MANAGE, item),
        "jobs": service.jobs_of(item) if can(current_user, Permission.JOB_MANAGE) else [],
        "decision_form": DecisionForm(),
        "dnssec_form": DnssecForm(dnssec=zone.dnssec if zone else False),
        "action_form": ActionForm(),
        "add_form": RecordForm(formdata=None),
        "edit_form": None,
        "editing": None,
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
@requires(Permission.SERVICE_VIEW)
def service_page(service_id: int):
    return _service_page(service.get_service(current_user, service_id))


@bp.post("/services/<int:service_id>/decide/<decision>")
@requires(Permission.SERVICE_DECIDE)
def decide(service_id: int, decision: str):
    item = service.get_service(current_user, service_id)
    if decision not in ("approve", "decline"):
        incomplete_form()
    form = DecisionForm()
    form.validate_on_submit() or incomplete_form()
    try:
        service.decide(
            current_user,
            item,
            approve=decision == "approve",
            reason=form.reason.data,
            override_reason=form.override_reason.data if form.override.data else "",
        )
    except DomainError as error:
        db.session.rollback()
        form.reason.errors.append(error.message)
        item = service.get_service(current_user, service_id)
        return _service_page(item, error_status(error), decision_form=form)
    db.session.commit()
    return redirect_after_post(
        url_for(".service_page", service_id=service_id),
        f"{item.name}: {item.state.label}.",
    )


# -- DNS records (R11) ---------------------------------------------------------------------------


@bp.post("/services/<int:service_id>/records")
@requires(Permission.SERVICE_VIEW)
def add_record(service_id: int):
    item = service.get_service(current_user, service_id)
    form = RecordForm()
    form.validate_on_submit() or incomplete_form()
    try:
        zones.add_record(
            current_user, item, form.name.data, form.rdtype.data, form.ttl.data, form.values.data
        )
    except DomainError as error:
        db.session.rollback()
        form.values.errors.append(error.message)
        item = service.get_service(current_user, service_id)
        return _service_page(item, error_status(error), add_form=form)
    db.session.commit()
    return redirect_after_post(url_for(".service_page", service_id=service_id))


@bp.get("/services/<int:service_id>/records/<int:record_id>/edit")
@requires(Permission.SERVICE_VIEW)
def edit_record(service_id: int, record_id: int):
    item = service.get_service(current_user, service_id)
    record = zones.get_record(item, record_id)
    form = RecordEditForm(formdata=None, ttl=str(record.ttl), values="\n".join(record.values))
    return _service_page(item, editing=record.id, edit_form=form)


@bp.post("/services/<int:service_id>/records/<int:record_id>")
@requires(Permission.SERVICE_VIEW)
def update_record(service_id: int, record_id: int):
    item = service.get_service(current_user, service_id)
    form = RecordEditForm()
    form.validate_on_submit() or incomplete_form()
    try:
        zones.update_record(current_user, item, record_id, form.ttl.data, form.values.data)
    except DomainError as error:
        db.session.rollback()
        form.values.errors.append(error.message)
        item = service.get_service(current_user, service_id)
        return _service_page(item, error_status(error), editing=record_id, edit_form=form)
    db.session.commit()
    return redirect_after_post(url_for(".service_page", service_id=service_id))


@bp.post("/services/<int:service_id>/records/<int:record_id>/delete")
@requires(Permission.SERVICE_VIEW)
def delete_record(service_id: int, record_id: int):
    item = service.get_service(current_user, service_id)
    ActionForm().validate_on_submit() or incomplete_form()
    zones.delete_record(current_user, item, record_id)
    db.session.commit()
    return redirect_after_post(url_for(".service_page", service_id=service_id))


@bp.post("/services/<int:service_id>/dnssec")
@requires(Permission.SERVICE_VIEW)
def set_dnssec(service_id: int):
    item = service.get_service(current_user, service_id)
    form = DnssecForm()
    form.validate_on_submit() or incomplete_form()
    zones.set_dnssec(current_user, item, bool(form.dnssec.data))
    db.session.commit()
    return redirect_after_post(
        url_for(".plan", service_id=service_id),
        "DNSSEC " + ("on" if form.dnssec.data else "off") + ": review the plan and apply it.",
    )


@bp.get("/services/<int:service_id>/plan")
@requires(Permission.SERVICE_VIEW)
def plan(service_id: int):
    item = service.get_service(current_user, service_id)
    reviewed = zones.review_plan(current_user, item)
    return render(
        "provisioning/plan.html",
        item=item,
        plan=reviewed,
        form=ApplyForm(formdata=None, reviewed=zones.digest(reviewed)),
    )


@bp.post("/services/<int:service_id>/apply")
@requires(Permission.SERVICE_VIEW)
def apply(service_id: int):
    item = service.get_service(current_user, service_id)
    form = ApplyForm()
    form.validate_on_submit() or incomplete_form()
    queued = zones.request_apply(current_user, item, form.reviewed.data)
    db.session.commit()
    return redirect_after_post(
        url_for(".service_page", service_id=service_id),
        f"The plan is being applied (job #{queued.id}).",
    )


@bp.post("/services/<int:service_id>/delegation")
@requires(Permission.SERVICE_VIEW)
def delegation(service_id: int):
    item = service.get_service(current_user, service_id)
    ActionForm().validate_on_submit() or incomplete_form()
    # R11: the parent's servers may take seconds to answer; a job asks them.
    queued = zones.request_delegation_check(current_user, item)
    db.session.commit()
    if wants_fragment():
        return render("provisioning/_delegation.html", job=queued, result=None, item=item)
    return redirect_after_post(
        url_for(".service_page", service_id=service_id),
        f"The delegation is being checked (job #{queued.id}); the answer appears below.",
    )


# -- jobs ----------------------------------------------------------------------------------------


@bp.get("/services/jobs")
@requires(Permission.JOB_MANAGE)
def job_queue():
    state = request.args.get("state") or None
    return render(
        "provisioning/jobs.html",
        "provisioning/_job_rows.html",
        page=paginate(service.job_queue(state)),
        state=state,
        states=list(JobState),
    )


@bp.get("/services/jobs/<int:job_id>")
@requires(Permission.JOB_MANAGE)
def job_page(job_id: int):
    return render("provisioning/job.html", job=service.get_job(job_id), form=ActionForm())


@bp.post("/services/jobs/<int:job_id>/retry")
@requires(Permission.JOB_MANAGE)
def retry_job(job_id: int):
    ActionForm().validate_on_submit() or incomplete_form()
    retried = jobs.retry(current_user, service.get_job(job_id))
    db.session.commit()
    return redirect_after_post(
        url_for(".job_page", job_id=job_id), f"Job #{retried.id} queued again."
    )
