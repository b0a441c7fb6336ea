"""One conformance test over every list backend (warehouse's verifyClass), by interface and by
behaviour, and the start-up refusals of a list backend that cannot work."""

from __future__ import annotations

import logging

import pytest

from infrawg import create_app, registry
from infrawg.errors import Invalid
from infrawg.membership.lists import ListBackend, build_list_backend
from tests.conftest import base_config
from tests.membership.conftest import LIST_ADDRESS

LIST_BACKENDS = registry.implementations("list")


@pytest.fixture(params=sorted(LIST_BACKENDS))
def backend(request, app) -> ListBackend:
    config = dict(app.config)
    if request.param == "mailman3":
        mailman = request.getfixturevalue("mailman")
        monkeypatch = request.getfixturevalue("monkeypatch")
        monkeypatch.setenv("INFRAWG_TEST_MAILMAN_PASSWORD", mailman.admin_password)
        config |= {
            "MAILMAN_URL": mailman.url,
            "MAILMAN_USER": mailman.admin_user,
            "MAILMAN_PASSWORD": "env:INFRAWG_TEST_MAILMAN_PASSWORD",
        }
    return build_list_backend(
        config | {"LIST_BACKEND": request.param, "LIST_ADDRESS": LIST_ADDRESS}
    )


@pytest.mark.parametrize("name", sorted(LIST_BACKENDS))
def test_every_list_backend_implements_the_interface(name):
    assert registry.verify_class(ListBackend, LIST_BACKENDS[name]) == []
    assert isinstance(LIST_BACKENDS[name].transactional, bool)


def test_every_list_backend_subscribes_and_unsubscribes_idempotently(backend):
    assert isinstance(backend.transactional, bool)
    assert backend.list_address == LIST_ADDRESS
    assert backend.members() == set()
    assert backend.waiting() == set()
    backend.subscribe("ada@example.org")
    backend.subscribe("ada@example.org")
    backend.subscribe("bob@example.org")
    assert backend.members() == {"ada@example.org", "bob@example.org"}
    backend.unsubscribe("ada@example.org")
    backend.unsubscribe("ada@example.org")
    backend.unsubscribe("never@example.org")
    assert backend.members() == {"bob@example.org"}
    backend.unsubscribe("bob@example.org")


def test_an_unknown_backend_or_a_literal_password_is_refused_when_built(app):
    with pytest.raises(RuntimeError, match="is not one of"):
        build_list_backend(dict(app.config) | {"LIST_BACKEND": "majordomo"})
    with pytest.raises(RuntimeError, match="INFRAWG_MAILMAN_URL"):
        build_list_backend(dict(app.config) | {"LIST_BACKEND": "mailman3"})
    with pytest.raises(Invalid, match="reference"):
        build_list_backend(
            dict(app.config)
            | {
                "LIST_BACKEND": "mailman3",
                "MAILMAN_URL": "http://127.0.0.1:1",
                "MAILMAN_PASSWORD": "hunter2",
            }
        )


@pytest.mark.parametrize(
    ("settings", "names"),
    [
        ({"LIST_BACKEND": "majordomo"}, ["INFRAWG_LIST_BACKEND='majordomo'", "log, mailman3"]),
        ({"LIST_BACKEND": "mailman3"}, ["INFRAWG_MAILMAN_URL"]),
        (
            {
                "LIST_BACKEND": "mailman3",
                "MAILMAN_URL": "http://127.0.0.1:1",
                "MAILMAN_PASSWORD": "hunter2",
            },
            ["INFRAWG_LIST_BACKEND", "reference"],
        ),
    ],
    ids=["unknown-backend", "no-mailman-url", "literal-password"],
)
def test_a_list_backend_that_cannot_work_stops_start_up(database_url, settings, names):
    with pytest.raises(registry.ConfigurationError) as refused:
        create_app(base_config(database_url) | settings)
    message = str(refused.value)
    assert message.startswith("infrawg will not start")
    for name in names:
        assert name in message
    assert "hunter2" not in message


def test_the_log_backend_warns_that_it_is_for_development(database_url, caplog, monkeypatch):
    # Alembic's fileConfig (the migrations of the session's database) disables loggers.
    monkeypatch.setattr(logging.getLogger("infrawg.registry"), "disabled", False)
    with caplog.at_level(logging.WARNING, logger="infrawg.registry"):
        create_app(base_config(database_url) | {"LIST_BACKEND": "log"})
    assert any("DEVELOPMENT LIST BACKEND" in r.getMessage() for r in caplog.records)
