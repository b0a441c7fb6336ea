"""infrawg: the site the Infra-WG runs to govern itself and its services."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: configuration, extensions, blueprints. Nothing runs at import."""
    from infrawg import cli, web
    from infrawg.config import build_config
    from infrawg.extensions import csrf, db, htmx, limiter, login_manager, mail, migrate, oauth
    from infrawg.governance import bp as governance_bp
    from infrawg.governance import views as _governance_views  # noqa: F401  (routes)
    from infrawg.membership import auth_bp
    from infrawg.membership import bp as membership_bp
    from infrawg.membership import views as _membership_views  # noqa: F401  (routes)
    from infrawg.membership.auth_views import load_user, register_oidc
    from infrawg.notices import bp as notices_bp
    from infrawg.notices import views as _notices_views  # noqa: F401  (routes)
    from infrawg.notices.mail import backend_for

    app = Flask(
        __name__,
        instance_relative_config=True,
        static_folder="../static",
        template_folder="../templates",
    )
    app.config.update(build_config(app.instance_path, config))

    db.init_app(app)
    migrate.init_app(app, db, directory=str(app.root_path + "/../migrations"))
    login_manager.init_app(app)
    login_manager.user_loader(load_user)
    mail.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    htmx.init_app(app)
    oauth.init_app(app)
    register_oidc(app)
    app.extensions["infrawg_mail_backend"] = backend_for(app.config["MAIL_BACKEND"])

    app.register_blueprint(membership_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(governance_bp)
    if app.config["MAIL_BACKEND"] == "outbox":
        app.register_blueprint(notices_bp)

    web.init_app(app)
    cli.init_app(app)
    return app
