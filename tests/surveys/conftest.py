"""Fixtures of the surveys tests: counting queries, sending the mail that is due."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from sqlalchemy import event, func, select

from infrawg.extensions import db


@contextmanager
def counting_queries():
    """Count the SQL statements run inside the block: ``with counting_queries() as n: ...``."""
    counter = {"n": 0}

    def count(conn, cursor, statement, parameters, context, executemany):
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK")):
            counter["n"] += 1

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield counter
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


def count_rows(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def send_due(runner):
    """Run `flask infrawg surveys send`, as cron (or the job) would."""

    def send() -> str:
        result = runner.invoke(args=["infrawg", "surveys", "send"])
        assert result.exit_code == 0, result.output
        return result.output

    return send
