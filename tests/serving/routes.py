"""Access rows for the probes and the metrics endpoint (see tests/test_route_access.py)."""

from tests.route_access import PUBLIC, Row, profile

ROWS = [
    Row("serving.healthz", "GET", "/healthz", PUBLIC),
    Row("serving.readyz", "GET", "/readyz", PUBLIC),
    # Without INFRAWG_METRICS_TOKEN (the crawl's configuration) the endpoint does not exist;
    # with it, a bearer token and not a session decides (tests/serving/test_metrics.py).
    Row("serving.metrics", "GET", "/metrics", profile(404)),
]
