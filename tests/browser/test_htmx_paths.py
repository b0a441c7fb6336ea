"""The htmx paths in a real browser (infrawg/fragments.py): each htmx form, once succeeding
(the flash shows, the page and its URL are right) and once failing (an inline error with
its message, in place; the control works again once corrected); a nav count follows an
inline act."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from infrawg.extensions import db
from infrawg.governance.models import StaffRequest
from infrawg.membership.models import MembershipStatus, Person
from infrawg.provisioning.models import Service, ServiceState
from tests.browser.conftest import chair_and_member, enrol_totp, sign_in_with_totp
from tests.conftest import PASSWORD, make_organisation, password_hash

pytestmark = pytest.mark.browser


def dns_config(smtp_server, tmp_path: Path) -> dict:
    """The live site's settings: mail over SMTP, zone files of this test only."""
    return {
        "MAIL_BACKEND": "smtp",
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": smtp_server.port,
        "PROVIDERS": {
            "zonefile": {
                "directory": str(tmp_path / "zones"),
                "key_directory": str(tmp_path / "zone-keys"),
            }
        },
        "DNS_NAMESERVERS": "ns1.example.net.,ns2.example.net.",
    }


@pytest.fixture
def live_config(smtp_server, tmp_path: Path) -> dict:
    return dns_config(smtp_server, tmp_path)


def sign_in(page: Page, url: str, email: str) -> None:
    page.goto(f"{url}/signin")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{url}/dashboard")


def watch_errors(page: Page) -> list[str]:
    """Console errors and htmx's own complaints (htmx:targetError) while the test runs."""
    errors: list[str] = []
    # The browser logs each 4xx answer ("Failed to load resource"): those are expected.
    page.on(
        "console",
        lambda m: (
            errors.append(m.text)
            if m.type == "error" and "Failed to load resource" not in m.text
            else None
        ),
    )
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.add_init_script(
        "document.addEventListener('htmx:targetError', () => console.error('htmx:targetError'));"
    )
    return errors


def tenant_with_dns(live_site, zone: str | None = None) -> dict[str, int]:
    """Tess Tenant of Docs WG, the catalogue's DNS hosting (zone files), the chair; with
    ``zone``, that zone requested, approved and provisioned. Ids of what was made."""
    from infrawg.jobs import runner as jobs
    from infrawg.provisioning import service
    from infrawg.provisioning.models import ServiceType

    with live_site.app.app_context():
        chair, _member = chair_and_member()
        tess = Person(
            name="Tess Tenant",
            email="tess@example.org",
            password_hash=password_hash(),
            status=MembershipStatus.MEMBER,
        )
        db.session.add(tess)
        db.session.commit()
        organisation = make_organisation("Docs WG", tess)
        dns_type = ServiceType(
            name="DNS hosting", kind="dns", provider="zonefile", capacity=5, created_by_id=chair.id
        )
        db.session.add(dns_type)
        db.session.commit()
        made = {"chair": chair.id, "tess": tess.id, "type": dns_type.id}
        if zone:
            asked = service.request_service(tess, organisation, dns_type, {"zone": zone}, "")
            db.session.commit()
            service.decide(chair, asked, approve=True)
            db.session.commit()
            jobs.run_due_jobs()
            db.session.refresh(asked)
            assert asked.state == ServiceState.ACTIVE, asked.state_reason
            made["service"] = asked.id
        return made


def set_state(live_site, service_id: int, state: ServiceState) -> None:
    with live_site.app.app_context():
        db.session.get(Service, service_id).state = state
        db.session.commit()


