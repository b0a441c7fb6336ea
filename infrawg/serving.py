"""Serving in production: request ids, health and readiness probes, Prometheus metrics.

- Every response carries ``X-Request-Id`` (the proxy's, when it sent a sane one; a new one
  otherwise); gunicorn's access log and the app's log lines print it (deploy/gunicorn.conf.py).
- ``/healthz``: the process answers. Touches nothing else, so a database outage does not get
  every web process restarted.
- ``/readyz``: the database (and Redis, when configured) answers; 503 when not. Neither probe
  says more than ``ok``/``ready``/``not ready``: the reason goes to the log, not to the client.
- ``/metrics``: Prometheus text format, only with ``Authorization: Bearer <INFRAWG_METRICS_TOKEN>``;
  without a token configured the route does not exist (404). Request counts and latency are
  labelled by endpoint name, never by raw path (ids would make unbounded series). Under gunicorn
  with several workers the conf file turns on prometheus_client's multiprocess mode, so one
  scrape sums every worker; anywhere else the counters are this process's own.
"""

from __future__ import annotations

import hmac
import logging
import os
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, g, has_request_context, request
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError

from infrawg.extensions import db
from infrawg.policy import public

log = logging.getLogger(__name__)
request_log = logging.getLogger("infrawg.request")

# The app's log lines, each with its request's id ("-" outside a request).
LOG_FORMAT = "[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s rid=%(request_id)s: %(message)s"

bp = Blueprint("serving", __name__)

REQUEST_ID_HEADER = "X-Request-Id"
# A proxy's id (nginx's $request_id is 32 hex digits) is kept when it cannot break a log line.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{8,128}")
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_NO_STORE = {"Cache-Control": "no-store"}


# -- request ids ---------------------------------------------------------------------------------


def request_id() -> str | None:
    """This request's id (None outside a request)."""
    if not has_request_context():
        return None
    return g.get("request_id")


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every log record ("-" outside a request), for log formats."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id() or "-"
        return True


def _start_request() -> None:
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = incoming if _SANE_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
    g.request_started = time.perf_counter()


def _finish_request(response: Response) -> Response:
    rid = g.get("request_id") or uuid.uuid4().hex
    response.headers[REQUEST_ID_HEADER] = rid
    metrics: RequestMetrics | None = current_app.extensions.get("infrawg_metrics")
    started = g.get("request_started")
    seconds = time.perf_counter() - started if started is not None else 0.0
    if metrics is not None and started is not None:
        metrics.observe(
            request.endpoint or "unmatched", request.method, response.status_code, seconds
        )
    # One line per request; the path without its query string (tokens, search terms).
    request_log.info(
        "%s %s %s %.1fms", request.method, request.path, response.status_code, seconds * 1000
    )
    return response


# -- logging -------------------------------------------------------------------------------------


class _InfrawgHandler(logging.StreamHandler):
    """The one handler configure_logging adds (so a second app in the process adds none)."""


