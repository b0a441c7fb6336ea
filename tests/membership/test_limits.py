"""Rate limits per account and per address, proxies, and sign-in that tells nothing."""

from __future__ import annotations

import logging

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from infrawg import create_app
from infrawg.extensions import db
from infrawg.membership.models import AccountSession, Person
from tests.conftest import PASSWORD, base_config, outbox_to


def from_address(app, address):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def sign_in(client, email, password=PASSWORD, **kwargs):
    return client.post("/signin", data={"email": email, "password": password}, **kwargs)


@pytest.mark.parametrize("app_config", [{"RATELIMIT_SIGNIN_ACCOUNT": "3 per hour"}])
def test_failed_sign_ins_on_one_account_are_limited_from_every_address(app, member, app_config):
    for n in range(3):
        client = from_address(app, f"198.51.100.{n + 1}")
        assert sign_in(client, member.email, "wrong password!").status_code == 422
    # A fourth address, and even the right password: the account's limit is spent.
    assert sign_in(from_address(app, "198.51.100.9"), member.email.upper()).status_code == 429
    # Another account from the same address is not affected.
    other = from_address(app, "198.51.100.1")
    assert sign_in(other, "someone.else@example.org").status_code == 422


@pytest.mark.parametrize(
    "app_config", [{"RATELIMIT_SIGNIN": "2 per minute", "RATELIMIT_SIGNIN_ACCOUNT": "2 per hour"}]
)
def test_successful_sign_ins_count_against_no_one(app, member, app_config):
    client = from_address(app, "198.51.100.1")
    for _ in range(5):
        assert sign_in(client, member.email).status_code == 303
    # Both limits still have their full allowance for failures.
    assert sign_in(client, member.email, "wrong password!").status_code == 422
    assert sign_in(client, member.email, "wrong password!").status_code == 422
    assert sign_in(client, member.email, "wrong password!").status_code == 429


@pytest.mark.parametrize("app_config", [{"RATELIMIT_RESET_ACCOUNT": "2 per hour"}])
def test_password_reset_requests_for_one_email_are_limited_from_every_address(
    app, member, app_config
):
    for n in range(2):
        client = from_address(app, f"198.51.100.{n + 1}")
        assert client.post("/signin/reset", data={"email": member.email}).status_code == 200
    third = from_address(app, "198.51.100.3")
    assert third.post("/signin/reset", data={"email": member.email}).status_code == 429
    assert len(outbox_to(member.email)) == 2


@pytest.mark.parametrize("app_config", [{"RATELIMIT_CHECK_EMAIL": "3 per minute"}])
def test_live_email_check_of_the_join_form_is_rate_limited(client, member, app_config):
    for n in range(3):
        response = client.post("/join/check-email", data={"email": f"a{n}@example.org"}, htmx=True)
        assert response.status_code == 200
    response = client.post("/join/check-email", data={"email": member.email}, htmx=True)
    assert response.status_code == 429


@pytest.mark.parametrize(
    "app_config",
    [{"PROXY_HOPS": 1, "RATELIMIT_SIGNIN": "2 per minute", "RATELIMIT_SIGNIN_ACCOUNT": "99/hour"}],
)
def test_behind_a_configured_proxy_the_forwarded_address_counts(app, member, app_config):
    proxy = from_address(app, "10.0.0.2")
    one = {"X-Forwarded-For": "203.0.113.1"}
    for _ in range(2):
        assert sign_in(proxy, member.email, "wrong password!", headers=one).status_code == 422
    assert sign_in(proxy, member.email, "wrong password!", headers=one).status_code == 429
    # Another client behind the same proxy has its own allowance, and its session its address.
    other = {"X-Forwarded-For": "203.0.113.2"}
    assert sign_in(proxy, member.email, headers=other).status_code == 303
    record = db.session.scalar(select(AccountSession).where(AccountSession.person_id == member.id))
    assert record.address == "203.0.113.2"


@pytest.mark.parametrize(
    "app_config", [{"RATELIMIT_SIGNIN": "2 per minute", "RATELIMIT_SIGNIN_ACCOUNT": "99/hour"}]
)
def test_without_a_configured_proxy_forwarded_headers_do_not_escape_the_limit(
    app, member, app_config
):
    client = from_address(app, "198.51.100.1")
    for n in range(2):
        spoofed = {"X-Forwarded-For": f"203.0.113.{n}"}
        assert sign_in(client, member.email, "wrong password!", headers=spoofed).status_code == 422
    spoofed = {"X-Forwarded-For": "203.0.113.99"}
    assert sign_in(client, member.email, headers=spoofed).status_code == 429


def test_memory_rate_limit_storage_warns_at_start_up_outside_tests(database_url, caplog):
    with caplog.at_level(logging.WARNING):
        create_app(base_config(database_url) | {"TESTING": False})
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("INFRAWG_RATELIMIT_STORAGE_URI" in message for message in warnings), warnings

    caplog.clear()
    with caplog.at_level(logging.WARNING):
        create_app(base_config(database_url))  # TESTING: one process, on purpose
    assert not any("INFRAWG_RATELIMIT_STORAGE_URI" in r.getMessage() for r in caplog.records)


@pytest.fixture
def argon2_verifications(monkeypatch) -> list[str]:
    """Every Argon2 verification the site runs (it still runs: the real one is called)."""
    calls: list[str] = []
    real = PasswordHasher.verify

    def counting(self, hash, password):
        calls.append(hash)
        return real(self, hash, password)

    monkeypatch.setattr(PasswordHasher, "verify", counting)
    return calls


def test_sign_in_with_an_unknown_email_runs_the_same_argon2_verification(
    client, people, member, argon2_verifications
):
    no_password = people.make("Olga OIDC-only")
    db.session.get(Person, no_password.id).password_hash = None
    db.session.commit()

    assert sign_in(client, member.email, "wrong password!").status_code == 422
    assert sign_in(client, "nobody@example.org").status_code == 422
    assert sign_in(client, no_password.email).status_code == 422
    # One full Argon2 verification each, of a real Argon2id hash: no timing tells them apart.
    assert len(argon2_verifications) == 3
    assert all(h.startswith("$argon2id$") for h in argon2_verifications)
    assert argon2_verifications[1] != member.password_hash