def test_request_a_service_fails_in_place_then_goes_to_the_new_service_with_its_flash(
    live_site, page: Page
):
    tenant_with_dns(live_site)
    errors = watch_errors(page)
    sign_in(page, live_site.url, "tess@example.org")
    page.goto(f"{live_site.url}/services/request")
    page.evaluate("window.infrawgMarker = 'same page'")

    # Failure: no zone named. The form comes back in place, with the message, and works.
    page.get_by_role("button", name="Send the request to the chair").click()
    expect(page.locator("#request .error").first).to_contain_text("zone")
    assert page.evaluate("window.infrawgMarker") == "same page"
    expect(page).to_have_url(f"{live_site.url}/services/request")

    # Corrected: the browser goes to the new service's page, where the flash shows.
    page.get_by_label("DNS zone (for example docs.example.org)").fill("docs.example.org")
    page.get_by_role("button", name="Send the request to the chair").click()
    expect(page.locator("#banners .banner--ok")).to_have_text(
        "Your request for docs.example.org. waits for the chair."
    )
    expect(page.get_by_role("heading", level=1)).to_have_text("docs.example.org.")
    with live_site.app.app_context():
        created = db.session.scalar(select(Service).order_by(Service.id.desc()))
        assert created.state == ServiceState.REQUESTED
        expect(page).to_have_url(f"{live_site.url}/services/{created.id}")
    assert page.evaluate("window.infrawgMarker") is None  # a whole page, not a fragment
    assert page.locator("#request").count() == 0
    assert not errors, errors


def test_dns_records_and_the_delegation_check_fail_in_place_and_work_again(live_site, page: Page):
    made = tenant_with_dns(live_site, zone="docs.example.org")
    service_url = f"{live_site.url}/services/{made['service']}"
    errors = watch_errors(page)
    sign_in(page, live_site.url, "tess@example.org")
    page.goto(service_url)
    page.evaluate("window.infrawgMarker = 'same page'")
    add = page.locator("#add-record")

    # Adding a record: a bad address comes back next to its field, in place.
    add.get_by_label("Name (@ for the zone itself)").fill("www")
    add.get_by_label("Values, one a line").fill("not-an-address")
    add.get_by_role("button", name="Add the record").click()
    expect(page.locator("#add-record .errors .error").first).to_be_visible()
    # Corrected, the record is a row of the table; same page, same URL.
    page.locator("#add-record").get_by_label("Values, one a line").fill("192.0.2.10")
    page.locator("#add-record").get_by_role("button", name="Add the record").click()
    row = page.locator("#record-table tr", has_text="www.docs.example.org.")
    expect(row.locator("code")).to_have_text("192.0.2.10")

    # Editing it: a bad TTL, then a good one.
    page.get_by_role("link", name="Edit www.docs.example.org. A").click()
    page.locator("tr.editing input[name=ttl]").fill("not a number")
    page.get_by_role("button", name="Save www.docs.example.org. A").click()
    expect(page.locator("tr.editing .errors .error")).to_contain_text("TTL must be a whole number")
    page.locator("tr.editing input[name=ttl]").fill("600")
    page.locator("tr.editing textarea[name=values]").fill("192.0.2.12")
    page.get_by_role("button", name="Save www.docs.example.org. A").click()
    expect(row.locator("code")).to_have_text("192.0.2.12")
    expect(row.locator("td").nth(2)).to_have_text("600")

    # The delegation check refused (the zone left its provider meanwhile): an inline
    # error in its form, the answer box stays, and the button works once it is back.
    set_state(live_site, made["service"], ServiceState.SUSPENDED)
    check = page.get_by_role("button", name="Check the delegation")
    check.click()
    block = page.locator("#registrar form [data-fragment-error]")
    expect(block).to_contain_text("once the zone is provisioned")
    expect(block).to_be_focused()
    expect(page.locator("#delegation")).to_have_count(1)
    set_state(live_site, made["service"], ServiceState.ACTIVE)
    check.click()
    expect(page.locator("#delegation")).to_contain_text("The delegation is being checked")
    expect(block).to_have_count(0)  # the old error went when the button sent again
    expect(page.locator("#banners .banner--ok")).to_contain_text("The delegation is being checked")

    assert page.evaluate("window.infrawgMarker") == "same page"
    expect(page).to_have_url(service_url)
    assert not errors, errors


