"""Fixtures of the surveys tests: sending the mail that is due."""

from __future__ import annotations

import pytest

from tests.queries import count


def count_rows(model) -> int:
    return count(model)


@pytest.fixture
def send_due(runner):
    """Run `flask infrawg surveys send`, as cron (or the job) would."""

    def send() -> str:
        result = runner.invoke(args=["infrawg", "surveys", "send"])
        assert result.exit_code == 0, result.output
        return result.output

    return send
