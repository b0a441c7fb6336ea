"""Defaults and the INFRAWG_* environment, read when the app is built (never at import)."""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# Every setting a deployment may give, with its default; each reads INFRAWG_<NAME>.
# The README's configuration table lists these same names.
DEFAULTS: dict[str, Any] = {
    "SECRET_KEY": None,  # generated once into instance/secret_key when not given
    "DATABASE_URL": None,  # SQLite file in instance/ when not given
    "BASE_URL": "http://127.0.0.1:5000",
    # Outside systems are chosen here and built, and checked, at start-up (infrawg/registry.py).
    "MAIL_BACKEND": "smtp",  # smtp | outbox, or an infrawg.mail_backends entry point
    "MAIL_SERVER": "localhost",
    "MAIL_PORT": 25,
    "MAIL_USE_TLS": False,
    "MAIL_USERNAME": None,
    "MAIL_PASSWORD": None,
    "MAIL_DEFAULT_SENDER": "Infra-WG <infra@localhost>",
    "MAIL_TIMEOUT": 10,  # seconds to wait for the SMTP relay before the attempt fails
    "MAIL_SEND_AT_ONCE": True,  # the web process makes a mail's first delivery attempt itself
    "ALLOW_OUTBOX": False,  # let the development outbox run on an https INFRAWG_BASE_URL
    "MEMBERSHIP_VERIFIER": "approval",  # approval | roster
    "LIST_BACKEND": "log",  # log | mailman3, or an infrawg.list_backends entry point
    "LIST_ADDRESS": "infra@localhost",
    "MAILMAN_URL": None,  # Mailman 3 core's REST API, e.g. http://127.0.0.1:8001
    "MAILMAN_USER": "restadmin",
    "MAILMAN_PASSWORD": None,  # a secret reference: env:NAME or file:/path
    "MAILMAN_TIMEOUT": 10,  # seconds a call to Mailman may take
    "ANNOUNCE_ADDRESS": "announce@localhost",  # R15: where published goals are announced
    "RATELIMIT_STORAGE_URI": "memory://",
    "RATELIMIT_SIGNIN": "10 per minute",  # failed sign-ins per address
    "RATELIMIT_SIGNIN_ACCOUNT": "20 per hour",  # failed sign-ins per email, from anywhere
    "RATELIMIT_JOIN": "10 per hour",
    "RATELIMIT_RESET": "5 per hour",  # reset requests per address
    "RATELIMIT_RESET_ACCOUNT": "3 per hour",  # reset requests per email, from anywhere
    "RATELIMIT_CHECK_EMAIL": "30 per minute",  # live email checks of the join form
    "RATELIMIT_SECOND_FACTOR": "10 per hour",  # wrong second-factor attempts per account
    # Proxies in front of the site trusted for X-Forwarded-For/-Proto/-Host; 0: none.
    "PROXY_HOPS": 0,
    "TOKEN_MAX_AGE": 2 * 24 * 3600,  # seconds an emailed link stays valid
    "OIDC_DISCOVERY_URL": None,
    "OIDC_CLIENT_ID": None,
    "OIDC_CLIENT_SECRET": None,
    "OIDC_NAME": "OpenID Connect",
    "ARCHIVE_DIR": None,  # archive attachments on disk; instance/archive when not given
    "ARCHIVER_TOKEN": None,  # bearer token of the Mailman 3 archiver endpoint; unset: off
    # The service layer: provider instances as JSON (or a path to a JSON file), mapping a name
    # to the provider's settings; secrets only as env:/file: references. Unset: one `zonefile`
    # provider writing under instance/zones. Each is built at start-up: a bad one stops it.
    "PROVIDERS": None,
    "DNS_NAMESERVERS": "ns1.example.net.,ns2.example.net.",  # apex NS of new hosted zones
    "DNS_PARENT_SERVERS": None,  # host[:port],... to ask instead of the parent's own servers
    # VMs (R13), each a JSON object (or unset: the defaults of kinds/vm/catalogue.py).
    "VM_SIZES": None,  # {"small": {"label", "vcpus", "memory_mib", "disk_gib"}, ...}
    "VM_IMAGES": None,  # {"debian-12": {"label": "Debian 12 (bookworm)", "image": "<volume>"}}
    "VM_DOMAIN": "",  # the DNS domain of the VMs' FQDNs; empty: the hostname alone
    "VM_BACKUP": None,  # {"repository": ".../{organisation}", "password": "file:...", ...}
    "VM_MONITORING": None,  # {"provider", "address": "{fqdn}", "node_port", "ssh_port", ...}
    "REDIS_URL": None,  # set: jobs run on RQ workers over Redis
    "RQ_QUEUE": "infrawg",
    "EMBEDDED_WORKER": False,  # run jobs in a thread of the web process (make run)
    "JOB_LEASE": 60,  # seconds a running job is held without a heartbeat before another takes it
    # Seconds between the schedules' ticks of each worker (embedded, table or RQ); 0: workers
    # never tick and the timer's `flask infrawg tick` alone enqueues the scheduled runs.
    "TICK_INTERVAL": 60,
    "METRICS_TOKEN": None,  # bearer token of /metrics; unset: the endpoint is off (404)
    # Bearer token Alertmanager sends to POST /status/alerts (R13); unset: the endpoint is off.
    "ALERT_WEBHOOK_TOKEN": None,
    "LOG_LEVEL": "INFO",  # of the app's log (one line per request at INFO): DEBUG ... ERROR
}