def test_an_inline_decision_updates_the_row_the_banner_and_the_nav_count(live_site, page: Page):
    with live_site.app.app_context():
        chair, member = chair_and_member()
        asked = StaffRequest(person_id=member.id, motivation="I run DNS at work.")
        db.session.add(asked)
        db.session.commit()
        row_id = f"#staff-request-{asked.id}"
        secret = enrol_totp(chair.id)
    errors = watch_errors(page)
    sign_in_with_totp(page, live_site.url, "chair@example.org", secret)
    page.goto(f"{live_site.url}/chair")
    expect(page.locator("#nav-chair-queue .count")).to_have_text("1")
    expect(page.locator("#nav-work .count")).to_have_text("1")
    page.evaluate("window.infrawgMarker = 'same page'")
    row = page.locator(row_id)

    # Failure: declining needs a reason; asked to confirm, the row says so, usable again.
    row.get_by_role("button", name="Decline the request of Mia Member").click()
    row.get_by_role("button", name="Yes, decline").click()
    expect(row.locator(".error")).to_be_visible()
    expect(row.get_by_role("button", name="Grant staff status to Mia Member")).to_be_visible()
    # Failure of the site's kind: the form expired. The error is inline, never a page.
    page.evaluate(
        """(row) => {
          document.body.setAttribute('hx-headers', '{"X-CSRFToken": "expired"}');
          document.querySelector(row + ' input[name=csrf_token]').value = 'expired';
        }""",
        row_id,
    )
    row.get_by_label("Reason (sent to Mia Member; required to decline)").fill("Welcome aboard")
    row.get_by_role("button", name="Grant staff status to Mia Member").click()
    block = row.locator("form [data-fragment-error]")
    expect(block).to_contain_text("Reload the page and try again")
    expect(page.locator("#nav-chair-queue .count")).to_have_text("1")
    assert page.locator("main h1").count() == 1  # no page inside the page

    # Corrected (a fresh page's token): granted in place, the banner shows, counts drop.
    page.reload()
    page.evaluate("window.infrawgMarker = 'same page'")
    row.get_by_label("Reason (sent to Mia Member; required to decline)").fill("Welcome aboard")
    row.get_by_role("button", name="Grant staff status to Mia Member").click()
    expect(row.locator(".status")).to_have_text("Granted")
    expect(page.locator("#banners .banner--ok")).to_have_text(
        "The request of Mia Member is granted."
    )
    expect(page.locator("#nav-chair-queue .count")).to_have_count(0)
    expect(page.locator("#nav-work .count")).to_have_count(0)
    expect(page.locator("#nav-chair-queue")).to_have_attribute("aria-current", "page")
    assert page.evaluate("window.infrawgMarker") == "same page"
    expect(page).to_have_url(f"{live_site.url}/chair")
    # The sign-out form of the navigation swapped in still works.
    page.locator("nav summary", has_text="Cleo Chair").click()
    page.get_by_role("button", name="Sign out").click()
    expect(page.locator("#site-nav").get_by_role("link", name="Sign in")).to_be_visible()
    assert not errors, errors


