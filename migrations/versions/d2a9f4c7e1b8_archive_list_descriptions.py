"""A mailing list's description, written by staff and shown to its readers

Revision ID: d2a9f4c7e1b8
Revises: a8e4c2d61f07
Create Date: 2026-12-02 16:20:00.000000

"""

from alembic import op
import sqlalchemy as sa


revision = "d2a9f4c7e1b8"
down_revision = "a8e4c2d61f07"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("archive_list") as batch_op:
        batch_op.add_column(
            sa.Column("description", sa.Text(), nullable=False, server_default="")
        )


def downgrade():
    with op.batch_alter_table("archive_list") as batch_op:
        batch_op.drop_column("description")
