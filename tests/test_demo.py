"""`flask infrawg demo` (what `make run` loads): on a fresh database, the demo accounts sign in
and the main pages answer; the demo archive ships in the package and needs nothing outside
the repository."""

from __future__ import annotations

import lzma
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest
from bs4 import BeautifulSoup
from flask import Flask
from sqlalchemy import func, select

import infrawg
from infrawg.archives.models import Message, Quarantine
from infrawg.demo_data import DEMO_ARCHIVE
from infrawg.demo_data import archive as demo_archive
from infrawg.extensions import db
from infrawg.jobs.models import Job, JobState
from infrawg.status.models import ImpactNotice, NoticeState
from tests.conftest import FormClient, migrated_app
from tests.servers.live import fresh_database

# Pages each demo account comes for; every one answers 200 to that account.
PAGES = {
    "chair@example.org": [
        "/",
        "/dashboard",
        "/account",
        "/chair",
        "/membership/applications",
        "/membership/roster",
        "/services",
        "/jobs",
        "/surveys",
        "/goals",
        "/projects",
        "/audit",
        "/people",
        "/archives/",
        "/charter",
        "/dev/outbox",
        "/status",
        "/status/notices",
        "/organisations",
    ],
    "staff1@example.org": [
        "/dashboard",
        "/services",
        "/jobs",
        "/membership/applications",
        "/archives/quarantine",
    ],
    "tenant1@example.org": [
        "/dashboard",
        "/services",
        "/services/request",
        "/surveys",
        "/status/mine",
    ],
    "member1@example.org": ["/dashboard", "/archives/", "/goals", "/projects"],
    "applicant@example.org": ["/dashboard", "/account/status"],
    "declined@example.org": ["/account/status"],
}


@pytest.fixture
def demo_app(tmp_path) -> Iterator[Flask]:
    """An app on a database of its own, migrated and empty, as `make run` starts."""
    with fresh_database(os.environ.get("INFRAWG_TEST_DATABASE_URL"), tmp_path) as url:
        app = migrated_app(url, ARCHIVE_DIR=str(tmp_path / "archive"))
        app.test_client_class = FormClient
        try:
            yield app
        finally:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()


def demo_password(output: str) -> str:
    match = re.search(r"the password \(shown only now\):\n\s+(\S+)\n", output)
    assert match, output
    return match.group(1)


def demo_totp_secret(output: str) -> str:
    match = re.search(r"authenticator-app\n.*\n.*\):\n\s+([A-Z2-7]+)\n", output)
    assert match, output
    return match.group(1)


def demo_recovery_codes(output: str) -> list[str]:
    match = re.search(r"Recovery codes of chair@example.org \(each works once\):\n(.+)\n", output)
    assert match, output
    return match.group(1).split()


def test_demo_loads_on_a_fresh_database_and_its_accounts_see_the_main_pages(demo_app):
    runner = demo_app.test_cli_runner()
    loaded = runner.invoke(args=["infrawg", "demo", "--if-empty"])
    assert loaded.exit_code == 0, loaded.output
    password = demo_password(loaded.output)
    secret = demo_totp_secret(loaded.output)
    with demo_app.app_context():
        # R5: an upcoming maintenance and a resolved incident, told to the tenant members.
        states = sorted(db.session.scalars(select(ImpactNotice.state)))
        assert states == [NoticeState.OPEN, NoticeState.RESOLVED]
        db.session.remove()

    refused = []
    with demo_app.app_context():
        for email, pages in PAGES.items():
            client = demo_app.test_client()
            signed_in = client.post("/signin", data={"email": email, "password": password})
            assert signed_in.status_code == 303, (email, signed_in.status_code)
            if email in ("chair@example.org", "staff1@example.org"):
                # The demo's privileged accounts are asked for the printed key's code.
                assert signed_in.location.endswith("/signin/two-factor"), email
                code = pyotp.TOTP(secret).now()
                second = client.post("/signin/two-factor", data={"code": code})
                assert second.status_code == 303, (email, second.status_code)
            for page in pages:
                status = client.get(page).status_code
                if status != 200:
                    refused.append(f"{page} as {email}: {status}")
            db.session.remove()
    assert not refused, "\n".join(refused)


def test_demo_chair_signs_in_with_a_printed_recovery_code_once(demo_app):
    runner = demo_app.test_cli_runner()
    loaded = runner.invoke(args=["infrawg", "demo", "--if-empty"])
    password = demo_password(loaded.output)
    code = demo_recovery_codes(loaded.output)[0]
    with demo_app.app_context():
        for expected in (303, 422):
            client = demo_app.test_client()
            data = {"email": "chair@example.org", "password": password}
            assert client.post("/signin", data=data).location.endswith("/signin/two-factor")
            assert client.post("/signin/two-factor", data={"code": code}).status_code == expected
            db.session.remove()


def test_demo_if_empty_loads_nothing_the_second_time(demo_app):
    runner = demo_app.test_cli_runner()
    assert runner.invoke(args=["infrawg", "demo", "--if-empty"]).exit_code == 0
    again = runner.invoke(args=["infrawg", "demo", "--if-empty"])
    assert again.exit_code == 0, again.output
    assert "nothing loaded" in again.output


def test_demo_archive_ships_in_the_package_and_loads_without_anything_outside_it(
    demo_app, monkeypatch, tmp_path
):
    # Run from a directory with no ../shared next to it: nothing the demo reads is outside
    # the repository (the archive is package data, infrawg/demo_data/infra.mbox.xz).
    package = Path(infrawg.__file__).resolve().parent
    assert DEMO_ARCHIVE.is_file() and package in DEMO_ARCHIVE.parents
    for demo_module in (package / "demo.py", *package.glob("*/demo.py")):
        assert "../shared" not in demo_module.read_text(), f"{demo_module} reads outside the repo"
        assert "shared/corpus" not in demo_module.read_text(), demo_module
    monkeypatch.chdir(tmp_path)
    loaded = demo_app.test_cli_runner().invoke(args=["infrawg", "demo", "--if-empty"])
    assert loaded.exit_code == 0, loaded.output
    assert "../shared" not in loaded.output and "not found" not in loaded.output

    with demo_app.app_context():
        messages = db.session.scalar(select(func.count()).select_from(Message))
        quarantined = db.session.scalars(select(Quarantine)).all()
        assert messages and messages >= 300
        assert len(quarantined) == 1
        assert f"with {messages} messages, 1 quarantined" in loaded.output
        # A job that failed and succeeded on its retry, and one that gave up.
        jobs = {job.state: job for job in db.session.scalars(select(Job))}
        assert jobs[JobState.SUCCEEDED].attempts == 2
        assert jobs[JobState.DEAD].last_error

        client = demo_app.test_client()
        password = demo_password(loaded.output)
        client.post("/signin", data={"email": "member1@example.org", "password": password})
        page = BeautifulSoup(client.get("/archives/infra/").data, "html.parser")
        subjects = [a.get_text(strip=True) for a in page.select("a[href*='/threads/']")]
        assert "Renewing the wildcard certificate for docs" in subjects
        db.session.remove()


def test_demo_archive_is_what_its_generator_writes():
    # infrawg/demo_data/archive.py is deterministic; regenerate the file after changing it.
    with lzma.open(DEMO_ARCHIVE) as archive:
        assert archive.read() == demo_archive.mbox_bytes()
