"""The design system and the navigation: every state has a tone, the nav is built from the
areas' registrations and grouped, counts add up to Work, the current section is marked,
and the style guide shows every component."""

from __future__ import annotations

from importlib import import_module
from pathlib import Path

import pytest

from infrawg.enums import LabelledEnum
from infrawg.styleguide import STATE_MODULES
from infrawg.ui import TONES, NavGroup, Tone, tone_of
from tests.conftest import html


def _state_enums() -> list[type[LabelledEnum]]:
    found = []
    for module_name in STATE_MODULES:
        module = import_module(module_name)
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, LabelledEnum | str)
                and value.__module__ == module_name
                and value.__name__.endswith(("State", "Status"))
                and value.__name__ != "LabelledEnum"
            ):
                found.append(value)
    return found


def test_every_state_of_every_thing_has_a_tone():
    enums = _state_enums()
    assert {"MembershipStatus", "ServiceState", "JobState", "ApplicationState"} <= {
        e.__name__ for e in enums
    }
    missing = [
        f"{enum.__name__}.{member.name}"
        for enum in enums
        for member in enum  # type: ignore[attr-defined]
        if str(member.value) not in TONES.get(enum.__name__, {})
    ]
    assert not missing, "states without a tone in infrawg/ui.py TONES: " + ", ".join(missing)


def test_tone_of_anything_else_is_neutral():
    assert tone_of("declined") == Tone.NEUTRAL
    assert tone_of(None) == Tone.NEUTRAL


def test_status_is_a_tag_with_its_words(client, people, applicant):
    people.sign_in(client, applicant)
    page = html(client.get("/dashboard"))
    status = page.select_one("#membership-status .status")
    assert status.text.strip() == "Awaiting approval"
    assert "tag" in status["class"] and "tag--waiting" in status["class"]


def test_nav_groups_areas_and_marks_the_current_section(client, people, member):
    people.sign_in(client, member)
    page = html(client.get("/projects"))
    groups = [s.get_text(" ", strip=True) for s in page.select("nav .nav__group > summary")]
    assert NavGroup.SURVEYS.label in groups
    assert NavGroup.PEOPLE.label in groups
    current = page.select("nav [aria-current='page']")
    assert [a.get_text(strip=True) for a in current] == ["Milestones"]
    surveys_group = page.select_one("nav .nav__group.is-current > summary")
    assert surveys_group.get_text(strip=True) == NavGroup.SURVEYS.label
    # The account menu: account, security, sign out.
    account = page.select("nav .nav--account .nav__sub li")
    assert [li.get_text(strip=True) for li in account] == ["Account", "Security", "Sign out"]


def test_nav_shows_only_what_the_person_may_open(client, people, member):
    anonymous = html(client.get("/"))
    links = [a.get_text(strip=True) for a in anonymous.select("nav a.nav__link")]
    # The status page names nothing private (R5), so visitors see it too.
    assert links == ["Status", "Goals", "Charter", "Join", "Sign in"]
    people.sign_in(client, member)
    page = html(client.get("/dashboard"))
    hrefs = {a["href"] for a in page.select("nav a")}
    assert "/archives/quarantine" not in hrefs and "/chair" not in hrefs
    assert {"/archives/", "/people", "/audit", "/projects"} <= hrefs


def test_nav_links_follow_the_sites_mount_point(client):
    # The nav's addresses are built once per script root: a site mounted under a prefix
    # (SCRIPT_NAME from the server) links under it, the same app at the root does not.
    root = html(client.get("/"))
    mounted = html(client.get("/", base_url="http://localhost/wg/"))
    root_links = {a.get_text(strip=True): a["href"] for a in root.select("nav a.nav__link")}
    mounted_links = {a.get_text(strip=True): a["href"] for a in mounted.select("nav a.nav__link")}
    assert root_links["Goals"] == "/goals"
    assert mounted_links["Goals"] == "/wg/goals"
    assert html(client.get("/")).select_one("nav a[href='/goals']") is not None


def test_work_counts_everything_waiting_for_the_person(client, people, staff):
    people.make("Waiting One", status=applicant_status())
    people.make("Waiting Two", status=applicant_status())
    people.sign_in(client, staff)
    page = html(client.get("/charter"))
    assert page.select_one("#nav-work .count").text == "2"
    assert page.select_one("#nav-applications .count").text == "2"
    # Screen readers hear what the number counts.
    assert "(2 waiting)" in page.select_one("#nav-work").get_text()


def applicant_status():
    from infrawg.membership.models import MembershipStatus

    return MembershipStatus.AWAITING_APPROVAL


def test_results_count_column_is_not_styled_as_a_nav_badge():
    # The nav badge's style is scoped to .badge; a table cell of class "count" stays plain.
    css = (Path(__file__).resolve().parents[2] / "static/app.css").read_text(encoding="utf-8")
    assert ".count {" not in css and ".count{" not in css


def test_style_guide_shows_every_component_and_every_state(client, people, staff):
    people.sign_in(client, staff)
    response = client.get("/dev/components")
    assert response.status_code == 200
    page = html(response)
    for selector in (
        ".page-header",
        ".breadcrumbs",
        ".card",
        ".tag",
        ".badge",
        ".summary-list",
        ".table-wrap table",
        ".empty-state",
        ".banner",
        ".error-summary a[href='#name']",
        "button.small .visually-hidden",
        "button.danger",
        "button.secondary",
    ):
        assert page.select_one(selector) is not None, selector
    shown = {span.get_text(strip=True) for span in page.select("#all-states .tag")}
    assert "Gave up" in shown and "Awaiting email confirmation" in shown


@pytest.mark.own_app
def test_a_link_an_area_registers_appears_in_its_group_for_whom_it_allows(app, client):
    from infrawg import web
    from infrawg.ui import NavLink

    web.add_nav_link(app, NavLink(NavGroup.SURVEYS, "Sample page", "governance.charter", order=99))
    web.add_nav_link(
        app,
        NavLink(NavGroup.SURVEYS, "Hidden", "governance.charter", visible=lambda person: False),
    )
    page = html(client.get("/"))
    surveys = page.select_one("nav .nav__group:has(> summary:-soup-contains('Surveys and goals'))")
    labels = [a.get_text(strip=True) for a in surveys.select(".nav__sub a")]
    assert labels == ["Goals", "Sample page"]


def test_counts_are_in_the_singular_for_one():
    from infrawg.ui import plural

    assert [plural(n, "goal") for n in (0, 1, 2)] == ["0 goals", "1 goal", "2 goals"]
    assert plural(3, "reply", "replies") == "3 replies"
