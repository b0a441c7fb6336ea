"""The site served over real HTTP on a loopback port, on a database of its own.

Browser tests need a server in another thread, so they cannot share the rolled-back
transaction of the fast tests: each live site gets a fresh SQLite file, or a fresh
PostgreSQL database on the server INFRAWG_TEST_DATABASE_URL points at, built by the
migrations and dropped afterwards. The suite's own database is made the same way, so
runs on one server never meet.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from flask import Flask
from werkzeug.serving import make_server

from infrawg.extensions import db


@contextmanager
def fresh_database(base_url: str | None, tmp_dir: Path) -> Iterator[str]:
    """A URL of an empty database of the same kind as ``base_url`` (SQLite if None)."""
    if not base_url or base_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_dir / f'live-{secrets.token_hex(4)}.sqlite'}"
        return
    url = sa.make_url(base_url)
    name = f"infrawg_test_{secrets.token_hex(4)}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


class LiveSite:
    """``app`` served by werkzeug in a daemon thread; ``url`` is its base URL."""

    def __init__(self, app: Flask, host: str = "127.0.0.1") -> None:
        # ``host`` names the loopback server in ``url``: WebAuthn needs "localhost" (an
        # IP address cannot be a relying party id), the other tests keep 127.0.0.1.
        self.app = app
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://{host}:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> LiveSite:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=10)
        with self.app.app_context():
            db.engine.dispose()
