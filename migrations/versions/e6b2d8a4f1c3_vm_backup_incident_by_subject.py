"""A server's backup incident is found by its subject on the notice (status.incidents), not
kept on the backup row; when a decommissioned server's snapshots were forgotten

Revision ID: e6b2d8a4f1c3
Revises: d2a9f4c7e1b8
Create Date: 2026-12-02 16:50:00.000000

"""

from alembic import op
import sqlalchemy as sa


revision = "e6b2d8a4f1c3"
down_revision = "d2a9f4c7e1b8"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("vm_backup") as batch_op:
        batch_op.drop_constraint("fk_vm_backup_incident_id_impact_notice", type_="foreignkey")
        batch_op.drop_column("incident_id")
        batch_op.add_column(sa.Column("snapshots_removed_at", sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table("vm_backup") as batch_op:
        batch_op.drop_column("snapshots_removed_at")
        batch_op.add_column(sa.Column("incident_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_vm_backup_incident_id_impact_notice", "impact_notice", ["incident_id"], ["id"]
        )
