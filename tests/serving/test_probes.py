"""/healthz and /readyz: cheap, unauthenticated, and they say nothing but ok or not."""

from __future__ import annotations

import logging

import pytest
import sqlalchemy as sa

from infrawg import create_app
from tests.conftest import base_config

# A port nothing listens on: connections are refused at once.
UNREACHABLE_POSTGRESQL = "postgresql+psycopg://postgres@127.0.0.1:1/nothing"
UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"
LEAKS = ("psycopg", "sqlalchemy", "redis", "127.0.0.1", "Traceback", "Error", "version")


def assert_says_nothing_else(response, body: str) -> None:
    assert response.get_data(as_text=True) == body
    assert response.mimetype == "text/plain"
    assert response.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in response.headers
    text = response.get_data(as_text=True) + str(response.headers)
    assert not [leak for leak in LEAKS if leak in text]


def test_healthz_answers_ok_to_anyone(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert_says_nothing_else(response, "ok\n")


def test_readyz_is_ready_when_the_database_answers(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert_says_nothing_else(response, "ready\n")


@pytest.fixture
def app_without_database():
    """The app on a PostgreSQL server that is not there."""
    app = create_app(base_config(UNREACHABLE_POSTGRESQL))
    yield app
    with app.app_context():
        from infrawg.extensions import db

        db.engine.dispose()


def test_healthz_does_not_touch_the_database(app_without_database):
    queries = []
    with app_without_database.app_context():
        from infrawg.extensions import db

        sa.event.listen(db.engine, "before_cursor_execute", lambda *a: queries.append(a))
    response = app_without_database.test_client().get("/healthz")
    assert response.status_code == 200
    assert queries == []


def test_readyz_is_503_without_the_database_and_does_not_say_why(
    app_without_database, caplog, monkeypatch
):
    # Alembic's logging setup (the suite's migrations) disables loggers that existed before it.
    monkeypatch.setattr(logging.getLogger("infrawg.serving"), "disabled", False)
    response = app_without_database.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert_says_nothing_else(response, "not ready\n")
    # The reason goes to the operator's log instead.
    assert "the database is not reachable" in caplog.text


@pytest.mark.parametrize("setting", ["REDIS_URL", "RATELIMIT_STORAGE_URI"])
def test_readyz_is_503_when_a_configured_redis_is_down(app, setting):
    app.config[setting] = UNREACHABLE_REDIS
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert_says_nothing_else(response, "not ready\n")


def test_readyz_checks_a_configured_redis_that_answers(app):
    app.config["REDIS_URL"] = "redis://127.0.0.1:6379/0"
    response = app.test_client().get("/readyz")
    assert response.status_code == 200


def test_every_response_carries_a_request_id_and_keeps_a_sane_one_from_the_proxy(client):
    first = client.get("/healthz").headers["X-Request-Id"]
    second = client.get("/no/such/page").headers["X-Request-Id"]
    assert len(first) == 32 and first != second
    proxied = client.get("/", headers={"X-Request-Id": "a1b2c3d4e5f60718"})
    assert proxied.headers["X-Request-Id"] == "a1b2c3d4e5f60718"
    # One that could forge a log line is replaced.
    forged = client.get("/", headers={"X-Request-Id": 'abcdefgh" rid=forged-entry'})
    assert "forged" not in forged.headers["X-Request-Id"]
