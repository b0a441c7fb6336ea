"""The main pages of the demo, as anonymous, member, tenant member, staff and chair, in
Chromium: no serious or critical WCAG 2.1 AA violation found by axe-core (vendored,
tests/browser/vendor/) and no sideways scroll at 1280 px; at 390 px wide no sideways scroll
and a navigation no taller than a quarter of the screen until its Menu button opens it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from tests.browser.crawl import (
    NARROW,
    PAGES,
    PERSONAS,
    WIDE,
    DemoSite,
    demo_site,
    signed_in_context,
    visit,
)

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Iterator[DemoSite]:
    with demo_site(
        tmp_path_factory.mktemp("demo"), os.environ.get("INFRAWG_TEST_DATABASE_URL")
    ) as site:
        yield site


def _violations(page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_21_AA
    )
    assert result["passes"], "axe checked nothing"
    found = []
    for violation in result["violations"]:
        if violation["impact"] in ("serious", "critical"):
            targets = [" ".join(node["target"]) for node in violation["nodes"][:3]]
            found.append(f"{violation['id']} ({violation['impact']}): {', '.join(targets)}")
    return found


@pytest.mark.parametrize("persona", list(PERSONAS))
def test_main_pages_have_no_serious_wcag_21_aa_violation(browser: Browser, demo, persona):
    # The injected axe script is not the site's, so this context alone bypasses the CSP.
    context = signed_in_context(browser, demo, PERSONAS[persona], WIDE, bypass_csp=True)
    page = context.new_page()
    problems = []
    try:
        for stop in PAGES[persona]:
            visit(page, stop)
            problems += [f"{stop.name} ({page.url}): {v}" for v in _violations(page)]
            scroll, width = page.evaluate(
                "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
            )
            if scroll > width:
                problems.append(f"{stop.name}: the page is {scroll}px wide in {width}px")
    finally:
        context.close()
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("persona", list(PERSONAS))
def test_at_390px_no_page_scrolls_sideways_and_the_nav_is_short_until_opened(
    browser: Browser, demo, persona
):
    context = signed_in_context(browser, demo, PERSONAS[persona], NARROW)
    page = context.new_page()
    problems = []
    limit = NARROW["height"] / 4
    try:
        for stop in PAGES[persona]:
            visit(page, stop)
            scroll, width = page.evaluate(
                "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
            )
            if scroll > width:
                problems.append(f"{stop.name}: the page is {scroll}px wide in {width}px")
            header = page.locator("header.site").bounding_box()
            if header is None or header["height"] > limit:
                problems.append(
                    f"{stop.name}: the closed nav is {header and header['height']}px tall"
                )
        # The Menu button opens the navigation (a <details>: no script needed).
        account = page.locator("nav[aria-label=Main] .nav--account .nav__link").first
        assert not account.is_visible()
        page.locator("summary.menu-button").click()
        assert account.is_visible()
    finally:
        context.close()
    assert not problems, "\n".join(problems)
