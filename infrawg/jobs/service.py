"""What the job pages and the areas ask of the job table: the queue, one job, a subject's jobs."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import selectinload

from infrawg.errors import Invalid, NotFound
from infrawg.extensions import Model, db
from infrawg.jobs.models import Job, JobLogLine, JobState


def _model_called(table: str) -> type[Model] | None:
    for mapper in Model.registry.mappers:
        if mapper.class_.__tablename__ == table:
            return mapper.class_
    return None


def subject_of(target: Job) -> Any | None:
    """The row a job works on (a service, a mail...), or None."""
    if target.subject_type is None or target.subject_id is None:
        return None
    model = _model_called(target.subject_type)
    return db.session.get(model, target.subject_id) if model is not None else None


def subjects_of(targets: list[Job]) -> dict[int, Any]:
    """The subject of each job of a page, by job id: one query per kind of subject."""
    wanted: dict[str, set[int]] = {}
    for target in targets:
        if target.subject_type and target.subject_id is not None:
            wanted.setdefault(target.subject_type, set()).add(target.subject_id)
    found: dict[tuple[str, int], Any] = {}
    for table, ids in wanted.items():
        model = _model_called(table)
        if model is not None:
            key = model.__table__.c.id
            for row in db.session.scalars(select(model).where(key.in_(ids))):
                found[table, row.id] = row  # type: ignore[attr-defined]
    return {
        t.id: found[t.subject_type, t.subject_id]
        for t in targets
        if t.subject_type and t.subject_id is not None and (t.subject_type, t.subject_id) in found
    }


def about(subject: Model) -> Select:
    """The jobs that work on ``subject``, newest first."""
    return (
        select(Job)
        .where(Job.subject_type == subject.__tablename__, Job.subject_id == subject.id)  # type: ignore[attr-defined]
        .order_by(Job.id.desc())
    )


def jobs_of(subject: Model, limit: int = 20) -> list[Job]:
    return list(db.session.scalars(about(subject).limit(limit)))


def dead_jobs_count() -> Select:
    """The count of jobs that gave up (staff's nav counter runs it with the others)."""
    return select(func.count()).select_from(Job).where(Job.state == JobState.DEAD)


def job_queue(state: str | None = None) -> Select:
    stmt = select(Job).order_by(Job.id.desc())
    if state:
        try:
            stmt = stmt.where(Job.state == JobState(state))
        except ValueError as exc:
            raise Invalid(f"{state!r} is not a job state.") from exc
    return stmt


def get_job(job_id: int) -> Job:
    found = db.session.scalar(
        select(Job).where(Job.id == job_id).options(selectinload(Job.log_lines))
    )
    if found is None:
        raise NotFound("There is no such job.")
    return found


# How many of a job's latest log lines its progress shows.
PROGRESS_LINES = 20


def recent_lines(target: Job, *, staff: bool, limit: int = PROGRESS_LINES) -> list[JobLogLine]:
    """The job's latest log lines, oldest first; without ``staff``, only the lines not
    marked staff_only (the runner's worker names and error texts are)."""
    stmt = select(JobLogLine).where(JobLogLine.job_id == target.id)
    if not staff:
        stmt = stmt.where(JobLogLine.staff_only.is_(False))
    latest = list(db.session.scalars(stmt.order_by(JobLogLine.id.desc()).limit(limit)))
    return latest[::-1]


def get_followed_job(job_id: int) -> Job | None:
    return db.session.get(Job, job_id)
