"""The DNS kind's routes (R11): records, the DNSSEC choice, the delegation check. They answer
with the generic service page (its records fragment for htmx)."""

from __future__ import annotations

from flask import url_for
from flask_login import current_user

from infrawg.forms import ConfirmForm
from infrawg.jobs.models import Job
from infrawg.policy import Permission, requires, route_subject
from infrawg.provisioning import bp, service
from infrawg.provisioning.kinds.dns import zones
from infrawg.provisioning.kinds.dns.forms import DnssecForm, RecordEditForm, RecordForm
from infrawg.provisioning.models import Service
from infrawg.provisioning.views import VISIBLE_SERVICE, _service_page
from infrawg.web import (
    confirm_first,
    redirect_after_post,
    refused,
    render,
    submit,
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
        done=lambda added: redirect_after_post(
            url_for("provisioning.service_page", service_id=service_id)
        ),
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
        done=lambda updated: redirect_after_post(
            url_for("provisioning.service_page", service_id=service_id)
        ),
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
    record = zones.get_record(item, record_id)
    label = f"{record.name} {record.rdtype}"
    return submit(
        ConfirmForm(),
        lambda: zones.delete_record(current_user, item, record_id),
        done=lambda _: redirect_after_post(
            url_for("provisioning.service_page", service_id=service_id),
            f"{label} is deleted here; the DNS server changes when you apply the plan.",
        ),
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
            url_for("provisioning.plan", service_id=service_id),
            "DNSSEC " + ("on" if zone.dnssec else "off") + ": review the plan and apply it.",
        ),
        again=refused,
    )


def _delegation_queued(item: Service, queued: Job):
    return redirect_after_post(
        url_for("provisioning.service_page", service_id=item.id),
        f"The delegation is being checked (job #{queued.id}); the answer appears below.",
        swap=lambda: render("provisioning/_delegation.html", job=queued, result=None, item=item),
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
