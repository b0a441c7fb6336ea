"""The development outbox page, and rate limits shared through Redis."""

from __future__ import annotations

import secrets

import pytest

from tests.conftest import PASSWORD, html


def test_outbox_page_shows_the_mail_with_a_working_link(client, people, staff):
    client.post(
        "/join",
        data={
            "name": "Grace",
            "email": "grace@example.org",
            "password": PASSWORD,
            "foundation_member": "y",
        },
    )
    page = html(people.sign_in(client.application.test_client(), staff).get("/dev/outbox"))
    mail = page.select_one("article.mail")
    assert mail.select_one("h2").text == "[Infra-WG] Confirm your email"
    assert "To grace@example.org" in mail.select_one(".meta").text
    link = mail.select_one("pre a")["href"]
    assert client.get(link.removeprefix("http://localhost")).status_code == 200


@pytest.mark.parametrize("app_config", [{"MAIL_BACKEND": "smtp"}])
def test_outbox_page_does_not_exist_when_mail_is_really_sent(client, app_config):
    assert client.get("/dev/outbox").status_code == 404


@pytest.mark.parametrize(
    "app_config",
    [
        {
            "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379",
            # A prefix of this test's own, so parallel runs on the same Redis never meet.
            "RATELIMIT_KEY_PREFIX": f"infrawg-test-{secrets.token_hex(4)}",
            "RATELIMIT_SIGNIN": "2 per minute",
        }
    ],
)
def test_sign_in_limit_is_shared_through_redis_between_app_instances(app, app_config, member):
    from infrawg import create_app
    from tests.conftest import base_config

    data = {"email": member.email, "password": "wrong password!"}
    assert app.test_client().post("/signin", data=data).status_code == 422
    assert app.test_client().post("/signin", data=data).status_code == 422
    # A second process of the site (another app on the same Redis) sees the same count.
    other = create_app(base_config(app.config["SQLALCHEMY_DATABASE_URI"]) | app_config)
    other.test_client_class = type(app.test_client())
    with other.app_context():
        assert other.test_client().post("/signin", data=data).status_code == 429
