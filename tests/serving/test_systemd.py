"""The systemd units in deploy/systemd/ pass `systemd-analyze verify`."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNITS = ROOT / "deploy" / "systemd"
VENV = Path(sys.executable).parent.parent  # the venv the tests run in
NAMES = [
    "infrawg-web.service",
    "infrawg-worker.service",
    "infrawg-tick.service",
    "infrawg-tick.timer",
]


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read_string((UNITS / name).read_text())
    return parser


def test_the_units_are_the_web_the_worker_and_the_tick():
    assert sorted(p.name for p in UNITS.iterdir()) == sorted(NAMES)
    web = unit("infrawg-web.service")["Service"]
    assert web["ExecStart"].endswith("gunicorn --config /srv/infrawg/deploy/gunicorn.conf.py")
    assert web["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert unit("infrawg-worker.service")["Service"]["ExecStart"].endswith("flask infrawg worker")
    # The schedules' tick, every minute (the workers tick too; a run is enqueued once).
    tick = unit("infrawg-tick.service")["Service"]
    assert tick["Type"] == "oneshot" and tick["ExecStart"].endswith("flask infrawg tick")
    timer = unit("infrawg-tick.timer")["Timer"]
    assert timer["Unit"] == "infrawg-tick.service" and timer["Persistent"] == "true"
    assert timer["OnCalendar"] == "minutely"


def test_the_commands_the_units_run_exist():
    from flask.testing import FlaskCliRunner

    from infrawg import create_app
    from tests.conftest import base_config

    runner = FlaskCliRunner(create_app(base_config("sqlite://")))
    for command in (["worker", "--help"], ["tick", "--help"], ["upgrade", "--help"]):
        assert runner.invoke(args=["infrawg", *command]).exit_code == 0, command


@pytest.mark.skipif(
    shutil.which("systemd-analyze") is None,
    reason="systemd-analyze is not installed (Debian package systemd)",
)
def test_systemd_analyze_verify_finds_nothing_to_say(tmp_path):
    # The units name /srv/infrawg; verify checks that the programs exist, so point them here.
    for name in NAMES:
        text = (UNITS / name).read_text()
        text = text.replace("/srv/infrawg/.venv", str(VENV)).replace("/srv/infrawg", str(ROOT))
        (tmp_path / name).write_text(text)
    result = subprocess.run(
        ["systemd-analyze", "verify", *(str(tmp_path / name) for name in NAMES)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr
