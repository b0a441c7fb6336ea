"""Jobs: persisted, retried with back-off, idempotent after a crash, run on the table or RQ."""

from __future__ import annotations

import secrets
from datetime import timedelta

import pytest
from sqlalchemy import select

from infrawg.errors import Invalid
from infrawg.extensions import db
from infrawg.jobs import runner as jobs
from infrawg.jobs.models import Job, JobLogLine, JobState
from infrawg.jobs.runner import JobContext, enqueue, job, run_due_jobs
from infrawg.provisioning.base import Provider, apply_plan
from infrawg.provisioning.models import Service, ServiceState
from infrawg.provisioning.service import provider_for
from infrawg.timeutil import utcnow
from tests.conftest import html

CALLS: list[dict] = []


@job("test_echo", max_attempts=3)
def _echo(ctx: JobContext, word: str, fail: int = 0, invalid: bool = False) -> None:
    CALLS.append({"word": word, "attempt": ctx.job.attempts})
    ctx.log(f"echo {word}")
    ctx.record_plan(f"+ {word}")
    if invalid:
        raise Invalid("the word is not allowed")
    if ctx.job.attempts <= fail:
        raise RuntimeError(f"flaky {ctx.job.attempts}")


@pytest.fixture(autouse=True)
def _calls():
    CALLS.clear()
    yield
    CALLS.clear()


def log_of(job_row: Job) -> list[str]:
    return list(
        db.session.scalars(
            select(JobLogLine.line).where(JobLogLine.job_id == job_row.id).order_by(JobLogLine.id)
        )
    )


def make_due(job_row: Job) -> None:
    job_row.next_run_at = utcnow() - timedelta(seconds=1)
    db.session.commit()


def test_enqueue_refuses_unknown_kinds_and_non_json_arguments(app):
    with pytest.raises(ValueError, match="No job function"):
        enqueue("no_such_job")
    with pytest.raises(ValueError, match="JSON values"):
        enqueue("test_echo", word=object())
    assert db.session.scalars(select(Job)).all() == []


def test_a_job_runs_once_and_keeps_its_log_and_plan(app):
    queued = enqueue("test_echo", word="hello")
    db.session.commit()
    assert run_due_jobs() == 1
    assert run_due_jobs() == 0
    assert queued.state == JobState.SUCCEEDED and queued.attempts == 1
    assert queued.plan == "+ hello"
    assert log_of(queued)[1:] == ["echo hello", "done"]
    assert CALLS == [{"word": "hello", "attempt": 1}]


def test_a_failing_job_is_retried_with_exponential_back_off_then_gives_up(app):
    queued = enqueue("test_echo", word="flaky", fail=5)
    db.session.commit()
    before = utcnow()
    run_due_jobs()
    assert queued.state == JobState.FAILED and queued.last_error == "RuntimeError: flaky 1"
    assert timedelta(seconds=29) < queued.next_run_at - before < timedelta(seconds=40)
    assert run_due_jobs() == 0  # not due yet
    make_due(queued)
    run_due_jobs()
    assert queued.state == JobState.FAILED
    assert timedelta(seconds=59) < queued.next_run_at - utcnow() < timedelta(seconds=61)
    make_due(queued)
    run_due_jobs()
    assert queued.state == JobState.DEAD and queued.attempts == 3
    assert "giving up" in log_of(queued)
    assert [c["attempt"] for c in CALLS] == [1, 2, 3]


def test_a_domain_error_is_not_retried(app):
    queued = enqueue("test_echo", word="no", invalid=True)
    db.session.commit()
    run_due_jobs()
    assert queued.state == JobState.DEAD and queued.attempts == 1
    assert queued.last_error == "the word is not allowed"
    assert "giving up: retrying cannot fix this" in log_of(queued)


def test_staff_see_the_queue_and_a_jobs_log_and_retry_a_dead_job(app, people, staff, member):
    queued = enqueue("test_echo", word="no", invalid=True)
    db.session.commit()
    run_due_jobs()
    client = people.sign_in(app.test_client(), staff)
    page = html(client.get("/jobs?state=dead"))
    assert page.select_one(f"#job-{queued.id} .status").text == "Gave up"
    page = html(client.get(f"/jobs/{queued.id}"))
    assert page.select_one("#job-plan").text == "+ no"
    assert "the word is not allowed" in page.select_one("#job-log").text
    assert page.select_one("#job-error").text == "the word is not allowed"
    outsider = people.sign_in(app.test_client(), member)
    assert outsider.post(f"/jobs/{queued.id}/retry").status_code == 403

    # Retrying asks first; the question's button posts again, confirmed.
    asked = client.post(f"/jobs/{queued.id}/retry")
    assert asked.status_code == 200
    assert html(asked).select_one("#retry input[name=confirmed]")["value"] == "1"
    assert queued.state == JobState.DEAD
    retried = client.post(f"/jobs/{queued.id}/retry", data={"confirmed": "1"})
    assert retried.status_code == 303
    assert queued.state == JobState.QUEUED and queued.max_attempts == 4
    queued.args = {"word": "yes"}  # what a fix would look like
    db.session.commit()
    run_due_jobs()
    assert queued.state == JobState.SUCCEEDED
    # A job that did not fail cannot be retried.
    assert client.post(f"/jobs/{queued.id}/retry").status_code == 409


