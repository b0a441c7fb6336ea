"""mailing list: known exceptions, last seen roster, reported drift

Revision ID: 5c1e2a9b7d40
Revises: 3eb76c721899
Create Date: 2026-12-01 23:00:00.000000

"""

from alembic import op
import sqlalchemy as sa


revision = "5c1e2a9b7d40"
down_revision = "b8f971678f56"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "list_exception",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("list_address", sa.String(length=320), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("on_list", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["person.id"], name=op.f("fk_list_exception_actor_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_list_exception")),
        sa.UniqueConstraint("list_address", "email", name="uq_list_exception_email"),
    )
    op.create_table(
        "list_roster_entry",
        sa.Column("list_address", sa.String(length=320), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("seen_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("list_address", "email", name=op.f("pk_list_roster_entry")),
    )
    op.create_table(
        "list_drift_seen",
        sa.Column("list_address", sa.String(length=320), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("on_list", sa.Boolean(), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("list_address", "email", name=op.f("pk_list_drift_seen")),
    )


def downgrade():
    op.drop_table("list_drift_seen")
    op.drop_table("list_roster_entry")
    op.drop_table("list_exception")
