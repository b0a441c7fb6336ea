"""Two-factor sign-in in a real browser: the chair registers a security key (a CDP virtual
authenticator in Chromium) when the site asks for a second factor, signs in with it, and
answers the re-check of a privileged act with it.

The site is served on http://localhost:PORT: WebAuthn's relying party id is a host name
(never an IP address) and http is allowed only for localhost.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from infrawg.actions import Action
from infrawg.audit import AuditEvent
from infrawg.extensions import db
from infrawg.governance.models import Role, RoleGrant
from infrawg.membership.models import AccountSession, SecurityKey
from infrawg.timeutil import utcnow
from tests.browser.conftest import chair_and_member
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
def live_host() -> str:
    return "localhost"


def virtual_authenticator(page: Page) -> str:
    """A CTAP2 USB security key that answers at once (user presence simulated)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    added = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "usb",
                "hasResidentKey": False,
                "hasUserVerification": False,
                "automaticPresenceSimulation": True,
            }
        },
    )
    page.virtual_cdp = cdp  # type: ignore[attr-defined]  (kept alive with the page)
    return added["authenticatorId"]


def password_step(page: Page, url: str, email: str) -> None:
    page.goto(f"{url}/signin")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_chair_registers_a_security_key_and_signs_in_with_it(live_site, page: Page):
    url = live_site.url
    assert url.startswith("http://localhost:")
    with live_site.app.app_context():
        chair, mia = chair_and_member()
        chair_id, mia_id = chair.id, mia.id
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    authenticator = virtual_authenticator(page)

    # No second factor yet: the site asks for one, and the chair's queue stays closed.
    password_step(page, url, "chair@example.org")
    expect(page).to_have_url(f"{url}/account/two-factor")
    expect(page.locator("#second-factor-required")).to_be_visible()
    assert page.goto(f"{url}/chair").status == 403

    page.goto(f"{url}/account/two-factor")
    page.get_by_role("link", name="Add a security key").click()
    page.get_by_label("A name for the key").fill("Blue key")
    page.get_by_role("button", name="Register the security key").click()
    expect(page.locator("#recovery-codes code")).to_have_count(10)
    credentials = page.virtual_cdp.send(  # type: ignore[attr-defined]
        "WebAuthn.getCredentials", {"authenticatorId": authenticator}
    )["credentials"]
    assert len(credentials) == 1
    assert page.goto(f"{url}/chair").status == 200

    # Signed out, then in again: the password, then the key.
    page.goto(f"{url}/dashboard")
    # Sign out is in the account menu (behind the Menu button on a narrow window).
    if page.locator("summary.menu-button").is_visible():
        page.locator("summary.menu-button").click()
    page.locator("nav summary", has_text="Account menu of").click()
    page.get_by_role("button", name="Sign out").click()
    password_step(page, url, "chair@example.org")
    expect(page).to_have_url(f"{url}/signin/two-factor")
    page.get_by_role("button", name="Use your security key").click()
    expect(page).to_have_url(f"{url}/dashboard")
    assert page.goto(f"{url}/chair").status == 200

    # 16 minutes later, granting staff status asks for the key again, then goes ahead.
    with live_site.app.app_context():
        for record in db.session.scalars(select(AccountSession)):
            record.second_factor_at = utcnow() - timedelta(minutes=16)
        db.session.commit()
    page.get_by_label("Email of the member").fill("mia@example.org")
    page.get_by_label("Reason for the grant").fill("Runs our DNS")
    page.get_by_role("button", name="Grant staff status").click()
    expect(page.locator("#recheck-heading")).to_have_text("Confirm it is you")
    page.get_by_role("button", name="Use your security key").click()
    expect(page.locator(".flash")).to_contain_text("Staff status granted")
    assert not [e for e in errors if "Content Security Policy" in e], errors
    with live_site.app.app_context():
        assert db.session.scalar(
            select(RoleGrant).where(RoleGrant.person_id == mia_id, RoleGrant.role == Role.STAFF)
        )

    with live_site.app.app_context():
        key = db.session.scalar(select(SecurityKey).where(SecurityKey.person_id == chair_id))
        assert key.name == "Blue key" and key.last_used_at is not None
        assert key.credential_id == credentials[0]["credentialId"].rstrip("=").replace(
            "+", "-"
        ).replace("/", "_")
        record = db.session.scalar(
            select(AccountSession).where(AccountSession.person_id == chair_id)
        )
        assert utcnow() - record.second_factor_at < timedelta(minutes=1)
        actions = set(db.session.scalars(select(AuditEvent.action)))
        assert Action.TWOFACTOR_SECURITY_KEY_ADDED in actions
