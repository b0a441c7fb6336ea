"""A closed survey's response rate as it stood at closing

Revision ID: a8e4c2d61f07
Revises: c3d7a1e9f2b4
Create Date: 2026-12-02 10:45:00.000000

"""

from alembic import op
import sqlalchemy as sa


revision = "a8e4c2d61f07"
down_revision = "c3d7a1e9f2b4"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "survey_closing_figure",
        sa.Column("survey_id", sa.Integer(), nullable=False),
        sa.Column(
            "section",
            sa.Enum("members", "tenants", name="section", native_enum=False, length=17),
            nullable=False,
        ),
        sa.Column("audience", sa.Integer(), nullable=False),
        sa.Column("responses", sa.Integer(), nullable=False),
        sa.Column("frozen_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["survey_id"], ["survey.id"]),
        sa.PrimaryKeyConstraint("survey_id", "section"),
    )


def downgrade():
    op.drop_table("survey_closing_figure")
