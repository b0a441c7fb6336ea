"""R15 in a real browser: a member answers the survey, saving a draft first; the chair
reorders questions with htmx buttons (no inline script)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from infrawg.extensions import db
from infrawg.governance.models import Role, RoleGrant
from infrawg.membership.models import MembershipStatus, Person
from infrawg.surveys.models import Audience, Response, SurveyParticipant
from tests.browser.conftest import enrol_totp, sign_in_with_totp
from tests.conftest import PASSWORD, password_hash
from tests.surveys.factories import make_survey

pytestmark = pytest.mark.browser


def sign_in(page: Page, url: str, email: str) -> None:
    page.goto(f"{url}/signin")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{url}/dashboard")


def test_r15_a_member_answers_the_survey_in_the_browser(live_site, page: Page):
    with live_site.app.app_context():
        people = {}
        for name, email in (("Cleo Chair", "chair@example.org"), ("Mia Member", "mia@example.org")):
            people[email] = Person(
                name=name,
                email=email,
                password_hash=password_hash(),
                status=MembershipStatus.MEMBER,
            )
            db.session.add(people[email])
        db.session.flush()
        chair = people["chair@example.org"]
        db.session.add(RoleGrant(person_id=chair.id, role=Role.CHAIR, authority="test"))
        db.session.commit()
        survey = make_survey(chair, Audience.MEMBERS, anonymous=True)
        survey_id = survey.id

    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    sign_in(page, live_site.url, "mia@example.org")
    expect(page.locator("#nav-surveys .count")).to_have_text("1")
    page.get_by_role("link", name="Surveys").first.click()
    page.get_by_role("link", name="Annual survey").first.click()
    page.get_by_role("link", name="Answer the member survey").click()
    expect(page.locator("#anonymity")).to_be_visible()

    # Half the answers, saved as a draft, then resumed.
    page.get_by_label("VMs").first.check()
    page.get_by_label("Your answer").fill("IPv6 please")
    page.get_by_role("button", name="Save as draft and finish later").click()
    expect(page.locator("#draft-note")).to_be_visible()
    expect(page.get_by_label("Your answer")).to_have_value("IPv6 please")

    # A duplicate place in the rank is refused next to the question.
    page.get_by_label("Place of “Backups”").select_option("1")
    page.get_by_label("Place of “IPv6”").select_option("1")
    page.get_by_label("Place of “Docs”").select_option("2")
    page.get_by_role("button", name="Send my answers").click()
    expect(page.locator(".errors .error").last).to_contain_text("different place")
    page.get_by_label("Place of “IPv6”").select_option("2")
    page.get_by_label("Place of “Docs”").select_option("3")
    page.get_by_label("4").check()
    page.get_by_role("button", name="Send my answers").click()
    expect(page.locator(".flash")).to_contain_text("your answers are in")
    expect(page.locator(".answered")).to_be_visible()
    assert not [e for e in errors if "Content Security Policy" in e]

    with live_site.app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Response)) == 1
        assert db.session.scalar(
            select(SurveyParticipant.survey_id).where(SurveyParticipant.survey_id == survey_id)
        )
        assert db.session.scalar(select(Response.person_id)) is None


def test_the_chair_reorders_questions_with_htmx(live_site, page: Page):
    with live_site.app.app_context():
        chair = Person(
            name="Cleo Chair",
            email="chair@example.org",
            password_hash=password_hash(),
            status=MembershipStatus.MEMBER,
        )
        db.session.add(chair)
        db.session.flush()
        db.session.add(RoleGrant(person_id=chair.id, role=Role.CHAIR, authority="test"))
        db.session.commit()
        survey_id = make_survey(chair, Audience.MEMBERS, opened=False).id
        secret = enrol_totp(chair.id)  # the chair's powers need a second factor

    sign_in_with_totp(page, live_site.url, "chair@example.org", secret)
    page.goto(f"{live_site.url}/surveys/{survey_id}")
    prompts = page.locator("#questions li.question .prompt")
    first, second = prompts.nth(0).inner_text(), prompts.nth(1).inner_text()
    page.get_by_role("button", name=f"Move up: {second}").click()
    expect(prompts.nth(0)).to_have_text(second)
    expect(prompts.nth(1)).to_have_text(first)
    assert page.url == f"{live_site.url}/surveys/{survey_id}"  # swapped in place
