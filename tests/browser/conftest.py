"""Browser tests: Debian's Chromium driven by Playwright against a live site."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.conftest import migrated_app
from tests.servers.live import LiveSite, fresh_database

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def live_config(smtp_server) -> dict:
    """The live site's settings; mail goes to the real SMTP server of the suite."""
    return {"MAIL_BACKEND": "smtp", "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp_server.port}


@pytest.fixture
def live_host() -> str:
    """The host name of the live site's URL (a module sets "localhost" for WebAuthn)."""
    return "127.0.0.1"


@pytest.fixture
def live_site(tmp_path, live_config, live_host, mailbox) -> Iterator[LiveSite]:
    with fresh_database(os.environ.get("INFRAWG_TEST_DATABASE_URL"), tmp_path) as url:
        app = migrated_app(url, **live_config)
        site = LiveSite(app, host=live_host)
        # Links in mail must point at this server.
        app.config["BASE_URL"] = site.url
        site.start()
        try:
            yield site
        finally:
            site.stop()


@pytest.fixture
def page(browser) -> Iterator[Page]:
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def chair_and_member():
    """Cleo Chair (the chair) and Mia Member, committed (inside the live site's app context)."""
    from infrawg.extensions import db
    from infrawg.governance.models import Role, RoleGrant
    from infrawg.membership.models import MembershipStatus, Person
    from tests.conftest import password_hash

    chair, member = (
        Person(
            name=name, email=email, password_hash=password_hash(), status=MembershipStatus.MEMBER
        )
        for name, email in (("Cleo Chair", "chair@example.org"), ("Mia Member", "mia@example.org"))
    )
    db.session.add_all([chair, member])
    db.session.flush()
    db.session.add(RoleGrant(person_id=chair.id, role=Role.CHAIR, authority="test"))
    db.session.commit()
    return chair, member


def enrol_totp(person_id: int) -> str:
    """Give the person an authenticator app (inside the live site's app context); its key."""
    import pyotp

    from infrawg.extensions import db
    from infrawg.membership.models import TotpFactor

    secret = pyotp.random_base32()
    db.session.add(TotpFactor(person_id=person_id, secret=secret, last_step=0))
    db.session.commit()
    return secret


def sign_in_with_totp(page: Page, url: str, email: str, secret: str) -> None:
    """Sign in through the forms: the password, then the authenticator app's code."""
    import pyotp
    from playwright.sync_api import expect

    from tests.conftest import PASSWORD

    page.goto(f"{url}/signin")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{url}/signin/two-factor")
    page.get_by_label("Code from your authenticator app, or a recovery code").fill(
        pyotp.TOTP(secret).now()
    )
    page.get_by_role("button", name="Confirm and sign in").click()
    expect(page).to_have_url(f"{url}/dashboard")
