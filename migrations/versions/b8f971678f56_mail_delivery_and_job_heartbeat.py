"""mail delivery (one outbox table for both backends) and job heartbeats

Revision ID: b8f971678f56
Revises: 3eb76c721899
Create Date: 2026-12-01 22:50:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "b8f971678f56"
down_revision = "adb5631349c8"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("outbox_mail", schema=None) as batch_op:
        # Rows from before were all kept by the development backend.
        batch_op.add_column(
            sa.Column(
                "state",
                sa.Enum(
                    "development",
                    "pending",
                    "sent",
                    "failed",
                    name="mailstate",
                    native_enum=False,
                    create_constraint=False,
                    length=21,
                ),
                server_default="development",
                nullable=False,
            )
        )
        batch_op.add_column(sa.Column("sent_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("job_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_outbox_mail_state"), ["state"], unique=False)
        batch_op.create_index(batch_op.f("ix_outbox_mail_job_id"), ["job_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_outbox_mail_job_id_job"), "job", ["job_id"], ["id"]
        )
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.add_column(sa.Column("heartbeat_at", sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.drop_column("heartbeat_at")
    with op.batch_alter_table("outbox_mail", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_outbox_mail_job_id_job"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_outbox_mail_job_id"))
        batch_op.drop_index(batch_op.f("ix_outbox_mail_state"))
        batch_op.drop_column("job_id")
        batch_op.drop_column("sent_at")
        batch_op.drop_column("state")
