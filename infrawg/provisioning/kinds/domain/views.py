"""The domain kind's routes (R10): payment, asking the board, the board's decision and its
queue, the staff's record of the registrar task, and renewal. They answer with the generic
service page (the board's with its queue: the board does not see tenants' services)."""

from __future__ import annotations

from flask import url_for
from flask_login import current_user

from infrawg.errors import NotFound
from infrawg.extensions import db
from infrawg.forms import ConfirmForm
from infrawg.policy import Permission, requires, route_subject
from infrawg.provisioning import bp, service
from infrawg.provisioning.kinds.domain import registrations
from infrawg.provisioning.kinds.domain.forms import (
    BoardDecisionForm,
    FoundationForm,
    PaymentForm,
    TaskDoneForm,
)
from infrawg.provisioning.models import Service
from infrawg.provisioning.views import VISIBLE_SERVICE, _service_page
from infrawg.web import redirect_after_post, refused, render, submit


def _back(service_id: int, message: str | None = None):
    target = url_for("provisioning.service_page", service_id=service_id)
    return redirect_after_post(target, message) if message else redirect_after_post(target)


def _again(service_id: int, **forms):
    return lambda status, error: _service_page(
        service.get_service(current_user, service_id), status, **forms
    )


@bp.post("/services/<int:service_id>/domain/payment")
@requires(Permission.SERVICE_VIEW, subject=VISIBLE_SERVICE)
def domain_payment(service_id: int):
    item = route_subject()
    form = PaymentForm()
    return submit(
        form,
        lambda: registrations.record_payment(
            current_user,
            item,
            form.paid_by.data or "",
            form.payment_method.data or "",
            form.payment_reference.data or "",
        ),
        done=lambda _: _back(service_id, "The payment is recorded."),
        again=_again(service_id, payment_form=form),
        field="paid_by",
    )


@bp.post("/services/<int:service_id>/domain/foundation")
@requires(Permission.SERVICE_VIEW, subject=VISIBLE_SERVICE)
def domain_ask_foundation(service_id: int):
    item = route_subject()
    form = FoundationForm()
    return submit(
        form,
        lambda: registrations.ask_foundation(current_user, item, form.reason.data or ""),
        done=lambda _: _back(service_id, "The board is asked whether the foundation pays."),
        again=_again(service_id, foundation_form=form),
        field="reason",
    )


@bp.post("/services/<int:service_id>/domain/task")
@requires(Permission.SERVICE_VIEW, subject=VISIBLE_SERVICE)
def domain_task_done(service_id: int):
    item = route_subject()
    form = TaskDoneForm()
    return submit(
        form,
        lambda: registrations.record_task_done(
            current_user, item, form.expires_on.data or "", form.registrar.data or ""
        ),
        done=lambda _: _back(service_id, "The registrar task is recorded."),
        again=_again(service_id, task_form=form),
        field="expires_on",
    )


@bp.post("/services/<int:service_id>/domain/renew")
@requires(Permission.SERVICE_VIEW, subject=VISIBLE_SERVICE)
def domain_renew(service_id: int):
    item = route_subject()
    return submit(
        ConfirmForm(),
        lambda: registrations.request_renewal(current_user, item),
        done=lambda queued: _back(service_id, f"The renewal is under way (job #{queued.id})."),
        again=refused,
    )


# -- the board (R10) -----------------------------------------------------------------------------


def _board_page(status: int = 200, **extra):
    forms = {r.service_id: BoardDecisionForm(formdata=None) for r in registrations.board_queue()}
    forms.update(extra.pop("forms", {}))
    return render(
        "provisioning/domain/board.html",
        status=status,
        waiting=registrations.board_queue(),
        forms=forms,
        **extra,
    )


@bp.get("/services/domains/board")
@requires(Permission.DOMAIN_PAYMENT_DECIDE)
def domain_board_queue():
    return _board_page()


@bp.post("/services/<int:service_id>/domain/board")
@requires(Permission.DOMAIN_PAYMENT_DECIDE)
def domain_board_decide(service_id: int):
    item = db.session.get(Service, service_id)
    if item is None:
        raise NotFound("No such service.")
    form = BoardDecisionForm()
    return submit(
        form,
        lambda: registrations.board_decide(
            current_user, item, form.decision.data == "approve", form.resolution.data or ""
        ),
        done=lambda r: redirect_after_post(
            url_for("provisioning.domain_board_queue"),
            f"The board's decision on {r.domain} is recorded.",
        ),
        again=lambda status, error: _board_page(status, forms={service_id: form}),
        field="resolution",
    )
