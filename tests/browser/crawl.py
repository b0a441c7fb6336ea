"""The main pages of the demo site as each kind of person sees them: what the accessibility
crawl (test_accessibility.py) checks and `make screenshots` photographs.

``demo_site`` serves the demo (`flask infrawg demo`, what `make run` loads) on a database of
its own; ``visit`` walks a person's pages in a browser context already signed in.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Browser, BrowserContext, Page

from tests.conftest import migrated_app
from tests.servers.live import LiveSite, fresh_database

WIDE = {"width": 1280, "height": 900}
NARROW = {"width": 390, "height": 844}


@dataclass(frozen=True)
class Stop:
    """A page to visit: ``path``, or the first link matching ``follow`` on ``path``."""

    name: str
    path: str
    follow: str | None = None


# Who visits what (emails of the demo accounts; None: not signed in).
PERSONAS: dict[str, str | None] = {
    "anonymous": None,
    "member": "member1@example.org",
    "tenant_member": "tenant1@example.org",
    "staff": "staff1@example.org",
    "chair": "chair@example.org",
}

PAGES: dict[str, list[Stop]] = {
    "anonymous": [
        Stop("home", "/"),
        Stop("join", "/join"),
        Stop("signin", "/signin"),
        Stop("charter", "/charter"),
        Stop("goals", "/goals"),
    ],
    "member": [
        Stop("dashboard", "/dashboard"),
        Stop("archives", "/archives/"),
        Stop("threads", "/archives/infra/"),
        Stop("thread", "/archives/infra/", follow="#threads a[href*='/threads/']"),
        Stop("search", "/archives/search?q=backup"),
        Stop("people", "/people"),
        Stop("audit", "/audit"),
        Stop("projects", "/projects"),
        Stop("surveys", "/surveys"),
        Stop("organisations", "/organisations"),
        Stop("account", "/account"),
    ],
    "tenant_member": [
        Stop("dashboard", "/dashboard"),
        Stop("services", "/services"),
        Stop("request", "/services/request"),
        Stop("organisation", "/organisations", follow="main table a[href^='/organisations/']"),
    ],
    "staff": [
        Stop("dashboard", "/dashboard"),
        Stop("applications", "/membership/applications"),
        Stop("services", "/services"),
        Stop("jobs", "/jobs"),
        Stop("quarantine", "/archives/quarantine"),
        Stop("outbox", "/dev/outbox"),
        Stop("components", "/dev/components"),
    ],
    "chair": [
        Stop("dashboard", "/dashboard"),
        Stop("chair-queue", "/chair"),
        Stop("roster", "/membership/roster"),
        Stop("surveys", "/surveys"),
        Stop("survey", "/surveys", follow="main table a[href^='/surveys/']"),
        Stop("goals", "/goals"),
    ],
}


@dataclass
class DemoSite:
    site: LiveSite
    password: str
    totp_secret: str  # the demo's authenticator app of staff, the chair and the board

    @property
    def url(self) -> str:
        return self.site.url


@contextmanager
def demo_site(tmp_dir: Path, database_base_url: str | None = None) -> Iterator[DemoSite]:
    """The demo data served on a loopback port (outbox mail, no worker), then taken down."""
    with fresh_database(database_base_url, tmp_dir) as url:
        app = migrated_app(url, ARCHIVE_DIR=str(tmp_dir / f"archive-{secrets.token_hex(4)}"))
        loaded = app.test_cli_runner().invoke(args=["infrawg", "demo"])
        assert loaded.exit_code == 0, loaded.output
        match = re.search(r"the password \(shown only now\):\n\s+(\S+)\n", loaded.output)
        assert match, loaded.output
        secret = re.search(r"authenticator-app\n.*\n.*\):\n\s+([A-Z2-7]+)\n", loaded.output)
        assert secret, loaded.output
        site = LiveSite(app)
        app.config["BASE_URL"] = site.url
        site.start()
        try:
            yield DemoSite(site, match.group(1), secret.group(1))
        finally:
            site.stop()


def signed_in_context(
    browser: Browser, demo: DemoSite, email: str | None, viewport: dict, **options
) -> BrowserContext:
    """A browser context of ``viewport`` size, signed in as ``email`` (None: anonymous)."""
    context = browser.new_context(viewport=viewport, base_url=demo.url, **options)
    context.set_default_timeout(15_000)
    if email is not None:
        page = context.new_page()
        page.goto("/signin")
        page.fill("input[name=email]", email)
        page.fill("input[name=password]", demo.password)
        page.locator("main form button[type=submit]").first.click()
        page.wait_for_url(lambda url: "/signin" not in url or "/two-factor" in url)
        if "/two-factor" in page.url:
            # Staff, the chair and the board pass their second factor, as the demo prints.
            page.fill("input[name=code]", _fresh_code(demo, email))
            page.locator("main form button[type=submit]").first.click()
            page.wait_for_url(lambda url: "/signin" not in url)
        page.close()
    return context


def _fresh_code(demo: DemoSite, email: str) -> str:
    """The authenticator app's code now, for a person the crawl signs in again within the
    same 30 s (a replayed code is refused): the test forgets the step last used."""
    import pyotp
    from sqlalchemy import select, update

    from infrawg.extensions import db
    from infrawg.membership.models import Person, TotpFactor

    with demo.site.app.app_context():
        person_id = db.session.scalar(select(Person.id).where(Person.email == email))
        db.session.execute(
            update(TotpFactor).where(TotpFactor.person_id == person_id).values(last_step=0)
        )
        db.session.commit()
        db.session.remove()
    return pyotp.TOTP(demo.totp_secret).now()


def visit(page: Page, stop: Stop) -> None:
    """Open ``stop`` in ``page`` (following its link when it has one)."""
    page.goto(stop.path)
    if stop.follow:
        href = page.locator(stop.follow).first.get_attribute("href")
        assert href, f"no link {stop.follow!r} on {stop.path}"
        page.goto(href)
    page.wait_for_load_state("load")
