"""Staff's pages of the job table: the queue, one job with its plan and log, a retry."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from flask import Flask, current_app, request, url_for
from flask_login import current_user

from infrawg.errors import NotFound
from infrawg.forms import ConfirmForm
from infrawg.jobs import bp, embedded, runner, schedules, service
from infrawg.jobs.models import Job, JobState
from infrawg.policy import Permission, can, require, requires, route_subject
from infrawg.web import (
    confirm_first,
    paginate,
    redirect_after_post,
    refused,
    render,
    submit,
    wants_fragment,
)

_worker_lock = threading.Lock()
_SUBJECT_PAGES = "infrawg_job_subject_pages"

SubjectLink = Callable[[Any], tuple[str, str]]


def register_subject_page(app: Flask, table: str, link: SubjectLink) -> None:
    """How a job's page links the row it works on: ``link(row)`` gives (label, url)."""
    app.extensions.setdefault(_SUBJECT_PAGES, {})[table] = link


def subject_link(target: Job) -> tuple[str, str] | None:
    link = current_app.extensions.get(_SUBJECT_PAGES, {}).get(target.subject_type)
    subject = service.subject_of(target) if link is not None else None
    return link(subject) if link is not None and subject is not None else None


def subject_links(targets: list[Job]) -> dict[int, tuple[str, str]]:
    """(label, url) of each job's subject, by job id, for a page of the queue."""
    links = current_app.extensions.get(_SUBJECT_PAGES, {})
    return {
        job_id: links[subject.__tablename__](subject)
        for job_id, subject in service.subjects_of(targets).items()
        if subject.__tablename__ in links
    }


def start_worker_on_first_request(app: Flask) -> None:
    # INFRAWG_EMBEDDED_WORKER=1 (make run): jobs run in a thread of the web process. Started
    # on the first request, never in create_app, and not at all when RQ runs the jobs.
    @app.before_request
    def _embedded_worker() -> None:
        if not app.config.get("EMBEDDED_WORKER") or app.config.get("REDIS_URL"):
            return
        with _worker_lock:
            if "infrawg_job_worker" not in app.extensions:
                app.extensions["infrawg_job_worker"] = embedded.start_embedded_worker(app)


def nav_counts(person: Any) -> dict[str, Any]:
    if can(person, Permission.JOB_MANAGE):
        return {"dead_jobs": service.dead_jobs_count()}
    return {}


def _job(job_id: int, **_: Any) -> Job:
    require(current_user, Permission.JOB_MANAGE)
    return service.get_job(job_id)


@bp.get("/jobs")
@requires(Permission.JOB_MANAGE)
def job_queue():
    state = request.args.get("state") or None
    page = paginate(service.job_queue(state))
    return render(
        "jobs/jobs.html",
        "jobs/_job_rows.html",
        page=page,
        subjects=subject_links(list(page.items)),
        state=state,
        states=list(JobState),
        # The full page shows the schedules too (a newcomer finds them here).
        schedules=[] if wants_fragment() else schedules.schedules(),
        form=ConfirmForm(),
    )


def _job_page(target: Job, confirming: bool = False):
    return render(
        "jobs/job.html",
        job=target,
        subject=subject_link(target),
        form=ConfirmForm(),
        confirming=confirming,
    )


@bp.get("/jobs/<int:job_id>")
@requires(Permission.JOB_MANAGE, subject=_job)
def job_page(job_id: int):
    return _job_page(route_subject())


def _ask_before_retrying(target: Job):
    # Asked only about a job that may be retried now; otherwise the refusal answers.
    runner.check_retryable(target)
    return _job_page(target, confirming=True)


@bp.post("/jobs/<int:job_id>/retry")
@requires(Permission.JOB_MANAGE, subject=_job)
def retry_job(job_id: int):
    target = route_subject()
    if (asking := confirm_first(lambda: _ask_before_retrying(target))) is not None:
        return asking
    return submit(
        ConfirmForm(),
        lambda: runner.retry(current_user, target),
        done=lambda retried: redirect_after_post(
            url_for(".job_page", job_id=job_id), f"Job #{retried.id} queued again."
        ),
        again=refused,
    )


@bp.get("/jobs/schedules")
@requires(Permission.JOB_MANAGE)
def schedules_page():
    return render("jobs/schedules.html", schedules=schedules.schedules(), form=ConfirmForm())


@bp.post("/jobs/schedules/<name>/run")
@requires(Permission.JOB_MANAGE)
def run_schedule(name: str):
    return submit(
        ConfirmForm(),
        lambda: schedules.run_now(current_user, name),
        done=lambda queued: redirect_after_post(
            url_for(".job_page", job_id=queued.id), f"{name} queued now as job #{queued.id}."
        ),
        again=refused,
    )


def _followed_job(job_id: int, **_: Any) -> Job:
    # Those who see no service at all are refused (403) before anything is looked up; for
    # the others, a job they may not follow is not found, so a refusal never says it exists.
    if not can(current_user, Permission.JOB_MANAGE):
        require(current_user, Permission.SERVICE_VIEW)
    target = service.get_followed_job(job_id)
    if target is None or not can(current_user, Permission.JOB_FOLLOW, target):
        raise NotFound("There is no such job.")
    return target


@bp.get("/jobs/<int:job_id>/progress")
@requires(Permission.JOB_FOLLOW, subject=_followed_job)
def job_progress(job_id: int):
    """The job's state, progress and latest lines; htmx polls the fragment every 2 s until
    the job has finished (the finished fragment has no trigger, so polling stops)."""
    target = route_subject()
    staff = can(current_user, Permission.JOB_MANAGE)
    return render(
        "jobs/progress.html",
        "jobs/_progress.html",
        job=target,
        lines=service.recent_lines(target, staff=staff),
        staff=staff,
        subject=subject_link(target),
    )
