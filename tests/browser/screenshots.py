"""`make screenshots`: PNGs of the main pages of the demo, as each kind of person sees them,
at 1280 and 390 px wide, into a folder (default ``screenshots/``, which git ignores).

    PYTHONPATH=. .venv/bin/python -m tests.browser.screenshots [FOLDER]

Files are named ``<width>/<person>-<page>.png``; the 390 px set also has the navigation
opened (``<person>-menu-open.png``).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.browser.crawl import NARROW, PAGES, PERSONAS, WIDE, demo_site, signed_in_context, visit


def main(argv: list[str]) -> int:
    folder = Path(argv[1] if len(argv) > 1 else "screenshots")
    with (
        tempfile.TemporaryDirectory() as tmp,
        demo_site(Path(tmp)) as demo,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for viewport in (WIDE, NARROW):
            target = folder / str(viewport["width"])
            target.mkdir(parents=True, exist_ok=True)
            for persona, email in PERSONAS.items():
                context = signed_in_context(browser, demo, email, viewport)
                page = context.new_page()
                for stop in PAGES[persona]:
                    visit(page, stop)
                    page.screenshot(path=target / f"{persona}-{stop.name}.png", full_page=True)
                if viewport is NARROW:
                    page.locator("summary.menu-button").click()
                    page.screenshot(path=target / f"{persona}-menu-open.png")
                context.close()
        browser.close()
    count = sum(1 for _ in folder.rglob("*.png"))
    print(f"{count} screenshots in {folder}/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
