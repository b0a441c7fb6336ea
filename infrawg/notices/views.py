"""The development outbox (outbox backend only) and staff's page of undelivered mail."""

from __future__ import annotations

from flask import url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from infrawg.extensions import db
from infrawg.forms import ConfirmForm
from infrawg.notices import bp, mail_bp
from infrawg.notices.mail import retry_mail
from infrawg.notices.models import UNDELIVERED, MailState, OutboxMail
from infrawg.policy import Permission, requires
from infrawg.web import incomplete_form, paginate, redirect_after_post, render


@bp.get("/dev/outbox")
@requires(Permission.MAIL_READ)
def outbox():
    # Reset and confirmation links are in here: staff and the chair only, never the public.
    page = paginate(
        select(OutboxMail)
        .where(OutboxMail.state == MailState.DEVELOPMENT)
        .options(selectinload(OutboxMail.attachments))
        .order_by(OutboxMail.id.desc()),
        per_page=20,
    )
    return render("notices/outbox.html", page=page)


@mail_bp.get("/staff/mail")
@requires(Permission.MAIL_READ)
def undelivered():
    page = paginate(
        select(OutboxMail)
        .where(OutboxMail.state.in_(UNDELIVERED))
        .options(selectinload(OutboxMail.job))
        .order_by(OutboxMail.id),
        per_page=50,
    )
    return render("notices/undelivered.html", page=page, form=ConfirmForm())


@mail_bp.post("/staff/mail/<int:mail_id>/retry")
@requires(Permission.MAIL_RETRY)
def retry(mail_id: int):
    ConfirmForm().validate_on_submit() or incomplete_form()
    retry_mail(current_user, mail_id)
    db.session.commit()
    return redirect_after_post(url_for(".undelivered"), f"Mail #{mail_id} is being sent again.")
