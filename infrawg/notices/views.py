"""The development outbox: registered only when INFRAWG_MAIL_BACKEND=outbox."""

from __future__ import annotations

from sqlalchemy import select

from infrawg.notices import bp
from infrawg.notices.models import OutboxMail
from infrawg.policy import public
from infrawg.web import paginate, render


@bp.get("/dev/outbox")
@public
def outbox():
    page = paginate(select(OutboxMail).order_by(OutboxMail.id.desc()), per_page=20)
    return render("notices/outbox.html", page=page)
