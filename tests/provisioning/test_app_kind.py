"""The application kind (R14): a cookbook produced with the tenant and reviewed by staff.

The tenant describes the application on the service page; each change is a new version,
checked at once with the real tools (ruby, erb, RuboCop, the static cookbook check); staff
review the diff and the checks and approve or ask for changes; only an approved version is
published, as a git commit in the cookbook directory the operators' Chef reads.

Decision on a version whose checks fail (a broken template): it is saved and shown with its
failing check, and staff cannot approve it (refused, 409); they ask for changes instead.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select

from infrawg.audit import AuditEvent
from infrawg.extensions import db
from infrawg.jobs import run_due_jobs
from infrawg.provisioning.kinds.app.models import AppVersion, VersionState
from infrawg.provisioning.models import Service, ServiceState, ServiceType
from tests.conftest import html

FIELDS = {
    "description": "The Docs WG's site",
    "packages": "nginx\npython3",
    "command": "/usr/bin/python3 -m http.server 8080",
    "user": "www-data",
    "ports": "8080, 8125/udp",
    "template_path": "/etc/docs/docs.conf",
    "template_content": "port = <%= @port %>\ngreeting = <%= @greeting %>\n",
    "attributes": "port=8080\ngreeting=hello, world",
}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return tmp_path / "chef-repo"


@pytest.fixture
def app_config(zonefile_settings, repo) -> dict:
    return {"PROVIDERS": {"zonefile": zonefile_settings, "cookbook_dir": {"directory": str(repo)}}}


@pytest.fixture
def app_service(app, people, client, chair, tenant_member, organisation) -> Service:
    """An application requested by the tenant member and approved by the chair (no version
    yet, so the provisioning job publishes nothing)."""
    app_type = ServiceType(
        name="Application hosting", kind="app", provider="cookbook_dir", created_by_id=chair.id
    )
    db.session.add(app_type)
    db.session.commit()
    tenant = people.sign_in(client, tenant_member)
    data = {
        "organisation": organisation.id,
        "service_type": app_type.id,
        "cookbook": "docs_site",
        "vm": "web1.vms.infrawg.test",
    }
    assert tenant.post("/services/request", data=data).status_code == 303
    service = db.session.scalar(select(Service))
    chair_client = people.sign_in(app.test_client(), chair)
    assert chair_client.post(f"/services/{service.id}/decide/approve").status_code == 303
    run_due_jobs()
    assert service.state == ServiceState.ACTIVE
    return service


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
    return done.stdout


def _save(client, service: Service, **changes: str) -> int:
    response = client.post(f"/services/{service.id}/app/versions", data=FIELDS | changes)
    assert response.status_code == 303, response.text
    return int(response.headers["Location"].rsplit("/", 1)[1])


def test_r14_staff_review_required_before_publish(
    app, people, client, staff, tenant_member, app_service, repo
):
    tenant = client  # signed in as the tenant member by app_service
    page = html(tenant.get(f"/services/{app_service.id}"))
    assert "not in infrawg" in page.select_one("#converge-note").text
    assert page.select_one("#app-form textarea[name=packages]") is not None

    number = _save(tenant, app_service)
    base = f"/services/{app_service.id}/app/versions/{number}"
    assert tenant.post(f"{base}/submit").status_code == 303
    version = db.session.scalar(select(AppVersion))
    assert version.state == VersionState.SUBMITTED and version.failed == 0

    # Submitted, not approved: publishing is refused with the rule, and nothing is written.
    refused = tenant.post(f"{base}/publish")
    assert refused.status_code == 409
    assert "only a version staff approved can be published" in refused.text
    assert not repo.exists()
    # The tenant cannot approve their own version.
    assert tenant.post(f"{base}/approve", data={"comment": "fine"}).status_code == 403

    reviewer = people.sign_in(app.test_client(), staff)
    # Staff find it waiting on their dashboard (the tenant does not).
    waiting = html(reviewer.get("/dashboard")).select_one("#waiting-app-reviews")
    assert "1 cookbook version waiting" in waiting.text
    assert waiting.select_one("a")["href"] == base
    assert html(tenant.get("/dashboard")).select_one("#waiting-app-reviews") is None
    assert reviewer.post(f"{base}/approve", data={"comment": "Looks good"}).status_code == 303
    assert html(reviewer.get("/dashboard")).select_one("#waiting-app-reviews") is None
    db.session.refresh(version)
    assert version.state == VersionState.APPROVED and version.reviewer_id == staff.id

    assert tenant.post(f"{base}/publish").status_code == 303
    db.session.refresh(version)
    assert version.state == VersionState.PUBLISHED and version.published_commit
    message = _git(repo, "log", "-1", "--format=%B")
    assert "Version: 1.0.0" in message and f"Approved-by: {staff.name}" in message
    assert "cookbooks/docs_site/metadata.rb" in _git(repo, "ls-tree", "-r", "--name-only", "HEAD")
    actions = set(db.session.scalars(select(AuditEvent.action)))
    assert {"app.version_approved", "app.version_published"} <= actions

    # The next version, reviewed against the published one, is published as the next commit
    # however much of the cookbook it rewrites.
    number = _save(
        tenant,
        app_service,
        packages="nginx\npython3\ncurl",
        ports="9090",
        attributes="port=9090\ngreeting=hi",
    )
    base = f"/services/{app_service.id}/app/versions/{number}"
    assert tenant.post(f"{base}/submit").status_code == 303
    assert reviewer.post(f"{base}/approve", data={"comment": "ok"}).status_code == 303
    assert tenant.post(f"{base}/publish").status_code == 303, tenant.post(f"{base}/publish").text
    assert _git(repo, "rev-list", "--count", "HEAD").strip() == "2"
    assert "Version: 1.1.0" in _git(repo, "log", "-1", "--format=%B")


def test_r14_checks_shown_in_the_review(app, people, client, staff, app_service):
    tenant = client
    # A template with Ruby in it: saved as a version whose description check fails.
    number = _save(tenant, app_service, template_content="port = <% system('id') %>\n")
    base = f"/services/{app_service.id}/app/versions/{number}"
    assert tenant.post(f"{base}/submit").status_code == 303

    reviewer = people.sign_in(app.test_client(), staff)
    page = html(reviewer.get(base))
    failed = [row.text for row in page.select("#checks tr.failed")]
    assert failed and "Only tags of the form <%= @attribute %>" in failed[0]
    assert "1 failed" in page.select_one("#checks-heading").text
    assert page.select_one("#approve-refused") is not None
    # Approval is refused (decided: refused, not warned); asking for changes works.
    response = reviewer.post(f"{base}/approve", data={"comment": "ok"})
    assert response.status_code == 409 and "cannot be approved" in response.text
    assert reviewer.post(f"{base}/changes", data={"comment": "No Ruby, please"}).status_code == 303

    # A good version shows each check passing, the real tools' results included.
    good = _save(tenant, app_service)
    page = html(reviewer.get(f"/services/{app_service.id}/app/versions/{good}"))
    checks = {row.select("td")[0].text for row in page.select("#checks tr.passed")}
    assert {"RuboCop", "static cookbook check", "erb -x -T - | ruby -c"} <= checks
    assert not page.select("#checks tr.failed")


def test_r14_each_change_is_a_new_version_with_a_diff(app, people, client, staff, app_service):
    tenant = client
    first = _save(tenant, app_service)
    second = _save(tenant, app_service, attributes="port=9090\ngreeting=hello, world")
    assert (first, second) == (1, 2)
    versions = list(db.session.scalars(select(AppVersion).order_by(AppVersion.number)))
    assert [v.spec["version"] for v in versions] == ["1.0.0", "1.1.0"]
    assert versions[0].spec["attributes"][0]["default"] == 8080  # the first is kept as it was

    page = html(tenant.get(f"/services/{app_service.id}/app/versions/{second}"))
    diff = page.select_one("#version-diff").text.splitlines()
    assert "-default['docs_site']['port'] = 8080" in diff
    assert "+default['docs_site']['port'] = 9090" in diff
    first_page = html(tenant.get(f"/services/{app_service.id}/app/versions/{first}"))
    assert "--- /dev/null" in first_page.select_one("#version-diff").text

    # The service page lists both; saving with nothing changed is not a new version.
    rows = html(tenant.get(f"/services/{app_service.id}")).select("#app-versions tbody tr")
    assert len(rows) == 2
    same = tenant.post(
        f"/services/{app_service.id}/app/versions",
        data=FIELDS | {"attributes": "port=9090\ngreeting=hello, world"},
    )
    assert same.status_code == 409 and "Nothing changed since version 2" in same.text
    # A malformed line is refused on the form, next to its field.
    bad = tenant.post(f"/services/{app_service.id}/app/versions", data=FIELDS | {"ports": "web"})
    assert bad.status_code == 400 or bad.status_code == 422
    assert "is not a port" in bad.text


def test_r14_nobody_approves_their_own_version_and_only_drafts_are_submitted(
    people, staff, app_service
):
    from infrawg.errors import Conflict
    from infrawg.provisioning.kinds.app import versions

    # Staff may edit a tenant's application too; then another person reviews it.
    version = versions.save_version(staff, app_service, FIELDS)
    versions.submit_version(staff, app_service, version.number)
    db.session.commit()
    with pytest.raises(Conflict, match="someone other than its author"):
        versions.approve_version(staff, app_service, version.number, "mine")
    db.session.rollback()
    with pytest.raises(Conflict, match="only a draft is submitted"):
        versions.submit_version(staff, app_service, version.number)
