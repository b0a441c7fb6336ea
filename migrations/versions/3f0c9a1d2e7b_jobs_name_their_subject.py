"""Jobs belong to the site: a job names its subject (table and id) instead of a service key,
and records the progress of a long operation

Revision ID: 3f0c9a1d2e7b
Revises: 71536a0fa788
Create Date: 2026-12-02 06:20:00.000000

"""

from alembic import op
import sqlalchemy as sa


revision = "3f0c9a1d2e7b"
down_revision = "71536a0fa788"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.add_column(sa.Column("progress", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("subject_type", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("subject_id", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE job SET subject_type = 'service', subject_id = service_id "
        "WHERE service_id IS NOT NULL"
    )
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_job_service_id"))
        batch_op.drop_constraint("fk_job_service_id_service", type_="foreignkey")
        batch_op.drop_column("service_id")
        batch_op.create_index("ix_job_subject", ["subject_type", "subject_id"], unique=False)


def downgrade():
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.add_column(sa.Column("service_id", sa.Integer(), nullable=True))
        batch_op.drop_index("ix_job_subject")
    op.execute(
        "UPDATE job SET service_id = subject_id WHERE subject_type = 'service' "
        "AND subject_id IN (SELECT id FROM service)"
    )
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.create_foreign_key("fk_job_service_id_service", "service", ["service_id"], ["id"])
        batch_op.create_index(batch_op.f("ix_job_service_id"), ["service_id"], unique=False)
        batch_op.drop_column("subject_id")
        batch_op.drop_column("subject_type")
        batch_op.drop_column("progress")
