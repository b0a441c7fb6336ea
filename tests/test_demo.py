"""`flask infrawg demo` (what `make run` loads): on a fresh database, the demo accounts sign in
and the main pages answer; the demo archive ships in the package and needs nothing outside
the repository. With `make run`'s settings (`infrawg.provisioning.demo.write_settings`) the
demo has servers on libvirt's test driver and an application waiting for staff's review, and
without libvirt-python it still loads, without the servers."""

from __future__ import annotations

import json
import lzma
import os
import re
import sys
from collections.abc import Callable, Iterator
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
from infrawg.membership.models import Person
from infrawg.provisioning import demo as services_demo
from infrawg.provisioning.kinds.app.models import AppVersion, VersionState
from infrawg.provisioning.kinds.vm.models import backup_of
from infrawg.provisioning.models import Service, ServiceState, ServiceType
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


@pytest.fixture
def make_run_app(tmp_path) -> Iterator[Callable[[], Flask]]:
    """Makes the app of `make run` on a database of its own, migrated and empty, with the
    settings `make run` gives it: the providers file and the backups that `python -m
    infrawg.provisioning.demo <instance>` writes (here into tmp_path/instance) when called."""
    made: list[Flask] = []

    def make() -> Flask:
        instance = tmp_path / "instance"
        services_demo.write_settings(instance)
        backups = {
            "repository": str(instance / "restic" / "{organisation}"),
            "password": f"file:{instance / 'restic.pass'}",
            "source_directory": str(instance / "vm-exports"),
        }
        app = migrated_app(
            url,
            ARCHIVE_DIR=str(tmp_path / "archive"),
            PROVIDERS=str(instance / services_demo.PROVIDERS_FILE),
            VM_BACKUP=json.dumps(backups),
        )
        app.test_client_class = FormClient
        made.append(app)
        return app

    with fresh_database(os.environ.get("INFRAWG_TEST_DATABASE_URL"), tmp_path) as url:
        try:
            yield make
        finally:
            for app in made:
                with app.app_context():
                    db.session.remove()
                    db.engine.dispose()


def signed_in(app: Flask, email: str, output: str) -> FormClient:
    client = app.test_client()
    response = client.post("/signin", data={"email": email, "password": demo_password(output)})
    assert response.status_code == 303, (email, response.status_code)
    if response.location.endswith("/signin/two-factor"):
        code = pyotp.TOTP(demo_totp_secret(output)).now()
        assert client.post("/signin/two-factor", data={"code": code}).status_code == 303
    return client  # type: ignore[return-value]


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


