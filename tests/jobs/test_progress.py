"""A job's live progress (issue 11, part 3): the fragment htmx polls every 2 s until the job
ends, for staff and for the tenant members of the service it works on, and for nobody else."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from infrawg.extensions import db
from infrawg.jobs import JobContext, enqueue, job
from infrawg.jobs.models import Job, JobLogLine, JobState
from infrawg.notices.models import MailState, OutboxMail
from infrawg.provisioning import service as services
from infrawg.provisioning.models import ServiceType
from infrawg.tenants.models import TenantMember, TenantOrganisation
from infrawg.timeutil import utcnow
from tests.conftest import html, make_organisation

SECRET = "tsig-secret-hmac-Zm9vYmFy"


@job("test_progress_work", max_attempts=3)
def _work(ctx: JobContext, service_id: int) -> None:
    ctx.log("working")


def organisation_of(person) -> TenantOrganisation:
    return db.session.scalar(
        select(TenantOrganisation)
        .join(TenantMember, TenantMember.organisation_id == TenantOrganisation.id)
        .where(TenantMember.person_id == person.id)
    )


def service_job(tenant) -> Job:
    """A job about a DNS service of ``tenant``'s organisation, failing once, with its log."""
    service_type = ServiceType(name="DNS hosting", kind="dns", provider="zonefile", capacity=3)
    db.session.add(service_type)
    db.session.flush()
    requested = services.request_service(
        tenant, organisation_of(tenant), service_type, {"zone": "progress.example.org"}
    )
    target = enqueue("test_progress_work", subject=requested, service_id=requested.id)
    target.state = JobState.FAILED
    target.attempts = 1
    target.last_error = f"UpdateFailed: NOTAUTH with key {SECRET}"
    target.next_run_at = utcnow()
    target.progress = "waiting for the primary to answer"
    db.session.add_all(
        [
            JobLogLine(
                job_id=target.id, attempt=1, line="attempt 1 of 3 by ns-a:1", staff_only=True
            ),
            JobLogLine(job_id=target.id, attempt=1, line="planned 2 changes to the zone"),
            JobLogLine(job_id=target.id, attempt=1, line=f"error: {SECRET}", staff_only=True),
            JobLogLine(job_id=target.id, attempt=1, line="will retry in 30 s"),
        ]
    )
    db.session.commit()
    return target


def progress(client, target: Job, htmx: bool = True):
    headers = {"HX-Request": "true"} if htmx else {}
    return client.get(f"/jobs/{target.id}/progress", headers=headers)


def test_r5_tenant_members_follow_their_services_job_until_it_ends(app, people, tenant_member):
    target = service_job(tenant_member)
    client = people.sign_in(app.test_client(), tenant_member)

    response = progress(client, target)
    assert response.status_code == 200
    assert "HX-Request" in response.headers.get("Vary", "")
    body = response.get_data(as_text=True)
    fragment = html(response).select_one(f"#job-{target.id}-progress")
    assert fragment is not None and html(response).select_one("h1") is None  # the fragment
    # Still under way: polled every 2 s, swapped whole.
    assert fragment["hx-trigger"] == "every 2s"
    assert fragment["hx-get"] == f"/jobs/{target.id}/progress"
    assert fragment["hx-swap"] == "outerHTML"
    assert fragment.select_one(".status").text == JobState.FAILED.label
    assert "waiting for the primary to answer" in fragment.text
    lines = [li.text for li in fragment.select(".job-log li")]
    assert any("planned 2 changes" in line for line in lines)
    assert any("will retry in 30 s" in line for line in lines)
    # Never the error's text, nor the worker's name: those lines are staff's.
    assert SECRET not in body and "ns-a" not in body
    assert "Staff can see why" in fragment.text

    target.state, target.finished_at, target.progress = JobState.SUCCEEDED, utcnow(), None
    db.session.commit()
    fragment = html(progress(client, target)).select_one(f"#job-{target.id}-progress")
    assert not fragment.has_attr("hx-trigger")  # finished: polling stops
    assert fragment.select_one(".status").text == JobState.SUCCEEDED.label

    # Opened as a page (a link, a reload), the same fragment inside the site's layout.
    page = html(progress(client, target, htmx=False))
    assert page.select_one("h1").text.startswith(f"Job #{target.id}")
    assert page.select_one(f"#job-{target.id}-progress") is not None


def test_staff_follow_any_job_and_read_its_staff_only_lines(app, people, staff, tenant_member):
    target = service_job(tenant_member)
    client = people.sign_in(app.test_client(), staff)
    fragment = html(progress(client, target)).select_one(f"#job-{target.id}-progress")
    assert any("ns-a" in li.text for li in fragment.select(".job-log li"))
    nothing = enqueue("test_progress_work", service_id=0)
    db.session.commit()
    assert progress(client, nothing).status_code == 200


def test_a_tenant_cannot_follow_another_organisations_job_nor_one_about_no_service(
    app, people, tenant_member
):
    target = service_job(tenant_member)
    other = people.make("Olga Other")
    make_organisation("Other WG", other)
    outsider = people.sign_in(app.test_client(), other)
    assert progress(outsider, target).status_code == 404
    assert progress(outsider, target, htmx=False).status_code == 404

    tenant = people.sign_in(app.test_client(), tenant_member)
    about_nothing = enqueue("test_progress_work", service_id=target.args["service_id"])
    mail = OutboxMail(recipients=tenant_member.email, subject="s", body="b", state=MailState.SENT)
    db.session.add(mail)
    db.session.flush()
    about_their_mail = enqueue("test_progress_work", subject=mail, service_id=0)
    db.session.commit()
    # Fail closed: only a job about their organisation's service is theirs to follow.
    assert progress(tenant, about_nothing).status_code == 404
    assert progress(tenant, about_their_mail).status_code == 404
    assert progress(tenant, target).status_code == 200
    assert tenant.get("/jobs/999999/progress").status_code == 404


@pytest.mark.parametrize("state", [JobState.QUEUED, JobState.RUNNING])
def test_the_fragment_included_without_lines_loads_them_and_polls(app, state, tenant_member):
    target = service_job(tenant_member)
    target.state = state
    db.session.commit()
    from flask import render_template

    with app.test_request_context():
        fragment = html_of(render_template("jobs/_progress.html", job=target))
    assert fragment["hx-trigger"] == "load, every 2s"
    target.state = JobState.SUCCEEDED
    db.session.commit()
    with app.test_request_context():
        fragment = html_of(render_template("jobs/_progress.html", job=target))
    assert fragment["hx-trigger"] == "load"  # its lines once, then nothing more to ask


def html_of(text: str):
    from bs4 import BeautifulSoup

    return BeautifulSoup(text, "html.parser").select_one(".job-progress")
