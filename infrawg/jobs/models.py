"""The site's background jobs: one table for every area, each job naming its subject."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from infrawg.enums import LabelledEnum
from infrawg.extensions import Model, enum_type
from infrawg.timeutil import utcnow


class JobState(LabelledEnum):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed, will retry"  # an attempt failed; another is at next_run_at
    DEAD = "dead", "Gave up"  # out of attempts, or an error a retry cannot fix; staff may retry

    @property
    def scheduled(self) -> bool:
        """An attempt is due at the job's next_run_at."""
        return self in (JobState.QUEUED, JobState.FAILED)

    @property
    def pending(self) -> bool:
        """Not finished yet: waiting, running, or failed with another attempt to come."""
        return self in (JobState.QUEUED, JobState.RUNNING, JobState.FAILED)

    @property
    def retryable(self) -> bool:
        """Staff may run it again now (a stalled running job too: see runner.stalled)."""
        return self in (JobState.FAILED, JobState.DEAD)


class Job(Model):
    """A unit of background work: a registered job function's name and its arguments.

    ``subject_type``/``subject_id`` name what it works on (a service, a survey, a mail), by
    the subject's table name and id, without a foreign key to any area's table.
    """

    __tablename__ = "job"
    __table_args__ = (
        Index("ix_job_state_next_run", "state", "next_run_at"),
        Index("ix_job_subject", "subject_type", "subject_id"),
        # One run per schedule slot, whichever process ticks first (runner.tick).
        Index("ux_job_run_key", "run_key", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(80), index=True)
    args: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[JobState] = mapped_column(enum_type(JobState), default=JobState.QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=5)
    next_run_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    locked_by: Mapped[str | None] = mapped_column(String(120))
    # The running attempt's last sign of life; its lease runs out INFRAWG_JOB_LEASE after it.
    heartbeat_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    plan: Mapped[str | None] = mapped_column(Text)  # the diff the last attempt planned
    # What a long operation reported when it last asked to be called again (runner.Pending).
    progress: Mapped[str | None] = mapped_column(Text)
    subject_type: Mapped[str | None] = mapped_column(String(40))
    subject_id: Mapped[int | None]
    # A scheduled run's "<job name>@<slot start, ISO>"; None for a job enqueued by an act.
    run_key: Mapped[str | None] = mapped_column(String(160))

    log_lines: Mapped[list[JobLogLine]] = relationship(
        lazy="raise", order_by="JobLogLine.id", back_populates="job"
    )

    @property
    def audit_label(self) -> str:
        return f"job #{self.id} {self.kind}"


class JobLogLine(Model):
    __tablename__ = "job_log_line"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("job.id"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    line: Mapped[str] = mapped_column(Text)
    # For staff only (the worker that ran it, an error's text); the others are shown to the
    # people who follow the job's subject (a service's tenant members) as it runs.
    staff_only: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    job: Mapped[Job] = relationship(lazy="raise", back_populates="log_lines")
