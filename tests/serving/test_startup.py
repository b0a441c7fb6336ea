"""Start-up checks: a configuration that cannot work is refused with a clear message, one that
will surprise is warned about, and the generated secret key is the same for every process."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from flask import Flask

from infrawg import create_app
from infrawg.config import _instance_secret_key
from infrawg.startup import ConfigurationError, configuration_problems, worker_warnings
from tests.conftest import base_config

PRODUCTION = {"TESTING": False, "BASE_URL": "https://infra.example.org", "MAIL_BACKEND": "smtp"}


def bare_app(instance: Path, **config) -> Flask:
    app = Flask("infrawg_startup_test", instance_path=str(instance))
    app.config.update(config)
    return app


def test_a_production_start_refuses_a_short_secret_key(database_url):
    with pytest.raises(ConfigurationError, match="INFRAWG_SECRET_KEY is shorter than 16"):
        create_app(base_config(database_url) | PRODUCTION | {"SECRET_KEY": "short"})


def test_a_production_start_with_a_long_secret_key_is_fine(database_url):
    app = create_app(base_config(database_url) | PRODUCTION | {"SECRET_KEY": "k" * 40})
    assert configuration_problems(app) == ([], [])


def test_a_generated_secret_key_in_production_is_a_warning_naming_the_setting(tmp_path):
    key = _instance_secret_key(tmp_path)
    app = bare_app(tmp_path, SECRET_KEY=key, **PRODUCTION)
    refusals, warnings = configuration_problems(app)
    assert refusals == []
    assert len(warnings) == 1
    assert "INFRAWG_SECRET_KEY" in warnings[0] and "several web nodes" in warnings[0]


@pytest.mark.parametrize(
    "config",
    [
        {"TESTING": True, "BASE_URL": "https://infra.example.org"},
        {"TESTING": False, "BASE_URL": "http://127.0.0.1:5000"},
    ],
)
def test_tests_and_plain_http_development_are_not_checked(tmp_path, config):
    app = bare_app(tmp_path, SECRET_KEY="short", **config)
    assert configuration_problems(app) == ([], [])


def test_several_workers_on_sqlite_are_warned_about_naming_the_setting():
    (message,) = worker_warnings(4, {"INFRAWG_DATABASE_URL": "sqlite:////srv/infrawg.sqlite"})
    assert "INFRAWG_DATABASE_URL" in message and "4 web workers" in message
    # Unset, the database is the SQLite file in instance/.
    assert worker_warnings(2, {})


def test_one_worker_on_sqlite_or_many_on_postgresql_are_fine():
    assert worker_warnings(1, {}) == []
    assert worker_warnings(8, {"INFRAWG_DATABASE_URL": "postgresql+psycopg://u@db/infrawg"}) == []


def test_the_secret_key_is_generated_once_private_and_whole(tmp_path):
    key = _instance_secret_key(tmp_path)
    assert len(key) >= 48
    assert stat.S_IMODE((tmp_path / "secret_key").stat().st_mode) == 0o600
    assert _instance_secret_key(tmp_path) == key
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"]


def test_a_process_that_loses_the_race_takes_the_winners_key(tmp_path, monkeypatch):
    real_link = os.link

    def winner_first(source, target):
        # Another process links its key between our look and our link.
        Path(target).write_text("the-winners-key")
        real_link(source, target)

    monkeypatch.setattr(os, "link", winner_first)
    assert _instance_secret_key(tmp_path) == "the-winners-key"
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"]


def test_processes_starting_together_all_get_the_same_key(tmp_path):
    start = time.time() + 1.5
    program = (
        "import sys, time; from pathlib import Path\n"
        "from infrawg.config import _instance_secret_key\n"
        f"time.sleep(max(0, {start} - time.time()))\n"
        "print(_instance_secret_key(Path(sys.argv[1])))\n"
    )
    root = Path(__file__).resolve().parents[2]
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", program, str(tmp_path)],
            stdout=subprocess.PIPE,
            text=True,
            cwd=root,
        )
        for _ in range(8)
    ]
    keys = {process.communicate(timeout=60)[0].strip() for process in processes}
    assert all(process.returncode == 0 for process in processes)
    assert len(keys) == 1 and "" not in keys
    assert (tmp_path / "secret_key").read_text() == keys.pop()
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"]
