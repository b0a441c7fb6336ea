"""The app a real worker subprocess runs in the crash tests, with their jobs:
`flask --app tests.provisioning.worker_process:make_app infrawg worker`
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from infrawg import create_app
from infrawg.jobs.runner import JobContext, job


@job("test_crash_once", max_attempts=3)
def crash_once(ctx: JobContext, marker: str) -> None:
    """Marks each attempt; the first one stays busy long enough to be killed."""
    Path(f"{marker}.{ctx.attempt}").write_text(str(os.getpid()))
    if ctx.attempt == 1:
        time.sleep(120)
    ctx.log("finished")


@job("test_quick", max_attempts=3)
def quick(ctx: JobContext, marker: str) -> None:
    Path(marker).write_text(str(os.getpid()))
    ctx.log("finished")


def make_app():
    return create_app()
