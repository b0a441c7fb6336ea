"""R3 in a real browser: the chair grants a staff request inline (htmx swaps the row)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from infrawg.extensions import db
from infrawg.governance.models import StaffRequest
from tests.browser.conftest import chair_and_member, enrol_totp, sign_in_with_totp

pytestmark = pytest.mark.browser


def test_r3_the_chair_grants_a_staff_request_inline(live_site, page: Page, mailbox):
    with live_site.app.app_context():
        chair, member = chair_and_member()
        request = StaffRequest(person_id=member.id, motivation="I run DNS at work.")
        db.session.add(request)
        db.session.commit()
        row_id = f"#staff-request-{request.id}"
        secret = enrol_totp(chair.id)  # the chair's powers need a second factor

    sign_in_with_totp(page, live_site.url, "chair@example.org", secret)
    # The queue is in the menu of its area, opened from the navigation.
    page.locator("nav summary", has_text="People and organisations").click()
    page.get_by_role("link", name="Chair's queue").click()
    expect(page.locator("#nav-chair-queue .count")).to_have_text("1")

    # A marker on the page survives only if the row is swapped in place, not reloaded.
    page.evaluate("window.infrawgMarker = 'still here'")
    row = page.locator(row_id)
    row.get_by_label("Reason (sent to Mia Member; required to decline)").fill("Welcome aboard")
    row.get_by_role("button", name="Grant staff status to Mia Member").click()

    expect(page.locator(f"{row_id} .status")).to_have_text("Granted")
    assert page.evaluate("window.infrawgMarker") == "still here"
    assert page.url == f"{live_site.url}/chair"
    mail = mailbox.wait_for("mia@example.org")
    assert mail.subject == "[Infra-WG] Your request for staff status was granted"
    assert "Welcome aboard" in mail.body
