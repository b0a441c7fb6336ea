"""Routes of a server's reboot and rebuild (see power.py): tenant members and staff."""

from __future__ import annotations

from flask import url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField
from wtforms.validators import DataRequired, Length

from infrawg.forms import ConfirmForm
from infrawg.policy import Permission, requires, route_subject
from infrawg.provisioning import bp
from infrawg.provisioning import service as services
from infrawg.provisioning.kinds.vm import power
from infrawg.provisioning.lifecycle import digest
from infrawg.provisioning.views import VISIBLE_SERVICE
from infrawg.web import redirect_after_post, refused, render, submit


class RebuildForm(FlaskForm):
    reviewed = HiddenField(validators=[DataRequired()])
    hostname = StringField(
        "Type the server's hostname to confirm", validators=[DataRequired(), Length(max=63)]
    )


@bp.post("/services/<int:service_id>/vm/reboot")
@requires(Permission.SERVICE_VIEW, subject=VISIBLE_SERVICE)
def vm_reboot(service_id: int):
    item = route_subject()
    return submit(
        ConfirmForm(),
        lambda: power.request_reboot(current_user, item),
        done=lambda queued: redirect_after_post(
            url_for("provisioning.service_page", service_id=service_id),
            f"{item.name} is rebooting (job #{queued.id}).",
        ),
        again=refused,
    )


def _rebuild_page(item, form: RebuildForm, status: int = 200):
    plan = power.rebuild_plan(current_user, item)
    form.reviewed.data = digest(plan)
    return render("provisioning/vm/rebuild.html", status=status, item=item, plan=plan, form=form)


@bp.get("/services/<int:service_id>/vm/rebuild")
@requires(Permission.SERVICE_VIEW, subject=VISIBLE_SERVICE)
def vm_rebuild_plan(service_id: int):
    return _rebuild_page(route_subject(), RebuildForm(formdata=None))


@bp.post("/services/<int:service_id>/vm/rebuild")
@requires(Permission.SERVICE_VIEW, subject=VISIBLE_SERVICE)
def vm_rebuild(service_id: int):
    # The rebuild page is the confirmation: the plan's digest and the hostname typed.
    item = route_subject()
    form = RebuildForm()
    return submit(
        form,
        lambda: power.request_rebuild(
            current_user, item, form.reviewed.data or "", form.hostname.data or ""
        ),
        done=lambda queued: redirect_after_post(
            url_for("provisioning.service_page", service_id=service_id),
            f"{item.name} is being rebuilt (job #{queued.id}).",
        ),
        # After the rollback the server is read again, as it is now.
        again=lambda status, error: _rebuild_page(
            services.get_service(current_user, service_id), form, status
        ),
        field="hostname",
    )