def test_a_membership_decision_fails_in_its_row_then_approves_with_banner_and_count(
    live_site, page: Page
):
    from infrawg.governance.models import Role, RoleGrant

    with live_site.app.app_context():
        staff, applicant = (
            Person(name=name, email=email, password_hash=password_hash(), status=status)
            for name, email, status in (
                ("Sam Staff", "sam@example.org", MembershipStatus.MEMBER),
                ("Ada Applicant", "ada@example.org", MembershipStatus.AWAITING_APPROVAL),
            )
        )
        db.session.add_all([staff, applicant])
        db.session.flush()
        db.session.add(RoleGrant(person_id=staff.id, role=Role.STAFF, authority="test"))
        db.session.commit()
        row_id = f"#application-{applicant.id}"
        secret = enrol_totp(staff.id)
    errors = watch_errors(page)
    sign_in_with_totp(page, live_site.url, "sam@example.org", secret)
    page.goto(f"{live_site.url}/membership/applications")
    expect(page.locator("#nav-applications .count")).to_have_text("1")
    page.evaluate("window.infrawgMarker = 'same page'")
    row = page.locator(row_id)

    # Failure: a decline needs its reason (after the browser's confirmation).
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Decline Ada Applicant").click()
    expect(row.locator(".error")).to_be_visible()
    expect(page.locator("#nav-applications .count")).to_have_text("1")

    # Then approved: the row, the banner and the count follow.
    row.get_by_role("button", name="Approve Ada Applicant").click()
    expect(row.locator(".status")).to_have_text("Member")
    expect(page.locator("#banners .banner--ok")).to_have_text(
        "The application of Ada Applicant is approved."
    )
    expect(page.locator("#nav-applications .count")).to_have_count(0)
    assert page.evaluate("window.infrawgMarker") == "same page"
    expect(page).to_have_url(f"{live_site.url}/membership/applications")
    assert not errors, errors


def test_a_comment_on_a_goal_fails_in_place_then_is_added(live_site, page: Page):
    from flask import g

    from infrawg.surveys import goals
    from infrawg.timeutil import utcnow

    with live_site.app.app_context():
        chair, _member = chair_and_member()
        g.pop("_roles", None)
        goal = goals.draft_goal(
            chair,
            goals.GoalInput(utcnow().year + 1, "Faster backups", "Because.", None, None, None, []),
        )
        db.session.commit()
        goal_url = f"{live_site.url}/goal/{goal.id}"
    errors = watch_errors(page)
    sign_in(page, live_site.url, "mia@example.org")
    page.goto(goal_url)
    page.evaluate("window.infrawgMarker = 'same page'")
    comments = page.locator("#comments")

    comments.get_by_role("button", name="Add my comment").click()  # empty: refused
    expect(comments.locator(".error")).to_be_visible()
    comments.get_by_role("textbox").fill("Add offsite copies")
    comments.get_by_role("button", name="Add my comment").click()
    expect(comments.locator(".comment")).to_contain_text("Add offsite copies")
    expect(comments.get_by_role("textbox")).to_have_value("")
    expect(comments.locator(".error")).to_have_count(0)
    assert page.evaluate("window.infrawgMarker") == "same page"
    expect(page).to_have_url(goal_url)
    assert not errors, errors


def test_the_board_appoints_the_chair_in_place_after_a_refused_try(live_site, page: Page):
    from infrawg.governance.models import Role, RoleGrant

    with live_site.app.app_context():
        board = Person(
            name="Bo Board",
            email="bo@example.org",
            password_hash=password_hash(),
            status=MembershipStatus.LEFT,
        )
        mia = Person(
            name="Mia Member",
            email="mia@example.org",
            password_hash=password_hash(),
            status=MembershipStatus.MEMBER,
        )
        db.session.add_all([board, mia])
        db.session.flush()
        db.session.add(RoleGrant(person_id=board.id, role=Role.BOARD, authority="test"))
        db.session.commit()
        secret = enrol_totp(board.id)
    errors = watch_errors(page)
    sign_in_with_totp(page, live_site.url, "bo@example.org", secret)
    page.goto(f"{live_site.url}/board")
    page.evaluate("window.infrawgMarker = 'same page'")
    section = page.locator("#appoint-chair")
    expect(section.locator("#current-chair")).to_have_text("No chair is appointed.")

    # Failure: someone who is not a member; the message is next to the field, in place.
    section.get_by_label("Email of the new chair (a member of the group)").fill("no@example.org")
    section.get_by_label("Reference of the board's resolution").fill("2026-05-12-03")
    section.locator("input[type=date]").fill("2026-05-12")
    section.get_by_role("button", name="Appoint the chair").click()
    expect(section.locator(".errors .error").first).to_be_visible()
    expect(page.locator("#appoint-chair")).to_have_count(1)

    # Corrected: the section shows the new chair and the banner says so.
    section.get_by_label("Email of the new chair (a member of the group)").fill("mia@example.org")
    section.get_by_role("button", name="Appoint the chair").click()
    expect(section.locator("#current-chair")).to_contain_text("Mia Member")
    expect(page.locator("#banners .banner--ok")).to_have_text("The chair is appointed.")
    assert page.evaluate("window.infrawgMarker") == "same page"
    expect(page).to_have_url(f"{live_site.url}/board")
    assert page.locator("main h1").count() == 1
    assert not errors, errors


def test_the_chair_revokes_staff_status_in_its_row(live_site, page: Page):
    from infrawg.governance.models import Role, RoleGrant

    with live_site.app.app_context():
        chair, member = chair_and_member()
        grant = RoleGrant(person_id=member.id, role=Role.STAFF, authority="chair's decision")
        db.session.add(grant)
        db.session.commit()
        row_id = f"#staff-grant-{grant.id}"
        secret = enrol_totp(chair.id)
    errors = watch_errors(page)
    sign_in_with_totp(page, live_site.url, "chair@example.org", secret)
    page.goto(f"{live_site.url}/chair")
    page.evaluate("window.infrawgMarker = 'same page'")
    row = page.locator(row_id)

    row.get_by_role("button", name="Revoke staff status of Mia Member").click()
    expect(row.locator(".confirm")).to_contain_text("Revoke the staff status of Mia Member?")
    row.get_by_role("button", name="Yes, revoke staff status").click()  # no reason: refused
    expect(row.locator(".error")).to_be_visible()  # still asking, with the reason's field
    row.get_by_label("Reason (sent to Mia Member)").fill("Thank you for your help")
    row.get_by_role("button", name="Yes, revoke staff status").click()
    expect(row.locator(".status")).to_have_text("Revoked")
    expect(page.locator("#banners .banner--ok")).to_have_text("Mia Member is no longer staff.")
    assert page.evaluate("window.infrawgMarker") == "same page"
    assert not errors, errors


def test_the_join_forms_email_check_says_what_is_wrong_and_clears_when_fixed(live_site, page: Page):
    with live_site.app.app_context():
        chair_and_member()
    errors = watch_errors(page)
    page.goto(f"{live_site.url}/join")
    email = page.get_by_label("Email")
    email.fill("mia@example.org")
    email.blur()
    expect(page.locator("#email-errors .error")).to_contain_text(
        "An account with this email already exists"
    )
    email.fill("grace@example.org")
    email.blur()
    expect(page.locator("#email-errors .error")).to_have_count(0)
    expect(page.locator("#email-errors")).to_have_count(1)  # the target stays for the next check
    email.fill("mia@example.org")
    email.blur()
    expect(page.locator("#email-errors .error")).to_be_visible()
    assert not errors, errors


def test_a_filter_answers_in_place_and_a_signed_out_one_goes_to_sign_in(live_site, page: Page):
    with live_site.app.app_context():
        chair_and_member()
    errors = watch_errors(page)
    sign_in(page, live_site.url, "mia@example.org")
    page.goto(f"{live_site.url}/people")
    page.evaluate("window.infrawgMarker = 'same page'")
    page.locator("#people-q").press_sequentially("Cleo")  # as typed: htmx filters on keyup
    expect(page.locator("#people-rows")).to_contain_text("Cleo Chair")
    expect(page.locator("#people-rows")).not_to_contain_text("Mia Member")
    expect(page).to_have_url(re.compile(r"/people\?q=Cleo"))
    assert page.evaluate("window.infrawgMarker") == "same page"
    # Signed out meanwhile (another tab): the filter does not swap a sign-in page in.
    page.context.clear_cookies()
    page.locator("#people-q").fill("")
    page.locator("#people-q").press_sequentially("Mia")
    expect(page).to_have_url(re.compile(r"/signin\?next="))
    expect(page.locator("main h1")).to_have_count(1)
    assert not errors, errors