def test_a_job_is_claimed_by_one_worker_only(app):
    queued = enqueue("test_echo", word="once")
    db.session.commit()
    assert jobs.claim(queued.id, "worker-a") is True
    assert jobs.claim(queued.id, "worker-b") is False
    assert jobs.claim_next("worker-b") is None
    db.session.refresh(queued)
    assert (queued.state, queued.locked_by, queued.attempts) == (JobState.RUNNING, "worker-a", 1)


def test_a_job_whose_worker_died_is_taken_over_after_the_lease(app):
    queued = enqueue("test_echo", word="orphan")
    db.session.commit()
    assert jobs.claim_next("dead-worker") == queued.id
    assert jobs.claim_next("other") is None
    queued.started_at = utcnow() - jobs.LEASE - timedelta(seconds=1)
    db.session.commit()
    assert jobs.claim_next("other") == queued.id
    jobs.run_job(queued.id)
    assert queued.state == JobState.SUCCEEDED and queued.attempts == 2


# -- idempotence: the provisioning job after a crash ---------------------------------------------


class Crash(BaseException):
    """The process dying between the provider's apply and the job's commit."""


@pytest.fixture
def approved_zone(client, people, tenant_member, organisation, dns_type, chair):
    tenant = people.sign_in(client, tenant_member)
    tenant.post(
        "/services/request",
        data={
            "organisation": organisation.id,
            "service_type": dns_type.id,
            "zone": "docs.example.org",
            "dnssec": "y",
        },
    )
    service = db.session.scalar(select(Service))
    decider = people.sign_in(client.application.test_client(), chair)
    assert decider.post(f"/services/{service.id}/decide/approve").status_code == 303
    return service


def test_provisioning_twice_applies_nothing_the_second_time(app, approved_zone):
    run_due_jobs()
    assert approved_zone.state == ServiceState.ACTIVE
    provider = provider_for("zonefile")
    serial = provider.read("docs.example.org.").detail["serial"]
    again = enqueue("provision_service", service_id=approved_zone.id)
    db.session.commit()
    run_due_jobs()
    assert again.state == JobState.SUCCEEDED
    assert "in sync, nothing to do" in again.plan
    assert "nothing applied: already in sync" in log_of(again)
    assert provider.read("docs.example.org.").detail["serial"] == serial


def test_a_job_killed_after_applying_applies_nothing_when_it_runs_again(
    app, approved_zone, monkeypatch
):
    def apply_then_die(self, plan, dry_run=False, force=False):
        apply_plan(self, plan, dry_run=dry_run, force=force)
        raise Crash()

    monkeypatch.setattr(Provider, "apply", apply_then_die)
    job_id = jobs.claim_next("doomed")
    with pytest.raises(Crash):
        jobs.run_job(job_id)
    db.session.rollback()
    monkeypatch.undo()
    provider = provider_for("zonefile")
    serial = provider.read("docs.example.org.").detail["serial"]
    killed = db.session.get(Job, job_id)
    assert killed.state == JobState.RUNNING  # its worker is gone; the row says so
    assert approved_zone.state == ServiceState.PROVISIONING

    killed.started_at = utcnow() - jobs.LEASE - timedelta(seconds=1)
    db.session.commit()
    assert run_due_jobs() == 1
    assert killed.state == JobState.SUCCEEDED and killed.attempts == 2
    assert "in sync, nothing to do" in killed.plan
    assert provider.read("docs.example.org.").detail["serial"] == serial
    assert approved_zone.state == ServiceState.ACTIVE


# -- RQ over Redis -------------------------------------------------------------------------------

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def rq_queue_name() -> str:
    # One queue per test run, so parallel runs on one Redis never take each other's jobs.
    return f"infrawg-test-{secrets.token_hex(6)}"


def rq_burst(queue_name: str) -> None:
    from rq import SimpleWorker

    queue = jobs.rq_queue(REDIS_URL, queue_name)
    SimpleWorker([queue], connection=queue.connection).work(burst=True)


@pytest.fixture
def rq_cleanup(rq_queue_name):
    yield
    jobs.rq_queue(REDIS_URL, rq_queue_name).delete(delete_jobs=True)


def test_rq_runner_runs_the_same_job_functions(app, rq_queue_name, rq_cleanup):
    app.config.update(REDIS_URL=REDIS_URL, RQ_QUEUE=rq_queue_name)
    queued = enqueue("test_echo", word="over redis")
    queue = jobs.rq_queue(REDIS_URL, rq_queue_name)
    assert queue.count == 0  # pushed only after commit
    db.session.commit()
    assert queue.count == 1
    rq_burst(rq_queue_name)
    assert queued.state == JobState.SUCCEEDED
    assert CALLS == [{"word": "over redis", "attempt": 1}]
    # RQ said "job N is due" once more than needed: the claim makes the extra run a no-op.
    queue.enqueue(jobs.RQ_ENTRY, queued.id)
    rq_burst(rq_queue_name)
    assert len(CALLS) == 1


def test_rq_runner_schedules_a_retry_after_a_failure(app, rq_queue_name, rq_cleanup):
    from rq.registry import ScheduledJobRegistry

    app.config.update(REDIS_URL=REDIS_URL, RQ_QUEUE=rq_queue_name)
    queued = enqueue("test_echo", word="flaky", fail=1)
    db.session.commit()
    rq_burst(rq_queue_name)
    assert queued.state == JobState.FAILED
    queue = jobs.rq_queue(REDIS_URL, rq_queue_name)
    assert ScheduledJobRegistry(queue=queue).count == 1
