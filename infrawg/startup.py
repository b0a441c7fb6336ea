"""Configuration checked at start-up: refuse what cannot work, warn about what will surprise.

``check_configuration(app)`` runs in create_app (web processes, `flask infrawg worker`, every
command); ``worker_warnings`` runs in gunicorn's master (deploy/gunicorn.conf.py), the only
place that knows how many web processes there will be.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

log = logging.getLogger(__name__)

MIN_SECRET_KEY_LENGTH = 16


class ConfigurationError(RuntimeError):
    """The configuration cannot work; the message says which setting to change."""


def is_production(config: Mapping[str, Any], debug: bool = False) -> bool:
    """A real deployment: not a test, not the debugger, and served over https."""
    return (
        not config.get("TESTING")
        and not debug
        and str(config.get("BASE_URL", "")).startswith("https://")
    )


def _secret_key_was_generated(app: Flask) -> bool:
    path = Path(app.instance_path) / "secret_key"
    try:
        return path.read_text().strip() == app.config["SECRET_KEY"]
    except OSError:
        return False


def configuration_problems(app: Flask) -> tuple[list[str], list[str]]:
    """(refusals, warnings) for this app's configuration."""
    refusals: list[str] = []
    warnings: list[str] = []
    if not is_production(app.config, app.debug):
        return refusals, warnings
    # The development mail backend on an https site is refused where mail is configured
    # (infrawg/config.py, INFRAWG_ALLOW_OUTBOX), not here.
    if _secret_key_was_generated(app):
        warnings.append(
            "INFRAWG_SECRET_KEY is not set, so the key generated into "
            f"{Path(app.instance_path) / 'secret_key'} signs sessions and mailed links. That is "
            "fine for one server; with several web nodes set the same INFRAWG_SECRET_KEY on "
            "every node (or sign-ins and links from one node fail on the others)."
        )
    elif len(str(app.config["SECRET_KEY"])) < MIN_SECRET_KEY_LENGTH:
        refusals.append(
            f"INFRAWG_SECRET_KEY is shorter than {MIN_SECRET_KEY_LENGTH} characters; use a "
            'long random value, e.g. python3 -c "import secrets; print(secrets.token_urlsafe(48))"'
        )
    return refusals, warnings


def check_configuration(app: Flask) -> None:
    """Raise ConfigurationError for a configuration that cannot work; log the warnings."""
    refusals, warnings = configuration_problems(app)
    for message in warnings:
        log.warning("%s", message)
    if refusals:
        raise ConfigurationError("infrawg will not start:\n- " + "\n- ".join(refusals))


def worker_warnings(workers: int, environ: Mapping[str, str]) -> list[str]:
    """Warnings for gunicorn about to start ``workers`` web processes with this environment."""
    from infrawg.config import infrawg_settings

    url = str(infrawg_settings(environ)["DATABASE_URL"] or "sqlite:///instance/infrawg.sqlite")
    messages: list[str] = []
    if workers > 1 and url.startswith("sqlite"):
        messages.append(
            f"{workers} web workers share one SQLite file: every write takes the whole "
            "database, so busy pages queue behind each other. Set INFRAWG_DATABASE_URL to a "
            "PostgreSQL database (postgresql+psycopg://user@host/db) for production, or run "
            "one worker (WEB_CONCURRENCY=1)."
        )
    return messages
