"""One conformance test over every list backend (warehouse's verifyClass, by behaviour)."""

from __future__ import annotations

import pytest

from infrawg.membership.lists import BACKENDS, ListBackend, build_list_backend
from tests.membership.conftest import LIST_ADDRESS


@pytest.fixture(params=sorted(BACKENDS))
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


def test_an_unknown_backend_or_a_literal_password_stops_the_app_from_starting(app):
    with pytest.raises(RuntimeError, match="is not one of"):
        build_list_backend(dict(app.config) | {"LIST_BACKEND": "majordomo"})
    with pytest.raises(RuntimeError, match="INFRAWG_MAILMAN_URL"):
        build_list_backend(dict(app.config) | {"LIST_BACKEND": "mailman3"})
    from infrawg.errors import Invalid

    with pytest.raises(Invalid, match="reference"):
        build_list_backend(
            dict(app.config)
            | {
                "LIST_BACKEND": "mailman3",
                "MAILMAN_URL": "http://127.0.0.1:1",
                "MAILMAN_PASSWORD": "hunter2",
            }
        )
