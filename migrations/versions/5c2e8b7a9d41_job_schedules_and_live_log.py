"""Job schedules and a live log: a scheduled run's unique key, and which log lines are for
staff only

Revision ID: 5c2e8b7a9d41
Revises: e93509f89996
Create Date: 2026-12-02 06:05:00.000000

"""

from alembic import op
import sqlalchemy as sa


revision = "5c2e8b7a9d41"
down_revision = "e93509f89996"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.add_column(sa.Column("run_key", sa.String(length=160), nullable=True))
        batch_op.create_index("ux_job_run_key", ["run_key"], unique=True)
    with op.batch_alter_table("job_log_line", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("staff_only", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade():
    with op.batch_alter_table("job_log_line", schema=None) as batch_op:
        batch_op.drop_column("staff_only")
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.drop_index("ux_job_run_key")
        batch_op.drop_column("run_key")