def test_a_proxys_error_page_is_never_swapped_in_and_the_control_works_again(live_site, page: Page):
    from flask import g

    from infrawg.surveys import goals
    from infrawg.timeutil import utcnow

    with live_site.app.app_context():
        chair, _member = chair_and_member()
        g.pop("_roles", None)
        goal = goals.draft_goal(
            chair,
            goals.GoalInput(utcnow().year + 1, "Faster backups", "Because.", None, None, None, []),
        )
        db.session.commit()
        goal_url = f"{live_site.url}/goal/{goal.id}"
    sign_in(page, live_site.url, "mia@example.org")
    page.goto(goal_url)
    comments = page.locator("#comments")
    comments.get_by_role("textbox").fill("Add offsite copies")

    # A gateway in front of the site answers with its own page (not the site's block).
    gateway = "<html><body><h1>502 Bad Gateway</h1></body></html>"
    page.route(
        "**/comments",
        lambda route: route.fulfill(status=502, body=gateway, content_type="text/html"),
    )
    comments.get_by_role("button", name="Add my comment").click()
    block = comments.locator("form [data-fragment-error]")
    expect(block).to_have_text("The site did not answer. Please try again in a moment.")
    expect(block).to_be_focused()
    expect(page.get_by_text("502 Bad Gateway")).to_have_count(0)

    page.unroute("**/comments")
    comments.get_by_role("button", name="Add my comment").click()
    expect(comments.locator(".comment")).to_contain_text("Add offsite copies")
    expect(page.locator("[data-fragment-error]")).to_have_count(0)


def test_acknowledging_a_notice_swaps_it_and_the_nav_count_drops(live_site, page: Page):
    from datetime import timedelta

    from infrawg.governance.models import Role, RoleGrant
    from infrawg.status import service as status
    from infrawg.status.models import NoticeKind
    from infrawg.timeutil import utcnow
    from tests.status.conftest import make_service

    with live_site.app.app_context():
        staff, tess = (
            Person(name=name, email=email, password_hash=password_hash())
            for name, email in (("Sam Staff", "sam@example.org"), ("Tess", "tess@example.org"))
        )
        staff.status = tess.status = MembershipStatus.MEMBER
        db.session.add_all([staff, tess])
        db.session.flush()
        db.session.add(RoleGrant(person_id=staff.id, role=Role.STAFF, authority="test"))
        db.session.commit()
        organisation = make_organisation("Docs WG", tess)
        zone = make_service(organisation, "docs.example.org.", tess)
        notice = status.announce(
            staff,
            status.NoticeInput(
                NoticeKind.MAINTENANCE,
                "DNS upgrade",
                "BIND is upgraded.",
                "Updates wait for a minute.",
                "DNS maintenance.",
                utcnow() + timedelta(days=1),
                None,
                [zone.id],
            ),
        )
        db.session.commit()
        notice_id = f"#notice-{notice.id}"
    errors = watch_errors(page)
    sign_in(page, live_site.url, "tess@example.org")
    page.goto(f"{live_site.url}/status/mine")
    expect(page.locator("#nav-my-notices .count")).to_have_text("1")
    page.evaluate("window.infrawgMarker = 'same page'")
    page.locator(notice_id).get_by_role("button", name="Acknowledge").click()
    expect(page.locator(f"{notice_id} .acknowledged")).to_be_visible()
    expect(page.locator("#banners .banner--ok")).to_have_text("Thank you: acknowledged.")
    expect(page.locator("#nav-my-notices .count")).to_have_count(0)
    assert page.evaluate("window.infrawgMarker") == "same page"
    expect(page).to_have_url(f"{live_site.url}/status/mine")
    assert not errors, errors
