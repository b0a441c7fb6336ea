"""The embedded worker (INFRAWG_EMBEDDED_WORKER=1, what `make run` sets): the runner's loop
and the schedules' tick in a thread of the web process."""

from __future__ import annotations

import logging
import threading

from flask import Flask

from infrawg.extensions import db
from infrawg.jobs.runner import run_due_jobs
from infrawg.jobs.schedules import Ticker

log = logging.getLogger(__name__)


def start_embedded_worker(app: Flask, poll: float = 1.0) -> threading.Thread:
    """Run due jobs in a daemon thread of this process (the embedded default), and tick the
    schedules every INFRAWG_TICK_INTERVAL seconds."""
    stop = threading.Event()
    # The embedded worker ticks too, so `make run` runs the schedules with nothing else.
    ticker = Ticker(float(app.config.get("TICK_INTERVAL") or 0))

    def loop() -> None:
        while not stop.is_set():
            ran = 0
            with app.app_context():
                try:
                    ticker()
                    ran = run_due_jobs(limit=10)
                except Exception:
                    log.exception("the embedded job worker hit an error; continuing")
                finally:
                    db.session.remove()
            if not ran:
                stop.wait(poll)

    thread = threading.Thread(target=loop, name="infrawg-jobs", daemon=True)
    thread.stop = stop  # type: ignore[attr-defined]
    thread.start()
    log.info("embedded job worker started")
    return thread
