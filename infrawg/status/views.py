"""Pages of the status area: the status page, staff's notices, tenant members' notices."""

from __future__ import annotations

from flask import Response, abort, current_app, jsonify, request, url_for
from flask_login import current_user

from infrawg.errors import Invalid, NotAllowed
from infrawg.extensions import csrf, db
from infrawg.forms import ConfirmForm, options
from infrawg.policy import Permission, public, requires
from infrawg.provisioning.providers.monitoring import read_webhook
from infrawg.status import alerts, bp, service
from infrawg.status.forms import AllClearForm, NoticeForm, UpdateForm
from infrawg.status.models import NoticeKind
from infrawg.timeutil import utcnow
from infrawg.web import (
    attach_error,
    confirm_first,
    external_url,
    form_or_refused,
    paginate,
    redirect_after_post,
    refused,
    render,
    submit,
)


@bp.get("/status")
@public
def status_page():
    """Current and upcoming maintenance and incidents, by their public summaries only."""
    now = utcnow()
    notices = service.public_notices(now)
    return render(
        "status/status.html",
        current=[n for n in notices if n.is_open and n.starts_at <= now],
        upcoming=[n for n in notices if n.is_open and n.starts_at > now],
        resolved=[n for n in notices if not n.is_open],
    )


@bp.get("/status/<int:notice_id>.ics")
@public
def notice_ics(notice_id: int):
    """The notice's window for a calendar: in full for those told of it and staff, the
    public summary for everyone else (the same UID and SEQUENCE)."""
    notice = service.get_notice(notice_id)
    person = current_user if current_user.is_authenticated else None
    body = service.notice_calendar(
        notice,
        service.services_seen_by(person, notice),
        host=service.calendar_host(),
        now=utcnow(),
        link=external_url("status.status_page"),
    )
    response = Response(body, mimetype="text/calendar")
    response.headers["Content-Disposition"] = f'attachment; filename="notice-{notice.id}.ics"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/status/mine")
@requires(Permission.DASHBOARD_READ)
def mine():
    return render(
        "status/mine.html",
        "status/_mine_rows.html",
        notices=service.notices_for(current_user),
        form=ConfirmForm(),
    )


@bp.post("/status/notices/<int:notice_id>/acknowledge")
@requires(Permission.DASHBOARD_READ)
def acknowledge(notice_id: int):
    notice = service.get_notice(notice_id)

    def done(_: object):
        return redirect_after_post(
            url_for("status.mine"),
            "Thank you: acknowledged.",
            # htmx: the notice again, acknowledged
            swap=lambda: render(
                "status/_mine_notice.html",
                t=service.tenant_notice(current_user, service.get_notice(notice_id)),
            ),
        )

    return submit(
        ConfirmForm(),
        lambda: service.acknowledge(current_user, notice),
        done=done,
        again=refused,
    )


# Staff ---------------------------------------------------------------------------------


@bp.get("/status/notices")
@requires(Permission.NOTICE_MANAGE)
def notices():
    return render(
        "status/notices.html", "status/_notice_rows.html", page=paginate(service.notices())
    )


def _service_choices(form: NoticeForm) -> None:
    form.services.choices = options(
        (s.id, f"{s.organisation.name}: {s.name} ({s.state.label})")
        for s in service.affectable_services()
    )


def _input(form: NoticeForm) -> service.NoticeInput:
    return service.NoticeInput(
        kind=NoticeKind(form.kind.data),
        title=form.title.data or "",
        what=form.what.data or "",
        expected_impact=form.expected_impact.data or "",
        public_summary=form.public_summary.data or "",
        starts_at=form.starts_at.data,
        ends_at=form.ends_at.data,
        service_ids=form.services.data or [],
    )


@bp.route("/status/notices/new", methods=["GET", "POST"])
@requires(Permission.NOTICE_MANAGE)
def new_notice():
    form = NoticeForm()
    _service_choices(form)

    def show_form(status: int = 200):
        return render("status/new.html", status=status, form=form)

    if not form.is_submitted() or request.form.get("change"):
        return show_form()
    if not form.validate_on_submit():
        return show_form(422)

    def check_your_answers():
        try:
            data, audience = service.check_notice(current_user, _input(form))
        except Invalid as error:
            attach_error(form, error)
            return show_form(422)
        return render("status/check.html", form=form, data=data, audience=audience)

    if (asking := confirm_first(check_your_answers)) is not None:
        return asking
    return submit(
        form,
        lambda: service.announce(current_user, _input(form)).id,
        done=lambda notice_id: redirect_after_post(
            url_for("status.notice", notice_id=notice_id),
            "The notice is sent to the tenant members of the affected organisations.",
        ),
        again=form_or_refused(show_form),
    )


def _notice_page(notice, status: int = 200, **forms):
    forms.setdefault("update_form", UpdateForm())
    forms.setdefault("all_clear_form", AllClearForm())
    return render("status/notice.html", status=status, notice=notice, **forms)


@bp.get("/status/notices/<int:notice_id>")
@requires(Permission.NOTICE_MANAGE)
def notice(notice_id: int):
    return _notice_page(service.get_notice(notice_id))


@bp.post("/status/notices/<int:notice_id>/update")
@requires(Permission.NOTICE_MANAGE)
def post_update(notice_id: int):
    notice = service.get_notice(notice_id)
    form = UpdateForm()
    return submit(
        form,
        lambda: service.post_update(current_user, notice, form.body.data, form.ends_at.data),
        done=lambda _: redirect_after_post(
            url_for("status.notice", notice_id=notice_id),
            "The update is sent to the same tenant members.",
        ),
        again=form_or_refused(
            lambda status: _notice_page(service.get_notice(notice_id), status, update_form=form)
        ),
    )


@bp.post("/status/notices/<int:notice_id>/all-clear")
@requires(Permission.NOTICE_MANAGE)
def all_clear(notice_id: int):
    notice = service.get_notice(notice_id)
    form = AllClearForm()
    return submit(
        form,
        lambda: service.give_all_clear(current_user, notice, form.body.data),
        done=lambda _: redirect_after_post(
            url_for("status.notice", notice_id=notice_id),
            "The all-clear is sent; the notice is resolved.",
        ),
        again=form_or_refused(
            lambda status: _notice_page(service.get_notice(notice_id), status, all_clear_form=form)
        ),
    )


# -- the monitoring's alert webhook (R13, R5) -----------------------------------------------------


@bp.post("/status/alerts")
@public  # Alertmanager's bearer token is this route's check; without the setting it is 404
@csrf.exempt
def alert_webhook():
    token = current_app.config.get("ALERT_WEBHOOK_TOKEN")
    if not token:
        abort(404)
    try:
        notification = read_webhook(request.headers.get("Authorization"), request.get_data(), token)
    except NotAllowed as refusal:
        return jsonify(error=refusal.message), 401, {"WWW-Authenticate": 'Bearer realm="alerts"'}
    except Invalid as problem:
        return jsonify(error=problem.message), 400
    received = alerts.receive(notification)
    db.session.commit()
    return jsonify(
        opened=received.opened,
        resolved=received.resolved,
        unchanged=received.unchanged,
        ignored=received.ignored,
    )
