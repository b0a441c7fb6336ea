"""The development outbox holds reset and confirmation links: staff and the chair only, a loud
warning on the page, and no https site starts with it unless forced."""

from __future__ import annotations

import re

import pyotp
import pytest

from infrawg import create_app
from tests.conftest import PASSWORD, base_config, html, link_in

JOIN = {
    "name": "Grace Hopper",
    "email": "grace@example.org",
    "password": PASSWORD,
    "foundation_member": "y",
}


def test_the_dev_outbox_is_closed_to_anyone_but_staff_and_the_chair(
    app, client, people, member, tenant_member, staff, chair
):
    client.post("/signin/reset", data={"email": chair.email})
    # Anyone could read the chair's reset link here before: not any more.
    assert client.get("/dev/outbox").status_code == 302
    for outsider in (member, tenant_member):
        assert people.sign_in(app.test_client(), outsider).get("/dev/outbox").status_code == 403
    for insider in (staff, chair):
        page = html(people.sign_in(app.test_client(), insider).get("/dev/outbox"))
        warning = page.select_one("#development-warning")
        assert "Development mail backend: nothing is sent." in warning.text
        assert warning["role"] == "alert"
        assert page.select_one("article.mail h2").text == "[Infra-WG] Reset your password"


def test_the_site_refuses_to_start_with_the_outbox_on_an_https_base_url(database_url):
    https = base_config(database_url) | {"BASE_URL": "https://infra.example.org"}
    with pytest.raises(RuntimeError, match="INFRAWG_ALLOW_OUTBOX=1") as refused:
        create_app(https | {"MAIL_BACKEND": "outbox"})
    assert "development mail backend" in str(refused.value)
    # Forced on purpose, or with real mail, it starts.
    assert create_app(https | {"MAIL_BACKEND": "outbox", "ALLOW_OUTBOX": True})
    assert create_app(https | {"MAIL_BACKEND": "smtp"})


def test_the_site_refuses_the_outbox_from_the_environment_too(database_url, monkeypatch):
    monkeypatch.setenv("INFRAWG_BASE_URL", "https://infra.example.org")
    monkeypatch.setenv("INFRAWG_MAIL_BACKEND", "outbox")
    config = {k: v for k, v in base_config(database_url).items() if k != "BASE_URL"}
    config.pop("MAIL_BACKEND")
    with pytest.raises(RuntimeError, match="INFRAWG_ALLOW_OUTBOX"):
        create_app(config)
    monkeypatch.setenv("INFRAWG_ALLOW_OUTBOX", "1")
    assert create_app(config)


def test_a_newcomer_reads_the_outbox_after_signing_in_as_the_demo_staff_member(app, runner):
    result = runner.invoke(args=["infrawg", "demo"])
    assert result.exit_code == 0, result.output
    password = re.search(r"password \(shown only now\):\s+(\S+)", result.output).group(1)
    assert "staff1@example.org" in result.output

    newcomer = app.test_client()
    assert newcomer.post("/join", data=JOIN).status_code == 200
    assert newcomer.get("/dev/outbox").status_code == 302
    demo_staff = app.test_client()
    signed_in = demo_staff.post(
        "/signin", data={"email": "staff1@example.org", "password": password}
    )
    assert signed_in.status_code in (302, 303)
    # The demo staff member's second factor: the code of the key the demo printed.
    secret = re.search(r"authenticator-app\n.*\n.*\):\n\s+([A-Z2-7]+)\n", result.output).group(1)
    code = pyotp.TOTP(secret).now()
    assert demo_staff.post("/signin/two-factor", data={"code": code}).status_code == 303
    mail = html(demo_staff.get("/dev/outbox")).select_one("article.mail")
    assert mail.select_one("h2").text == "[Infra-WG] Confirm your email"
    link = link_in(mail.select_one("pre").text, "/join/confirm/")
    assert newcomer.post(link, follow_redirects=True).status_code == 200
