"""Keyboard only (issue 15): the join flow and a DNS record's edit, done with Tab, Enter,
Space and typing; the focus is visible wherever it goes, and after a failed submit it
lands on what says what is wrong (the error summary, the field with its error)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from infrawg.extensions import db
from infrawg.membership.models import RosterEntry
from tests.browser.test_htmx_paths import dns_config, sign_in, tenant_with_dns

pytestmark = pytest.mark.browser

FOCUSED = "document.activeElement"


def focus_is_visible(page: Page) -> bool:
    """The focused element draws its focus ring (a real outline, not ``outline: none``)."""
    return page.evaluate(
        f"""() => {{
          const style = getComputedStyle({FOCUSED});
          return style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2;
        }}"""
    )


def tab_to(page: Page, selector: str, text: str | None = None, *, back: bool = False) -> None:
    """Press Tab (Shift+Tab with ``back``) until the focus is on ``selector`` (holding
    ``text``), checking on the way that every stop shows its focus."""
    for _ in range(80):
        page.keyboard.press("Shift+Tab" if back else "Tab")
        found = page.evaluate(
            """([selector, text]) => {
              const el = document.activeElement;
              return !!el && el.matches(selector) && (!text || el.textContent.includes(text));
            }""",
            [selector, text],
        )
        if found:
            assert focus_is_visible(page), f"no visible focus on {selector}"
            return
    raise AssertionError(f"Tab never reached {selector} {text or ''}")


def type_over(page: Page, text: str) -> None:
    """Replace the focused field's text, as a person does: select all, type."""
    page.keyboard.press("Control+A")
    page.keyboard.type(text)


@pytest.fixture
def live_config(smtp_server) -> dict:
    return {
        "MAIL_BACKEND": "smtp",
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": smtp_server.port,
        "MEMBERSHIP_VERIFIER": "roster",
    }


def test_the_join_flow_by_keyboard(live_site, page: Page, mailbox):
    with live_site.app.app_context():
        db.session.add(RosterEntry(email="grace@example.org"))
        db.session.commit()
    page.goto(f"{live_site.url}/join")

    # The skip link comes first and shows itself; Enter goes to the content.
    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_text("Skip to content")
    assert focus_is_visible(page)
    page.keyboard.press("Enter")

    tab_to(page, "#name")
    page.keyboard.type("Grace Hopper")
    tab_to(page, "#email")
    page.keyboard.type("grace@example.org")
    tab_to(page, "#password")
    page.keyboard.type("short")  # too short: the submit fails
    tab_to(page, "#foundation_member")
    page.keyboard.press("Space")
    tab_to(page, "button[type=submit]", "Apply for membership")
    page.keyboard.press("Enter")

    # Failed: the focus is on the error summary, which links to the field.
    summary = page.locator(".error-summary")
    expect(summary).to_be_focused()
    assert focus_is_visible(page)
    expect(summary).to_contain_text("Password")
    tab_to(page, ".error-summary a")
    page.keyboard.press("Enter")
    expect(page.locator("#password")).to_be_focused()
    page.keyboard.type("correct horse battery")
    tab_to(page, "button[type=submit]", "Apply for membership")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()

    mail = mailbox.wait_for("grace@example.org")
    link = re.search(r"http://\S+/join/confirm/\S+", mail.body).group(0)
    page.goto(link)
    tab_to(page, "button[type=submit]", "Confirm my email")
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{live_site.url}/dashboard")
    expect(page.locator("#membership-status .status")).to_have_text("Member")


class TestRecordEditing:
    @pytest.fixture
    def live_config(self, smtp_server, tmp_path) -> dict:
        return dns_config(smtp_server, tmp_path)

    def test_a_dns_record_is_edited_by_keyboard(self, live_site, page: Page):
        made = tenant_with_dns(live_site, zone="docs.example.org")
        sign_in(page, live_site.url, "tess@example.org")
        page.goto(f"{live_site.url}/services/{made['service']}")

        # A record added by keyboard: Tab into the form, type, Enter.
        tab_to(page, "#add-record input[name=name]")
        page.keyboard.type("www")
        tab_to(page, "#add-record textarea[name=values]")
        page.keyboard.type("192.0.2.10")
        tab_to(page, "#add-record button[type=submit]")
        page.keyboard.press("Enter")
        row = page.locator("#record-table tr", has_text="www.docs.example.org.")
        expect(row.locator("code")).to_have_text("192.0.2.10")

        # Its Edit link, then Enter: the row becomes a form and the focus is in it.
        tab_to(page, "a", "Edit www.docs.example.org. A")
        page.keyboard.press("Enter")
        ttl = page.locator("tr.editing input[name=ttl]")
        expect(ttl).to_be_focused()
        assert focus_is_visible(page)
        type_over(page, "soon")
        tab_to(page, "tr.editing button[type=submit]")
        page.keyboard.press("Enter")

        # Failed: the focus lands on the field whose message says what is wrong.
        values = page.locator("tr.editing textarea[name=values]")
        expect(values).to_be_focused()
        expect(values).to_have_attribute("aria-invalid", "true")
        described = values.get_attribute("aria-describedby")
        expect(page.locator(f"#{described}")).to_contain_text("TTL must be a whole number")

        tab_to(page, "tr.editing input[name=ttl]", back=True)
        type_over(page, "600")
        tab_to(page, "tr.editing textarea[name=values]")
        type_over(page, "192.0.2.12")
        tab_to(page, "tr.editing button[type=submit]")
        page.keyboard.press("Enter")
        expect(row.locator("code")).to_have_text("192.0.2.12")
        expect(row.locator("td").nth(2)).to_have_text("600")
        expect(page.locator("tr.editing")).to_have_count(0)
