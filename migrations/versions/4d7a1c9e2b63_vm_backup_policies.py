"""VMs (R13): each server's backup policy (paths, schedule, retention) and its last backup,
restore drill and open incident

Revision ID: 4d7a1c9e2b63
Revises: c4d1e7a2b9f3
Create Date: 2026-12-02 07:15:00.000000

"""

import sqlalchemy as sa
from alembic import op

revision = "4d7a1c9e2b63"
down_revision = "c4d1e7a2b9f3"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "vm_backup",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("paths", sa.JSON(), nullable=False),
        sa.Column("retention", sa.JSON(), nullable=False),
        sa.Column("every_hours", sa.Integer(), nullable=False),
        sa.Column("last_backup_at", sa.DateTime(), nullable=True),
        sa.Column("last_snapshot", sa.String(length=64), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(), nullable=True),
        sa.Column("last_result", sa.Text(), nullable=True),
        sa.Column("last_drill_at", sa.DateTime(), nullable=True),
        sa.Column("last_drill_attempt_at", sa.DateTime(), nullable=True),
        sa.Column("last_drill_result", sa.Text(), nullable=True),
        sa.Column("incident_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["impact_notice.id"],
            name=op.f("fk_vm_backup_incident_id_impact_notice"),
        ),
        sa.ForeignKeyConstraint(
            ["service_id"], ["service.id"], name=op.f("fk_vm_backup_service_id_service")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vm_backup")),
        sa.UniqueConstraint("service_id", name=op.f("uq_vm_backup_service_id")),
    )


def downgrade():
    op.drop_table("vm_backup")
