"""gunicorn settings for infrawg: `gunicorn -c deploy/gunicorn.conf.py` (what `make serve` runs).

Run from the repository's root (the app is `wsgi:app`). Command-line options override these:
`--bind`, `--workers`; `WEB_CONCURRENCY` sets the number of workers too.

- gthread workers: a few processes with threads each. Requests wait on the database, SMTP
  and DNS, not on the CPU; threads keep memory low, processes keep one slow request from
  stalling the rest.
- Graceful reload on SIGHUP (`systemctl reload infrawg-web`): the master re-reads this file,
  starts new workers with the new code, then lets the old ones finish their requests. The app
  is not preloaded in the master, so a reload picks up new code.
- The access log carries the request id (`rid=`) that the app returns as `X-Request-Id`, and
  the path without its query string (query strings may hold tokens).
- Several workers: prometheus_client's multiprocess mode, so /metrics sums every worker.
"""

import glob
import os
import shutil
import tempfile

bind = ["127.0.0.1:8000"]  # behind a reverse proxy; see the README's Deploying section
wsgi_app = "wsgi:app"
worker_class = "gthread"
threads = 4
workers = int(os.environ.get("WEB_CONCURRENCY") or min(len(os.sched_getaffinity(0)) + 1, 8))
timeout = 30  # a worker silent this long is killed and replaced
graceful_timeout = 30  # what a stop or reload gives running requests
keepalive = 5
# No max_requests: every recycled worker would leave its metrics file behind, and each scrape
# reads them all.
# Signals are the control interface (systemd's reload and stop); no socket under $HOME.
control_socket_disable = True

accesslog = "-"
errorlog = "-"
loglevel = "info"
access_log_format = (
    '%(h)s - %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms rid=%({x-request-id}o)s "%(a)s"'
)
# The app's own log lines (with their request id) are set up by create_app:
# infrawg.serving.configure_logging, at INFRAWG_LOG_LEVEL.


def on_starting(server):
    """In the master, once (not on reload): checks, and the shared directory for metrics."""
    from infrawg.startup import worker_warnings

    for message in worker_warnings(server.cfg.workers, os.environ):
        server.log.warning(message)
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        # Values a previous run left would be added to this run's (only its *.db files go).
        os.makedirs(directory, mode=0o700, exist_ok=True)
        for stale in glob.glob(os.path.join(directory, "*.db")):
            os.unlink(stale)
    else:
        directory = tempfile.mkdtemp(prefix="infrawg-metrics-")
        server.infrawg_own_metrics_dir = directory  # the arbiter outlives reloads of this file
    # Set before any worker imports prometheus_client: the workers inherit it.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory


def post_worker_init(worker):
    """The access log above is the request line here: the app's own one would double it."""
    import logging

    logging.getLogger("infrawg.request").setLevel(logging.WARNING)


def child_exit(server, worker):
    """A worker ended: its live gauges go with it (its counters stay in the sums)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    own = getattr(server, "infrawg_own_metrics_dir", None)
    if own:
        shutil.rmtree(own, ignore_errors=True)