def _coerce(default: Any, raw: str) -> Any:
    if isinstance(default, bool):
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(default, int):
        return int(raw)
    return raw


def infrawg_settings(environ: Mapping[str, str]) -> dict[str, Any]:
    """The INFRAWG_* settings: defaults overridden by the environment."""
    settings = dict(DEFAULTS)
    for name, default in DEFAULTS.items():
        raw = environ.get(f"INFRAWG_{name}")
        if raw is not None and raw != "":
            settings[name] = _coerce(default, raw)
    return settings


def _instance_secret_key(instance_path: Path) -> str:
    # Generated once so sessions survive restarts of a development server. Several processes
    # may start at once (gunicorn workers, the job worker): the key is written whole to a
    # private file and hard-linked into place, which only the first succeeds at, so every
    # process reads the same key and none reads a half-written file.
    path = instance_path / "secret_key"
    if not path.exists():
        fd, candidate = tempfile.mkstemp(dir=instance_path, prefix=".secret_key.")  # 0600
        try:
            with os.fdopen(fd, "w") as file:
                file.write(secrets.token_urlsafe(48))
            with contextlib.suppress(FileExistsError):  # another process got there first
                os.link(candidate, path)
        finally:
            os.unlink(candidate)
    return path.read_text().strip()


def _private_sqlite(path: Path) -> str:
    # SQLite creates the file through the umask (often 0644); made here first, empty and
    # 0600, it keeps that mode, and SQLite gives its -wal and -shm files the same one.
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        path.chmod(0o600)
    return f"sqlite:///{path}"


def engine_options(database_url: str) -> dict[str, Any]:
    """How the app connects: a restarted database costs no request, a dead one no hang."""
    # pool_pre_ping: a pooled connection the server dropped (restart, failover,
    # pg_terminate_backend) is replaced before the request uses it.
    options: dict[str, Any] = {"pool_pre_ping": True}
    if database_url.startswith("postgresql"):
        # An unreachable server fails the request in seconds (a 503), not minutes.
        options["connect_args"] = {"connect_timeout": 5}
    return options


def build_config(instance_path: str, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Flask configuration for one app: INFRAWG_* environment, then explicit overrides.

    Overrides use the INFRAWG names without the prefix (``DATABASE_URL``) or any Flask
    key (``TESTING``).
    """
    instance = Path(instance_path)
    if not instance.is_dir():
        # Secret key, SQLite database, archive and zones live here: the site's user only.
        instance.mkdir(parents=True, exist_ok=True)
        instance.chmod(0o700)
    settings = infrawg_settings(os.environ)
    settings.update(overrides or {})

    secret_key = settings["SECRET_KEY"] or _instance_secret_key(instance)
    database_url = settings["DATABASE_URL"] or _private_sqlite(instance / "infrawg.sqlite")
    archive_dir = settings["ARCHIVE_DIR"] or str(instance / "archive")
    https = str(settings["BASE_URL"]).startswith("https://")

    config = {
        **settings,
        "SECRET_KEY": secret_key,
        "ARCHIVE_DIR": archive_dir,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": engine_options(database_url),
        "MAIL_DEFAULT_SENDER": settings["MAIL_DEFAULT_SENDER"],
        "MAIL_SUPPRESS_SEND": settings["MAIL_BACKEND"] != "smtp",
        "RATELIMIT_STORAGE_URI": settings["RATELIMIT_STORAGE_URI"],
        "RATELIMIT_HEADERS_ENABLED": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": https,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": https,
        "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session
        "PREFERRED_URL_SCHEME": "https" if https else "http",
        "MAX_CONTENT_LENGTH": 64 * 1024 * 1024,
    }
    return config