def configure_logging(app: Flask) -> None:
    """The ``infrawg`` loggers at INFRAWG_LOG_LEVEL, on stderr with the request id.

    Once per process, however many apps it builds; in place of Flask's default handler on
    ``app.logger`` (also the ``infrawg`` logger). Not under pytest (``TESTING``): pytest
    captures and levels the records itself.
    """
    from flask.logging import default_handler, wsgi_errors_stream

    if app.testing:
        return
    logger = logging.getLogger("infrawg")
    logger.setLevel(str(app.config.get("LOG_LEVEL") or "INFO").upper())
    if any(isinstance(h, _InfrawgHandler) for h in logger.handlers):
        return
    logger.removeHandler(default_handler)
    # The request's wsgi.errors (gunicorn's error log), else sys.stderr, as Flask's own.
    handler = _InfrawgHandler(wsgi_errors_stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    logger.addHandler(handler)


# -- metrics -------------------------------------------------------------------------------------


def multiprocess_mode() -> bool:
    """Whether prometheus_client keeps its values in files shared by every worker."""
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


class RequestMetrics:
    """The request counter and latency histogram of one app."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.multiprocess = multiprocess_mode()
        # In multiprocess mode the values live in files; a scrape reads them all, so nothing
        # is registered here (registering would count this process twice).
        self.registry = CollectorRegistry()
        target = None if self.multiprocess else self.registry
        self.requests = Counter(
            "infrawg_http_requests",
            "HTTP requests answered, by endpoint name, method and status.",
            ("endpoint", "method", "status"),
            registry=target,
        )
        self.latency = Histogram(
            "infrawg_http_request_duration_seconds",
            "Time to answer a request, by endpoint name.",
            ("endpoint",),
            registry=target,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
        )
        if not self.multiprocess:
            self.registry.register(JobCollector())

    def observe(self, endpoint: str, method: str, status: int, seconds: float) -> None:
        method = method if method in _METHODS else "other"
        self.requests.labels(endpoint, method, str(status)).inc()
        self.latency.labels(endpoint).observe(seconds)

    def scrape_registry(self) -> Any:
        if not self.multiprocess:
            return self.registry
        from prometheus_client import CollectorRegistry, multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        registry.register(JobCollector())
        return registry


class JobCollector:
    """Job queue gauges, read from the job table at scrape time (two indexed queries)."""

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        from infrawg.jobs.models import Job, JobState
        from infrawg.timeutil import utcnow

        up = GaugeMetricFamily(
            "infrawg_database_up", "1 when the scrape could read the database, else 0."
        )
        now = utcnow()
        waiting = (JobState.QUEUED, JobState.FAILED)
        try:
            # Succeeded jobs are history and only grow: they are not counted.
            counts = db.session.execute(
                select(Job.state, Job.kind, func.count())
                .where(Job.state.in_((*waiting, JobState.RUNNING, JobState.DEAD)))
                .group_by(Job.state, Job.kind)
            ).all()
            oldest_due = db.session.scalar(
                select(func.min(Job.next_run_at)).where(
                    Job.state.in_(waiting), Job.next_run_at <= now
                )
            )
            due = db.session.scalar(
                select(func.count()).where(Job.state.in_(waiting), Job.next_run_at <= now)
            )
            db.session.rollback()
        except SQLAlchemyError:
            db.session.rollback()
            log.warning("metrics: the job table could not be read", exc_info=True)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up

        jobs = GaugeMetricFamily(
            "infrawg_jobs",
            "Jobs by state (queued, running, failed = will retry, dead = gave up) and kind.",
            labels=("state", "kind"),
        )
        for state, kind, count in counts:
            jobs.add_metric([JobState(state).value, kind], count)
        yield jobs
        yield GaugeMetricFamily(
            "infrawg_job_queue_depth",
            "Jobs due now and waiting for a worker (queued, or failed and due for a retry).",
            value=due or 0,
        )
        age = (now - oldest_due).total_seconds() if oldest_due is not None else 0.0
        yield GaugeMetricFamily(
            "infrawg_job_oldest_queued_age_seconds",
            "Seconds the longest-waiting due job has waited for a worker; 0 when none waits.",
            value=max(age, 0.0),
        )


# -- routes --------------------------------------------------------------------------------------


def _plain(body: str, status: int = 200) -> Response:
    return Response(body, status=status, mimetype="text/plain", headers=_NO_STORE)


@bp.get("/healthz")
@public
def healthz() -> Response:
    """The process is up. Deliberately touches no database, cache or disk."""
    return _plain("ok\n")


def _database_ready() -> bool:
    try:
        with db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError:
        log.warning("readyz: the database is not reachable", exc_info=True)
        return False
    return True


def redis_urls(config: Any) -> list[str]:
    """The Redis servers this app uses: the RQ queue's and the rate limits' storage."""
    urls = [config.get("REDIS_URL"), config.get("RATELIMIT_STORAGE_URI")]
    found: list[str] = []
    for url in urls:
        if url and str(url).startswith(("redis://", "rediss://")) and url not in found:
            found.append(str(url))
    return found


def _redis_ready(url: str) -> bool:
    from redis import Redis
    from redis.exceptions import RedisError

    clients: dict[str, Redis] = current_app.extensions.setdefault("infrawg_readyz_redis", {})
    if url not in clients:
        clients[url] = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        clients[url].ping()
    except (RedisError, OSError):
        log.warning("readyz: Redis is not reachable", exc_info=True)
        return False
    return True


@bp.get("/readyz")
@public
def readyz() -> Response:
    """Ready for traffic: the database (and Redis, when configured) answers. 503 when not."""
    ready = _database_ready()
    for url in redis_urls(current_app.config):
        ready = _redis_ready(url) and ready
    if not ready:
        response = _plain("not ready\n", 503)
        response.headers["Retry-After"] = "5"
        return response
    return _plain("ready\n")


def _bearer_token_matches(expected: str) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), expected.encode()
    )


@bp.get("/metrics")
@public  # the bearer token is this route's check; without INFRAWG_METRICS_TOKEN it is 404
def metrics() -> Response:
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    token = current_app.config.get("METRICS_TOKEN")
    if not token:
        abort(404)
    if not _bearer_token_matches(token):
        response = _plain("unauthorised\n", 401)
        response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    body = generate_latest(current_app.extensions["infrawg_metrics"].scrape_registry())
    return Response(body, mimetype=CONTENT_TYPE_LATEST, headers=_NO_STORE)


def init_app(app: Flask) -> None:
    configure_logging(app)
    # First, so the request id and the clock start before any guard can refuse the request.
    app.before_request_funcs.setdefault(None, []).insert(0, _start_request)
    app.after_request(_finish_request)
    app.extensions["infrawg_metrics"] = RequestMetrics()
    app.register_blueprint(bp)
