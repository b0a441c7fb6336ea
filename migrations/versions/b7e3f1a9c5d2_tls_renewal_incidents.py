"""TLS certificates (R12): the open incident notice about a certificate whose renewal failed
within seven days of its expiry

Revision ID: b7e3f1a9c5d2
Revises: a8e4c2d61f07
Create Date: 2026-12-02 16:30:00.000000

"""

from alembic import op
import sqlalchemy as sa


revision = "b7e3f1a9c5d2"
down_revision = "a8e4c2d61f07"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("tls_issuance", schema=None) as batch_op:
        batch_op.add_column(sa.Column("incident_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_tls_issuance_incident_id_impact_notice"),
            "impact_notice",
            ["incident_id"],
            ["id"],
        )


def downgrade():
    with op.batch_alter_table("tls_issuance", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_tls_issuance_incident_id_impact_notice"), type_="foreignkey"
        )
        batch_op.drop_column("incident_id")
