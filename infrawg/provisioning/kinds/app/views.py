"""The app kind's routes (R14): the tenant's edit form saves a new version, a version's page is
its review (diff against the version before, every check), staff approve or ask for changes
with a comment, and an approved version is published."""

from __future__ import annotations

from typing import Any

from flask import url_for
from flask_login import current_user

from infrawg.errors import NotFound
from infrawg.forms import ConfirmForm
from infrawg.policy import Permission, can, requires, route_subject
from infrawg.provisioning import bp, service
from infrawg.provisioning.kinds.app import versions
from infrawg.provisioning.kinds.app.forms import AppEditForm, ReviewForm
from infrawg.provisioning.models import Service
from infrawg.provisioning.providers.cookbook import CONVERGE_NOTE
from infrawg.provisioning.views import VISIBLE_SERVICE, _service_page
from infrawg.web import redirect_after_post, refused, render, submit


def _app_service() -> Service:
    item = route_subject()
    if item.service_type.kind != "app":
        raise NotFound("This service is not an application.")
    return item


def _version_page(item: Service, number: int, status: int = 200, form: ReviewForm | None = None):
    version = versions.get_version(item, number)
    return render(
        "provisioning/app/version.html",
        status=status,
        item=item,
        version=version,
        results=versions.results_of(version),
        diff=versions.diff_of(version, item),
        review_form=form or ReviewForm(formdata=None),
        action_form=ConfirmForm(),
        may_review=can(current_user, Permission.APP_REVIEW, item),
        may_manage=can(current_user, Permission.SERVICE_MANAGE, item),
        converge_note=CONVERGE_NOTE,
    )


def _to_version(item: Service, message: str):
    return lambda version: redirect_after_post(
        url_for("provisioning.app_version", service_id=item.id, number=version.number),
        message.format(number=version.number),
    )


@bp.post("/services/<int:service_id>/app/versions")
@requires(Permission.SERVICE_VIEW, subject=VISIBLE_SERVICE)
def save_app_version(service_id: int):
    item = _app_service()
    form = AppEditForm()
    return submit(
        form,
        lambda: versions.save_version(current_user, item, form.data),
        done=_to_version(item, "Saved as version {number}, with its checks."),
        again=lambda status, error: _service_page(
            service.get_service(current_user, service_id), status, app_form=form
        ),
    )


@bp.get("/services/<int:service_id>/app/versions/<int:number>")
@requires(Permission.SERVICE_VIEW, subject=VISIBLE_SERVICE)
def app_version(service_id: int, number: int):
    return _version_page(_app_service(), number)


@bp.post("/services/<int:service_id>/app/versions/<int:number>/submit")
@requires(Permission.SERVICE_VIEW, subject=VISIBLE_SERVICE)
def submit_app_version(service_id: int, number: int):
    item = _app_service()
    return submit(
        ConfirmForm(),
        lambda: versions.submit_version(current_user, item, number),
        done=_to_version(item, "Version {number} is submitted for staff's review."),
        again=refused,
    )


@bp.post("/services/<int:service_id>/app/versions/<int:number>/<decision>")
@requires(Permission.APP_REVIEW, subject=VISIBLE_SERVICE)
def review_app_version(service_id: int, number: int, decision: str):
    item = _app_service()
    form = ReviewForm()
    if decision == "approve":
        act = versions.approve_version
        message = "Version {number} is approved; it can be published."
    elif decision == "changes":
        act = versions.request_changes
        message = "Changes requested on version {number}."
    else:
        raise NotFound("Approve or ask for changes.")
    return submit(
        form,
        lambda: act(current_user, item, number, form.comment.data or ""),
        done=_to_version(item, message),
        again=lambda status, error: _version_page(item, number, status, form),
        field="comment",
    )


@bp.post("/services/<int:service_id>/app/versions/<int:number>/publish")
@requires(Permission.SERVICE_VIEW, subject=VISIBLE_SERVICE)
def publish_app_version(service_id: int, number: int):
    item = _app_service()
    return submit(
        ConfirmForm(),
        lambda: versions.publish_version(current_user, item, number),
        done=_to_version(
            item, "Version {number} is published; the operators' Chef converges it from there."
        ),
        again=refused,
    )


def dashboard_reviews(person) -> dict[str, Any] | None:
    """For staff's dashboard: the cookbook versions submitted and not reviewed yet."""
    total, rows = versions.waiting_review(person)
    return {"total": total, "rows": rows} if total else None
