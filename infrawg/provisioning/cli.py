"""`flask infrawg worker` and `flask infrawg jobs ...`: run the service layer's jobs."""

from __future__ import annotations

import time

import click
from flask import current_app

from infrawg.cli import infrawg_cli
from infrawg.extensions import db


@infrawg_cli.command("worker")
@click.option("--burst", is_flag=True, help="Run what is due now, then stop.")
@click.option("--poll", default=2.0, show_default=True, help="Seconds between looks at the table.")
def worker_command(burst: bool, poll: float) -> None:
    """Run jobs: from the job table, or from RQ when INFRAWG_REDIS_URL is set."""
    from infrawg.provisioning import jobs

    url = current_app.config.get("REDIS_URL")
    if url:
        from rq import SimpleWorker

        queue = jobs.rq_queue(url, current_app.config["RQ_QUEUE"])
        # SimpleWorker runs jobs in this process, inside this app context: no fork, so the
        # database pool is never shared across processes.
        click.echo(f"RQ worker on {queue.name} at {url}")
        SimpleWorker([queue], connection=queue.connection).work(
            burst=burst, with_scheduler=not burst
        )
        return
    click.echo("Job worker on the job table" + (" (burst)" if burst else ""))
    while True:
        ran = jobs.run_due_jobs()
        db.session.remove()
        if ran:
            click.echo(f"ran {ran} job(s)")
        if burst:
            return
        if not ran:
            time.sleep(poll)


@infrawg_cli.command("requeue-jobs")
def requeue_command() -> None:
    """Push every due job to RQ again (after Redis lost its queue)."""
    from infrawg.provisioning import jobs

    click.echo(f"{jobs.requeue_due()} due job(s) pushed")
