"""More htmx paths in a real browser (see test_htmx_paths.py): the organisation
application's decision, the survey's question buttons, deleting a DNS record and
acknowledging a notice, each once succeeding and once failing for real (another session
changed the data first, or the form's token expired): the error shows inline, in place,
and the other controls keep working."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from infrawg.extensions import db
from infrawg.governance.models import Role, RoleGrant
from infrawg.membership.models import MembershipStatus, Person
from infrawg.provisioning.models import Service
from tests.browser.conftest import chair_and_member, enrol_totp, sign_in_with_totp
from tests.browser.test_htmx_paths import dns_config, sign_in, tenant_with_dns, watch_errors
from tests.conftest import password_hash

pytestmark = pytest.mark.browser


@pytest.fixture
def live_config(smtp_server, tmp_path: Path) -> dict:
    return dns_config(smtp_server, tmp_path)


def expire_the_token(page: Page) -> None:
    """The page's CSRF token as after the session expired (the header and every form's)."""
    page.evaluate(
        """() => {
          document.body.setAttribute('hx-headers', '{"X-CSRFToken": "expired"}');
          for (const i of document.querySelectorAll('input[name=csrf_token]')) i.value = 'expired';
        }"""
    )


def test_the_chair_decides_an_organisations_application_in_its_row(live_site, page: Page):
    from infrawg.tenants import applications
    from infrawg.tenants.models import Decision

    with live_site.app.app_context():
        chair, mia = chair_and_member()
        board = Person(
            name="Bo Board",
            email="bo@example.org",
            password_hash=password_hash(),
            status=MembershipStatus.LEFT,
        )
        db.session.add(board)
        db.session.flush()
        db.session.add(RoleGrant(person_id=board.id, role=Role.BOARD, authority="test"))
        db.session.commit()
        ids = {}
        for name, slug in (("Docs Collective", "docs-collective"), ("Mail Co", "mail-co")):
            application = applications.apply_as_co(
                mia, name, slug, "We write docs.", "", "DNS", "We keep the docs online."
            )
            db.session.commit()
            ids[slug] = application.id
        secret = enrol_totp(chair.id)
        board_id = board.id
    errors = watch_errors(page)
    sign_in_with_totp(page, live_site.url, "chair@example.org", secret)
    page.goto(f"{live_site.url}/chair")
    expect(page.locator("#nav-chair-queue .count")).to_have_text("2")
    page.evaluate("window.infrawgMarker = 'same page'")
    docs = page.locator(f"#application-{ids['docs-collective']}")
    mail = page.locator(f"#application-{ids['mail-co']}")

    # Failure: no reason given. The row says so, in place, and its buttons stay.
    docs.get_by_role("button", name="Approve as chair").click()
    expect(docs.locator(".error")).to_contain_text("Give the reason for the chair's decision")
    expect(page.locator("#nav-chair-queue .count")).to_have_text("2")

    # Corrected: approved in the row, the banner shows and the queue's count drops.
    docs.get_by_label("Reason of the chair (required)").fill("Fits the mission.")
    docs.get_by_role("button", name="Approve as chair").click()
    expect(docs.locator(".decision-chair")).to_contain_text("Fits the mission.")
    expect(docs.get_by_role("button", name="Approve as chair")).to_have_count(0)
    expect(page.locator("#banners .banner--ok")).to_have_text("The decision is recorded.")
    expect(page.locator("#nav-chair-queue .count")).to_have_text("1")

    # Failure of the other kind: while the chair is asked to confirm a decline, the
    # board declines (another session). The row tells, never a page inside the page.
    mail.get_by_label("Reason of the chair (required)").fill("Not a community.")
    mail.get_by_role("button", name="Decline as chair").click()
    expect(mail.locator(".confirm")).to_contain_text("Decline the application of Mail Co")
    with live_site.app.app_context():
        applications.decide_application(
            db.session.get_one(Person, board_id),
            applications.get_application(ids["mail-co"]),
            "board",
            Decision.DECLINE,
            "Out of scope.",
        )
        db.session.commit()
    mail.get_by_role("button", name="Yes, decline").click()
    expect(mail.locator(".error")).to_contain_text("does not wait for the chair")
    expect(mail.locator(".decision-board")).to_contain_text("Out of scope.")
    expect(mail.get_by_role("button", name="Yes, decline")).to_have_count(0)
    assert page.locator("main h1").count() == 1
    assert page.evaluate("window.infrawgMarker") == "same page"
    expect(page).to_have_url(f"{live_site.url}/chair")
    assert not errors, errors


def test_the_question_buttons_fail_in_place_when_the_survey_changed_meanwhile(
    live_site, page: Page
):
    from flask import g

    from infrawg.surveys import building
    from infrawg.surveys.models import Audience
    from tests.surveys.factories import make_survey

    with live_site.app.app_context():
        chair, _mia = chair_and_member()
        survey = make_survey(chair, Audience.MEMBERS, opened=False)
        survey_id = survey.id
        questions = building.questions_of(survey)
        first, second, third = (q.prompt for q in questions[:3])
        gone_id = questions[2].id
        secret = enrol_totp(chair.id)
        chair_id = chair.id
        assert len({q.section for q in questions[:3]}) == 1  # one section: they can swap
    errors = watch_errors(page)
    sign_in_with_totp(page, live_site.url, "chair@example.org", secret)
    survey_url = f"{live_site.url}/surveys/{survey_id}"
    page.goto(survey_url)
    page.evaluate("window.infrawgMarker = 'same page'")
    box = page.locator("#questions")
    prompts = box.locator("li.question .prompt")

    # Success: moved down, then one removed; the list swaps in place, with the banner.
    box.get_by_role("button", name=f"Move down: {first}").click()
    expect(prompts.nth(0)).to_have_text(second)
    expect(prompts.nth(1)).to_have_text(first)
    box.get_by_role("button", name=f"Remove: {second}").click()
    expect(box.locator("li.question", has_text=second)).to_have_count(0)
    expect(page.locator("#banners .banner--ok")).to_have_text("Question removed.")
    expect(prompts.nth(0)).to_have_text(first)

    # Failure: the question was removed in another tab; its button says so in place.
    with live_site.app.app_context():
        g.pop("_roles", None)
        building.remove_question(
            db.session.get_one(Person, chair_id),
            building.get_question(building.get_survey(survey_id, chair), gone_id),
        )
        db.session.commit()
    gone = box.locator(f"#question-{gone_id}")
    gone.get_by_role("button", name=f"Move up: {third}").click()
    expect(gone.locator("form [data-fragment-error]").first).to_be_visible()
    # The other buttons still work, and their answer shows the list as it is now.
    box.get_by_role("button", name=f"Move down: {first}").click()
    expect(box.locator("li.question", has_text=third)).to_have_count(0)
    expect(page.locator("[data-fragment-error]")).to_have_count(0)

    # Failure: the survey was opened meanwhile; its questions can no longer change.
    with live_site.app.app_context():
        g.pop("_roles", None)
        building.open_survey(
            db.session.get_one(Person, chair_id), building.get_survey(survey_id, chair)
        )
        db.session.commit()
    count = prompts.count()
    box.get_by_role("button", name=f"Remove: {first}").click()
    block = box.locator("form [data-fragment-error]")
    expect(block).to_contain_text("its questions can no longer change")
    expect(prompts).to_have_count(count)
    assert page.locator("main h1").count() == 1
    assert page.evaluate("window.infrawgMarker") == "same page"
    expect(page).to_have_url(survey_url)
    assert not errors, errors


def test_deleting_a_dns_record_asks_then_removes_the_row_and_fails_in_place(live_site, page: Page):
    from infrawg.provisioning.kinds.dns import zones

    made = tenant_with_dns(live_site, zone="docs.example.org")
    with live_site.app.app_context():
        tess = db.session.get_one(Person, made["tess"])
        item = db.session.get_one(Service, made["service"])
        www = zones.add_record(tess, item, "www", "A", 3600, "192.0.2.10")
        mail = zones.add_record(tess, item, "mail", "A", 3600, "192.0.2.25")
        db.session.commit()
        www_id, mail_id = www.id, mail.id
    service_url = f"{live_site.url}/services/{made['service']}"
    errors = watch_errors(page)
    sign_in(page, live_site.url, "tess@example.org")
    page.goto(service_url)
    page.evaluate("window.infrawgMarker = 'same page'")
    www_row, mail_row = page.locator(f"#record-{www_id}"), page.locator(f"#record-{mail_id}")

    # Failure: asked to confirm, then the record is deleted in another tab first.
    www_row.get_by_role("button", name="Delete www.docs.example.org. A").click()
    expect(www_row.locator(".confirm")).to_contain_text("Delete www.docs.example.org. A?")
    with live_site.app.app_context():
        zones.delete_record(
            db.session.get_one(Person, made["tess"]),
            db.session.get_one(Service, made["service"]),
            www_id,
        )
        db.session.commit()
    www_row.get_by_role("button", name="Delete www.docs.example.org. A").click()
    block = www_row.locator("form [data-fragment-error]")
    expect(block).to_contain_text("There is no such record in this zone.")
    expect(block).to_be_focused()
    expect(page.locator("#record-table")).to_have_count(1)

    # The table still works: the other record is deleted, after its question.
    mail_row.get_by_role("button", name="Delete mail.docs.example.org. A").click()
    expect(mail_row.locator(".confirm")).to_contain_text("Delete mail.docs.example.org. A?")
    mail_row.get_by_role("button", name="Delete mail.docs.example.org. A").click()
    expect(page.locator(f"#record-{mail_id}")).to_have_count(0)
    expect(page.locator(f"#record-{www_id}")).to_have_count(0)  # the table as it is now
    expect(page.locator("#banners .banner--ok")).to_have_text(
        "mail.docs.example.org. A is deleted here; the DNS server changes when you apply the plan."
    )
    expect(page.locator("[data-fragment-error]")).to_have_count(0)
    with live_site.app.app_context():
        zone = zones.zone_of(db.session.get_one(Service, made["service"]))
        assert zone is not None
        left = {(r.name, r.rdtype) for r in zones.records_of(zone)}
        assert ("mail.docs.example.org.", "A") not in left
        assert ("www.docs.example.org.", "A") not in left
    assert page.locator("main h1").count() == 1
    expect(page).to_have_url(service_url)
    assert not errors, errors


def test_acknowledging_a_notice_fails_in_place_when_expired_or_done_in_another_tab(
    live_site, page: Page
):
    from infrawg.status import service as status
    from infrawg.status.models import ImpactNotice, NoticeKind
    from infrawg.timeutil import utcnow
    from tests.conftest import make_organisation
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
        ids = []
        for title in ("DNS upgrade", "Mail move"):
            notice = status.announce(
                staff,
                status.NoticeInput(
                    NoticeKind.MAINTENANCE,
                    title,
                    "BIND is upgraded.",
                    "Updates wait for a minute.",
                    "DNS maintenance.",
                    utcnow() + timedelta(days=1),
                    None,
                    [zone.id],
                ),
            )
            db.session.commit()
            ids.append(notice.id)
        tess_id = tess.id
    errors = watch_errors(page)
    sign_in(page, live_site.url, "tess@example.org")
    page.goto(f"{live_site.url}/status/mine")
    expect(page.locator("#nav-my-notices .count")).to_have_text("2")
    page.evaluate("window.infrawgMarker = 'same page'")
    dns, mail = page.locator(f"#notice-{ids[0]}"), page.locator(f"#notice-{ids[1]}")

    # Failure: the form expired. Inline, with the way onward; nothing is acknowledged.
    expire_the_token(page)
    dns.get_by_role("button", name="Acknowledge").click()
    block = dns.locator("form [data-fragment-error]")
    expect(block).to_contain_text("Reload the page and try again")
    expect(block).to_be_focused()
    expect(page.locator("#nav-my-notices .count")).to_have_text("2")

    # Reloaded: acknowledged in place, banner and count follow.
    page.reload()
    page.evaluate("window.infrawgMarker = 'same page'")
    dns.get_by_role("button", name="Acknowledge").click()
    expect(dns.locator(".acknowledged")).to_be_visible()
    expect(page.locator("#banners .banner--ok")).to_have_text("Thank you: acknowledged.")
    expect(page.locator("#nav-my-notices .count")).to_have_text("1")

    # Failure: the other notice was acknowledged in another tab meanwhile.
    with live_site.app.app_context():
        status.acknowledge(
            db.session.get_one(Person, tess_id), db.session.get_one(ImpactNotice, ids[1])
        )
        db.session.commit()
    mail.get_by_role("button", name="Acknowledge").click()
    expect(mail.locator("form [data-fragment-error]")).to_contain_text(
        "You acknowledged this notice already"
    )
    assert page.locator("main h1").count() == 1
    assert page.evaluate("window.infrawgMarker") == "same page"
    expect(page).to_have_url(f"{live_site.url}/status/mine")
    assert not errors, errors
