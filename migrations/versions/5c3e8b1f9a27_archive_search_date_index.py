"""Archive search on SQLite: a covering index to walk the visible messages by date

Revision ID: 5c3e8b1f9a27
Revises: e6b2d8a4f1c3
Create Date: 2026-12-02 16:55:00.000000

The search ranks the newest 1,000 matches (infrawg/archives/search.py); on SQLite it finds
them along this index instead of reading each hit's row (its body comes before
``published``). PostgreSQL keeps long values out of its rows and needs none.
"""

from alembic import op


revision = "5c3e8b1f9a27"
down_revision = "e6b2d8a4f1c3"
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE INDEX ix_archive_message_date_visible ON archive_message "
            "(date, id, published, thread_id, list_id)"
        )


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP INDEX ix_archive_message_date_visible")
