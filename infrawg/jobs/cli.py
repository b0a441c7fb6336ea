"""`flask infrawg worker`, `flask infrawg tick` and `flask infrawg requeue-jobs`: run the
site's jobs and its schedules."""

from __future__ import annotations

import logging
import time

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.exc import SQLAlchemyError

from infrawg.extensions import db
from infrawg.jobs import runner as jobs
from infrawg.jobs import schedules

log = logging.getLogger(__name__)
# The longest pause between tries while the database is away.
MAX_BACKOFF = 30.0


def _forget_connection() -> None:
    # The session's connection may be dead; dropping it lets the pool hand out a fresh one.
    try:
        db.session.remove()
    except SQLAlchemyError:
        log.debug("discarding a broken session", exc_info=True)


@click.command("worker")
@with_appcontext
@click.option("--burst", is_flag=True, help="Run what is due now, then stop.")
@click.option("--poll", default=2.0, show_default=True, help="Seconds between looks at the table.")
def worker_command(burst: bool, poll: float) -> None:
    """Run jobs: from the job table, or from RQ when INFRAWG_REDIS_URL is set. Either way
    it ticks the schedules every INFRAWG_TICK_INTERVAL seconds (see `flask infrawg tick`)."""
    url = current_app.config.get("REDIS_URL")
    interval = float(current_app.config.get("TICK_INTERVAL") or 0)
    if url:
        from rq import SimpleWorker

        queue = jobs.rq_queue(url, current_app.config["RQ_QUEUE"])
        # SimpleWorker runs jobs in this process, inside this app context: no fork, so the
        # database pool is never shared across processes.
        click.echo(f"RQ worker on {queue.name} at {url}")
        if burst:
            if interval > 0:
                schedules.tick()
        else:
            # RQ's loop is its own: the tick runs beside it.
            app = current_app._get_current_object()  # type: ignore[attr-defined]
            schedules.start_ticker(app, interval)
        SimpleWorker([queue], connection=queue.connection).work(
            burst=burst, with_scheduler=not burst
        )
        return
    click.echo("Job worker on the job table" + (" (burst)" if burst else ""))
    failures = 0
    ticker = schedules.Ticker(interval)  # its first call ticks at once
    while True:
        try:
            ticker()
            ran = jobs.run_due_jobs()
        except SQLAlchemyError as error:
            # The database restarted, a connection was killed, the disk was busy: a worker
            # that exits here leaves every job waiting, so it waits and tries again.
            _forget_connection()
            if burst:
                raise
            failures += 1
            pause = min(poll * 2 ** (failures - 1), MAX_BACKOFF)
            first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
            click.echo(f"database error: {first_line}; trying again in {pause:.1f} s", err=True)
            time.sleep(pause)
            continue
        _forget_connection()
        if failures:
            click.echo("database is back", err=True)
            failures = 0
        if ran:
            click.echo(f"ran {ran} job(s)")
        if burst:
            return
        if not ran:
            time.sleep(poll)


@click.command("requeue-jobs")
@with_appcontext
def requeue_command() -> None:
    """Push every due job to RQ again (after Redis lost its queue)."""
    click.echo(f"{jobs.requeue_due()} due job(s) pushed")


@click.command("tick")
@with_appcontext
def tick_command() -> None:
    """Enqueue each scheduled run that is due, once (however many processes tick)."""
    created = schedules.tick()
    click.echo(f"{len(created)} scheduled run(s) queued")
