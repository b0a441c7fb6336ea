"""Services: when the provider last verified each one (the daily check); the new state
'drifted' needs no schema change (states are stored as strings)

Revision ID: 9b4e2c7d1a05
Revises: 5c2e8b7a9d41
Create Date: 2026-12-02 06:30:00.000000

"""

from alembic import op
import sqlalchemy as sa


revision = "9b4e2c7d1a05"
down_revision = "5c2e8b7a9d41"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("service", schema=None) as batch_op:
        batch_op.add_column(sa.Column("verified_at", sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table("service", schema=None) as batch_op:
        batch_op.drop_column("verified_at")
