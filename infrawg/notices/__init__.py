"""Notices: mail to people, its delivery, and (in development) the outbox that shows it."""

from __future__ import annotations

from flask import Blueprint, Flask

# The development outbox, registered only when INFRAWG_MAIL_BACKEND=outbox.
bp = Blueprint("notices", __name__)
# Staff's view of mail that has not reached the relay yet; always there.
mail_bp = Blueprint("mail", __name__)


def init_app(app: Flask) -> None:
    """Staff's mail queue, and the outbox when mail stays on the site."""
    # Imported here, not at the top: importing the package (for its mail) loads no views.
    from infrawg import web
    from infrawg.notices import views  # noqa: F401  (the blueprints' routes)
    from infrawg.policy import Permission
    from infrawg.ui import NavGroup, NavLink

    app.register_blueprint(mail_bp)
    mail_read = web.permitted(Permission.MAIL_READ)
    if app.config["MAIL_BACKEND"] == "outbox":
        app.register_blueprint(bp)
        web.add_nav_link(app, NavLink(NavGroup.SITE, "Outbox (dev)", "notices.outbox", mail_read))
    else:
        web.add_nav_link(app, NavLink(NavGroup.SITE, "Mail", "mail.undelivered", mail_read))
