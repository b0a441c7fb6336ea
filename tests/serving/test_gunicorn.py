"""The production server: gunicorn with deploy/gunicorn.conf.py, on a fresh database."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from infrawg.extensions import db
from tests.conftest import migrated_app
from tests.servers.live import fresh_database
from tests.servers.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "gunicorn-metrics-token"


@dataclass
class Gunicorn:
    process: subprocess.Popen
    url: str
    log: Path
    database_url: str

    def log_text(self) -> str:
        return self.log.read_text()

    def wait_for(self, pattern: str, count: int = 1, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while len(re.findall(pattern, self.log_text())) < count:
            assert self.process.poll() is None, self.log_text()
            assert time.monotonic() < deadline, f"no {pattern!r} x{count} in:\n{self.log_text()}"
            time.sleep(0.1)


@pytest.fixture(scope="module")
def gunicorn(tmp_path_factory) -> Iterator[Gunicorn]:
    tmp = tmp_path_factory.mktemp("gunicorn")
    with fresh_database(os.environ.get("INFRAWG_TEST_DATABASE_URL"), tmp) as database_url:
        app = migrated_app(database_url)
        with app.app_context():
            db.engine.dispose()
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("INFRAWG_")}
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        env.pop("WEB_CONCURRENCY", None)
        env.update(
            INFRAWG_DATABASE_URL=database_url,
            INFRAWG_SECRET_KEY="gunicorn-test-secret-key",
            INFRAWG_METRICS_TOKEN=TOKEN,
        )
        command = [sys.executable, "-m", "gunicorn", "--config", "deploy/gunicorn.conf.py"]
        log = tmp / "gunicorn.log"
        with log.open("w") as out:
            process = subprocess.Popen(
                [*command, "--bind", f"127.0.0.1:{port}", "--workers", "2"],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        server = Gunicorn(process, f"http://127.0.0.1:{port}", log, database_url)
        try:
            server.wait_for(r"Booting worker with pid", count=2)
            deadline = time.monotonic() + 60
            while True:
                try:
                    if requests.get(server.url + "/healthz", timeout=10).status_code == 200:
                        break
                except requests.RequestException:
                    pass  # the workers are still importing the app
                assert time.monotonic() < deadline, server.log_text()
                time.sleep(0.2)
            yield server
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def test_gunicorn_serves_the_probes_and_a_page(gunicorn):
    assert requests.get(gunicorn.url + "/healthz", timeout=5).text == "ok\n"
    assert requests.get(gunicorn.url + "/readyz", timeout=5).status_code == 200
    page = requests.get(gunicorn.url + "/charter", timeout=10)
    assert page.status_code == 200
    assert "text/html" in page.headers["Content-Type"]


def test_the_access_log_has_the_request_id_and_no_query_string(gunicorn):
    response = requests.get(gunicorn.url + "/?token=do-not-log-me", timeout=10)
    rid = response.headers["X-Request-Id"]
    gunicorn.wait_for(re.escape(f"rid={rid}"))
    line = next(line for line in gunicorn.log_text().splitlines() if f"rid={rid}" in line)
    assert '"GET / HTTP/1.1" 200' in line
    assert "do-not-log-me" not in gunicorn.log_text()


def test_sqlite_with_several_workers_is_warned_about(gunicorn):
    warned = "INFRAWG_DATABASE_URL" in gunicorn.log_text()
    assert warned == gunicorn.database_url.startswith("sqlite")


def test_metrics_sum_every_worker(gunicorn):
    def scrape() -> dict:
        response = requests.get(
            gunicorn.url + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
        )
        assert response.status_code == 200
        return {
            (s.name, s.labels.get("endpoint"), s.labels.get("status")): s.value
            for family in text_string_to_metric_families(response.text)
            for s in family.samples
        }

    key = ("infrawg_http_requests_total", "serving.healthz", "200")
    before = scrape().get(key, 0)
    for _ in range(20):
        # A new connection each time, so both workers answer some.
        requests.get(gunicorn.url + "/healthz", timeout=5, headers={"Connection": "close"})
    # Whichever worker answers the scrape, it reports the sum of both.
    assert {scrape()[key] - before for _ in range(4)} == {20}
    assert requests.get(gunicorn.url + "/metrics", timeout=5).status_code == 401


def test_sighup_reloads_the_workers_and_keeps_serving(gunicorn):
    booted = len(re.findall(r"Booting worker with pid", gunicorn.log_text()))
    statuses: list[int | str] = []
    stop = threading.Event()

    def keep_asking() -> None:
        while not stop.is_set():
            try:
                # Old workers stop at once; until the new ones have imported the app,
                # requests wait in the listen queue (none is refused).
                statuses.append(requests.get(gunicorn.url + "/healthz", timeout=60).status_code)
            except requests.RequestException as error:
                statuses.append(type(error).__name__)
            time.sleep(0.02)

    asker = threading.Thread(target=keep_asking)
    asker.start()
    try:
        time.sleep(0.3)
        gunicorn.process.send_signal(signal.SIGHUP)
        gunicorn.wait_for(r"Hang up")
        gunicorn.wait_for(r"Booting worker with pid", count=booted + 2)
        time.sleep(1.5)
    finally:
        stop.set()
        asker.join()
    assert gunicorn.process.poll() is None
    assert statuses and set(statuses) == {200}, statuses
    assert requests.get(gunicorn.url + "/charter", timeout=10).status_code == 200


def fake_arbiter() -> SimpleNamespace:
    """What the conf file's hooks use of gunicorn's arbiter."""
    return SimpleNamespace(cfg=SimpleNamespace(workers=1), log=SimpleNamespace(warning=print))


def test_a_given_metrics_directory_loses_only_last_runs_values(tmp_path, monkeypatch):
    import runpy

    conf = runpy.run_path(str(ROOT / "deploy" / "gunicorn.conf.py"))
    (tmp_path / "counter_123.db").write_bytes(b"old values")
    (tmp_path / "keep.txt").write_text("not ours")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    conf["on_starting"](fake_arbiter())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


def test_without_a_metrics_directory_the_master_makes_one_and_removes_it(monkeypatch):
    import runpy

    conf = runpy.run_path(str(ROOT / "deploy" / "gunicorn.conf.py"))
    # Recorded by setenv, so what on_starting sets is undone after the test.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "")
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR")
    arbiter = fake_arbiter()
    conf["on_starting"](arbiter)
    directory = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    assert directory.is_dir() and oct(directory.stat().st_mode & 0o777) == "0o700"
    conf["on_exit"](arbiter)
    assert not directory.exists()
