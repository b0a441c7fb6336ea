"""On PostgreSQL the store function analyses the archive's tables when a batch adds more
messages than the planner believes there are (store._keep_statistics): without it, an
import looked every Message-ID up by the list alone, each batch reading the whole list."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from infrawg.archives.models import Message
from infrawg.extensions import db
from tests.archives.factories import message, store


@pytest.fixture
def app_config(tmp_path) -> dict:
    return {"ARCHIVE_DIR": str(tmp_path / "archive")}


def _believed() -> float:
    return db.session.scalar(
        text("SELECT reltuples FROM pg_class WHERE oid = 'archive_message'::regclass")
    )


def test_a_batch_larger_than_the_statistics_refreshes_them(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's planner statistics")
    believed = max(int(_believed()), 0)
    batch = [message(f"s{n}@example.org", f"Note {n}") for n in range(believed + 3)]
    store("infra", *batch)
    stored = db.session.scalar(select(func.count()).select_from(Message))
    assert stored > believed
    assert _believed() == stored
