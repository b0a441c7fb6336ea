"""R2 in a real browser: join, open the link from the mail received over SMTP, see the dashboard."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from infrawg.extensions import db
from infrawg.membership.models import RosterEntry

pytestmark = pytest.mark.browser


@pytest.fixture
def live_config(smtp_server) -> dict:
    return {
        "MAIL_BACKEND": "smtp",
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": smtp_server.port,
        "MEMBERSHIP_VERIFIER": "roster",
    }


def test_r2_join_confirm_from_mail_and_reach_member_dashboard(live_site, page: Page, mailbox):
    with live_site.app.app_context():
        db.session.add(RosterEntry(email="grace@example.org"))
        db.session.commit()

    page.goto(f"{live_site.url}/join")
    page.get_by_label("Your name").fill("Grace Hopper")
    page.get_by_label("Email").fill("grace@example.org")
    page.get_by_label("Password (at least 10 characters)").fill("correct horse battery")
    page.get_by_label("I am a member of the foundation").check()
    page.get_by_role("button", name="Apply for membership").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()

    mail = mailbox.wait_for("grace@example.org")
    assert mail.subject == "[Infra-WG] Confirm your email"
    link = re.search(r"http://\S+/join/confirm/\S+", mail.body).group(0)
    assert link.startswith(live_site.url)

    page.goto(link)
    page.get_by_role("button", name="Confirm my email").click()
    expect(page).to_have_url(f"{live_site.url}/dashboard")
    expect(page.locator("#membership-status .status")).to_have_text("Member")
    expect(page.get_by_role("heading", name="For members")).to_be_visible()