def test_demo_of_make_run_has_servers_on_the_test_driver_and_an_application_in_review(
    make_run_app,
):
    libvirt = pytest.importorskip("libvirt")
    app = make_run_app()
    loaded = app.test_cli_runner().invoke(args=["infrawg", "demo", "--if-empty"])
    assert loaded.exit_code == 0, loaded.output
    assert "build1 requested (the chair decides), web1 approved and active." in loaded.output
    assert "docs_site: version 1 waits for staff's review (0 failed check(s))" in loaded.output
    settings = json.loads(Path(app.config["PROVIDERS"]).read_text())
    uri = settings["libvirt"]["uri"]
    assert uri.startswith("test:///") and uri.endswith("/instance/libvirt/node.xml")

    with app.app_context():
        tenant = db.session.scalar(select(Person).where(Person.email == "tenant1@example.org"))
        vm_type = db.session.scalar(select(ServiceType).where(ServiceType.kind == "vm"))
        assert vm_type.provider == "libvirt" and vm_type.capacity == 5
        assert "test driver" in vm_type.name and "no real machine" in vm_type.name
        servers = {
            s.name: s
            for s in db.session.scalars(
                select(Service).where(Service.service_type_id == vm_type.id)
            )
        }
        assert servers["build1"].state == ServiceState.REQUESTED
        assert servers["web1"].state == ServiceState.ACTIVE, servers["web1"].state_reason
        assert {s.requested_by_id for s in servers.values()} == {tenant.id}
        assert all(backup_of(s) is not None for s in servers.values())  # R13: from the request
        assert servers["web1"].parameters["size"] == "medium"
        assert len(servers["web1"].parameters["ssh_keys"]) == 2
        web1_id = servers["web1"].id

        app_service = db.session.scalar(
            select(Service).join(ServiceType).where(ServiceType.kind == "app")
        )
        assert app_service.state == ServiceState.ACTIVE and app_service.name == "docs_site"
        (version,) = db.session.scalars(select(AppVersion))
        assert version.state == VersionState.SUBMITTED and version.failed == 0
        assert version.author_id == tenant.id and version.reviewer_id is None
        app_id = app_service.id
        db.session.remove()

    # The provisioning job really made web1 on the hypervisor the node file holds.
    conn = libvirt.openReadOnly(uri)
    try:
        assert conn.lookupByName("web1").isActive()
        assert [d.name() for d in conn.listAllDomains()] == ["web1"]
    finally:
        conn.close()

    with app.app_context():
        tenant_client = signed_in(app, "tenant1@example.org", loaded.output)
        # The UI says the provider is the test driver: the catalogue, the request, the page.
        page = BeautifulSoup(tenant_client.get(f"/services/{web1_id}").data, "html.parser")
        assert "libvirt test driver: simulated, no real machine" in page.get_text()
        assert "Active" in page.select_one("#server-state").text
        form = tenant_client.get(f"/services/request?type={vm_type.id}")
        assert form.status_code == 200 and b"no real machine" in form.data
        page = BeautifulSoup(tenant_client.get(f"/services/{app_id}").data, "html.parser")
        assert "not in infrawg" in page.select_one("#converge-note").text
        db.session.remove()

        staff = signed_in(app, "staff1@example.org", loaded.output)
        review = staff.get(f"/services/{app_id}/app/versions/1")
        assert review.status_code == 200 and b"recipes/default.rb" in review.data
        backups = BeautifulSoup(staff.get("/services/backups").data, "html.parser")
        assert "web1" in backups.get_text()
        db.session.remove()

        chair = signed_in(app, "chair@example.org", loaded.output)
        catalogue = BeautifulSoup(chair.get("/services/catalogue").data, "html.parser").get_text()
        assert "VM on libvirt" in catalogue and "libvirt's test driver" in catalogue
        db.session.remove()


def test_demo_of_make_run_loads_without_libvirt_python(make_run_app, monkeypatch):
    # As on a machine without the `vm` extra: `import libvirt` fails, so make run's settings
    # have no libvirt provider, and the demo says it has no servers.
    monkeypatch.setitem(sys.modules, "libvirt", None)
    app = make_run_app()
    assert "libvirt" not in json.loads(Path(app.config["PROVIDERS"]).read_text())
    loaded = app.test_cli_runner().invoke(args=["infrawg", "demo", "--if-empty"])
    assert loaded.exit_code == 0, loaded.output
    assert "Demo data: no servers (libvirt-python is not installed" in loaded.output
    assert "Demo data loaded." in loaded.output
    with app.app_context():
        kinds = set(db.session.scalars(select(ServiceType.kind)))
        assert kinds == {"dns", "app"}
        db.session.remove()


def test_demo_of_make_run_after_run_ca_offers_certificates(make_run_app, tmp_path):
    # `make run-ca` wrote its settings (as tests/servers/run_ca.py does): make run's providers
    # take its acme provider, and a fresh demo has a certificate type on it.
    ca = tmp_path / "instance" / "ca"
    ca.mkdir(parents=True)
    acme = {
        "directory_url": "https://127.0.0.1:14000/dir",
        "key_directory": str(tmp_path / "instance" / "acme-keys"),
        "ca_identities": "pebble.local",
        "contact_email": "staff@infrawg.test",
    }
    (ca / "providers.json").write_text(json.dumps({"zonefile": {}, "acme": acme}))
    app = make_run_app()
    assert json.loads(Path(app.config["PROVIDERS"]).read_text())["acme"] == acme
    loaded = app.test_cli_runner().invoke(args=["infrawg", "demo", "--if-empty"])
    assert loaded.exit_code == 0, loaded.output
    assert "Demo data: certificates on the ACME provider acme (make run-ca)." in loaded.output
    with app.app_context():
        tls = db.session.scalar(select(ServiceType).where(ServiceType.kind == "tls"))
        assert tls is not None and tls.provider == "acme"
        db.session.remove()
