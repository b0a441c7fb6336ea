"""/metrics: Prometheus text behind a bearer token; off (404) without one configured."""

from __future__ import annotations

from datetime import timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from infrawg.extensions import db
from infrawg.jobs.models import Job, JobState
from infrawg.timeutil import utcnow

TOKEN = "metrics-token-for-the-tests"


@pytest.fixture
def app_config(monkeypatch):
    # These tests read the counters of this process, not of a gunicorn's workers.
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    return {"METRICS_TOKEN": TOKEN}


def scrape(client) -> dict[str, list]:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    families = text_string_to_metric_families(response.get_data(as_text=True))
    return {family.name: family.samples for family in families}


def value(samples, name: str, **labels) -> float:
    found = [s.value for s in samples if s.name == name and labels.items() <= s.labels.items()]
    assert len(found) == 1, (name, labels, samples)
    return found[0]


def test_metrics_is_not_there_without_a_token_configured(app):
    app.config["METRICS_TOKEN"] = None  # the default
    response = app.test_client().get("/metrics", headers={"Authorization": "Bearer anything"})
    assert response.status_code == 404


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token", f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer"],
)
def test_metrics_refuses_a_missing_or_wrong_token_and_shows_nothing(client, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "infrawg_" not in response.get_data(as_text=True)


def test_a_session_is_no_substitute_for_the_token(client, people, chair):
    people.sign_in(client, chair)
    assert client.get("/metrics").status_code == 401


def test_requests_are_counted_by_endpoint_name_not_by_path(client, people, member):
    people.sign_in(client, member)
    client.get("/")
    client.get(f"/people/{member.id}")
    client.get("/no/such/page")
    families = scrape(client)
    requests = families["infrawg_http_requests"]
    assert value(requests, "infrawg_http_requests_total", endpoint="membership.home") == 1
    endpoints = {s.labels["endpoint"] for s in requests}
    assert "unmatched" in endpoints  # the 404 without a route
    assert not [e for e in endpoints if "/" in e or str(member.id) in e]
    latency = families["infrawg_http_request_duration_seconds"]
    count = value(
        latency, "infrawg_http_request_duration_seconds_count", endpoint="membership.home"
    )
    assert count == 1


def test_job_queue_depth_age_of_the_oldest_and_failed_jobs(client):
    now = utcnow()
    db.session.add_all(
        [
            Job(kind="a.kind", state=JobState.QUEUED, next_run_at=now - timedelta(minutes=10)),
            Job(kind="a.kind", state=JobState.QUEUED, next_run_at=now - timedelta(minutes=1)),
            Job(kind="a.kind", state=JobState.QUEUED, next_run_at=now + timedelta(hours=1)),
            Job(kind="b.kind", state=JobState.FAILED, next_run_at=now - timedelta(seconds=5)),
            Job(kind="b.kind", state=JobState.DEAD, next_run_at=now - timedelta(days=1)),
            Job(kind="b.kind", state=JobState.SUCCEEDED, next_run_at=now - timedelta(days=2)),
        ]
    )
    db.session.commit()
    families = scrape(client)
    assert value(families["infrawg_database_up"], "infrawg_database_up") == 1
    jobs = families["infrawg_jobs"]
    assert value(jobs, "infrawg_jobs", state="queued", kind="a.kind") == 3
    assert value(jobs, "infrawg_jobs", state="failed", kind="b.kind") == 1
    assert value(jobs, "infrawg_jobs", state="dead", kind="b.kind") == 1
    assert not [s for s in jobs if s.labels["state"] == "succeeded"]
    # Due now: two queued and the failed one whose retry time has come.
    assert value(families["infrawg_job_queue_depth"], "infrawg_job_queue_depth") == 3
    age = value(
        families["infrawg_job_oldest_queued_age_seconds"], "infrawg_job_oldest_queued_age_seconds"
    )
    assert 600 <= age < 700


def test_an_empty_queue_has_no_age(client):
    families = scrape(client)
    assert value(families["infrawg_job_queue_depth"], "infrawg_job_queue_depth") == 0
    age = families["infrawg_job_oldest_queued_age_seconds"]
    assert value(age, "infrawg_job_oldest_queued_age_seconds") == 0
