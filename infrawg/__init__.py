"""infrawg: the site the Infra-WG runs to govern itself and its services."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

# One sub-package per area, each registering itself with init_app(app), in this order.
AREAS = (
    "jobs",
    "membership",
    "governance",
    "tenants",
    "provisioning",
    "archives",
    "surveys",
    "status",
)


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: configuration, extensions, blueprints. Nothing runs at import."""
    from importlib import import_module

    from infrawg import aftercommit, cli, notices, registry, serving, startup, styleguide, web
    from infrawg.config import build_config
    from infrawg.extensions import csrf, db, htmx, init_limiter, login_manager, mail, migrate
    from infrawg.notices import mail as notices_mail

    app = Flask(
        __name__,
        instance_relative_config=True,
        static_folder="../static",
        template_folder="../templates",
    )
    app.config.update(build_config(app.instance_path, config))
    if app.config["PROXY_HOPS"] > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        # Only the trusted proxies' X-Forwarded-* headers count; without them a client
        # could pick its own address (and its own rate-limit bucket).
        hops = app.config["PROXY_HOPS"]
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops
        )
    startup.check_configuration(app)

    db.init_app(app)
    aftercommit.install()
    migrate.init_app(app, db, directory=str(app.root_path + "/../migrations"))
    login_manager.init_app(app)
    mail.init_app(app)
    csrf.init_app(app)
    init_limiter(app)
    htmx.init_app(app)
    # Mail, the mailing list and the providers, built once; a bad setting stops start-up here.
    registry.init_app(app)
    notices_mail.init_app(app)

    # The `flask infrawg` group first: each area adds its commands to it.
    cli.init_app(app)
    for area in AREAS:
        # Each area registers itself: blueprint, nav counts, jobs, commands, and the
        # handlers of the other areas' signals it reacts to.
        import_module(f"infrawg.{area}").init_app(app)
    notices.init_app(app)
    styleguide.init_app(app)

    web.init_app(app)
    serving.init_app(app)
    return app
