"""The migrations build exactly what the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from infrawg.archives import search
from infrawg.extensions import db


def test_migrations_have_one_head(app):
    config = app.extensions["migrate"].migrate.get_config()
    assert len(ScriptDirectory.from_config(config).get_heads()) == 1


def test_migrated_schema_matches_the_models(app):
    # The suite's database was built by `flask db upgrade`; autogenerate must find nothing
    # to add, drop or alter (the archive's search index is DDL of its own, left alone).
    connection = app.extensions["test_connection"]
    context = MigrationContext.configure(
        connection, opts={"include_name": search.include_name, "compare_type": True}
    )
    assert compare_metadata(context, db.metadata) == []
