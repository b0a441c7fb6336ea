"""`flask infrawg upgrade`: started on several nodes at once, one migrates, the others wait."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory

from infrawg.upgrade import upgrade_lock
from tests.servers.live import fresh_database

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def empty_database(tmp_path):
    with fresh_database(os.environ.get("INFRAWG_TEST_DATABASE_URL"), tmp_path) as url:
        yield url


def start_upgrade(database_url: str, output: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INFRAWG_")}
    env.update(
        FLASK_APP="wsgi",
        INFRAWG_DATABASE_URL=database_url,
        INFRAWG_SECRET_KEY="upgrade-test-secret-key",
    )
    with output.open("w") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "flask", "infrawg", "upgrade"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def schema_version(database_url: str) -> set[str]:
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection:
            return set(connection.scalars(sa.text("SELECT version_num FROM alembic_version")))
    finally:
        engine.dispose()


def heads() -> set[str]:
    from alembic.config import Config

    config = Config(str(ROOT / "migrations" / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    return set(ScriptDirectory.from_config(config).get_heads())


def test_two_upgrades_started_together_both_succeed(empty_database, tmp_path):
    logs = [tmp_path / "first.log", tmp_path / "second.log"]
    runs = [start_upgrade(empty_database, log) for log in logs]
    for run in runs:
        run.wait(timeout=180)
    outputs = [log.read_text() for log in logs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    assert all("The database schema is up to date." in output for output in outputs)
    assert schema_version(empty_database) == heads()


def test_an_upgrade_waits_for_the_one_holding_the_lock(empty_database, tmp_path):
    log = tmp_path / "upgrade.log"
    engine = sa.create_engine(empty_database)
    try:
        with upgrade_lock(engine):
            run = start_upgrade(empty_database, log)
            deadline = time.monotonic() + 90
            while "waiting for it" not in log.read_text():
                assert run.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
            time.sleep(0.5)
            assert run.poll() is None
            assert not sa.inspect(engine).has_table("alembic_version")
        run.wait(timeout=180)
    finally:
        engine.dispose()
    assert run.returncode == 0, log.read_text()
    assert schema_version(empty_database) == heads()
