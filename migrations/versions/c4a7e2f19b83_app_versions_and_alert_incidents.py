"""Application cookbook versions (R14); the alert webhook's incident key on impact notices,
which an alert opens without a person (R13)

Revision ID: c4a7e2f19b83
Revises: 4d7a1c9e2b63
Create Date: 2026-12-02 07:20:00.000000

"""

from alembic import op
import sqlalchemy as sa


revision = "c4a7e2f19b83"
down_revision = "4d7a1c9e2b63"
branch_labels = None
depends_on = None

STATES = ("draft", "submitted", "approved", "changes_requested", "published")


def upgrade():
    op.create_table(
        "app_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                *STATES,
                name="versionstate",
                native_enum=False,
                create_constraint=False,
                length=27,
            ),
            nullable=False,
        ),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("reviewer_id", sa.Integer(), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("checks", sa.JSON(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("published_at", sa.DateTime(), nullable=True),
        sa.Column("published_commit", sa.String(length=80), nullable=True),
        sa.ForeignKeyConstraint(
            ["author_id"], ["person.id"], name=op.f("fk_app_version_author_id_person")
        ),
        sa.ForeignKeyConstraint(
            ["reviewer_id"], ["person.id"], name=op.f("fk_app_version_reviewer_id_person")
        ),
        sa.ForeignKeyConstraint(
            ["service_id"], ["service.id"], name=op.f("fk_app_version_service_id_service")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_version")),
        sa.UniqueConstraint(
            "service_id", "number", name=op.f("uq_app_version_service_id")
        ),
    )
    with op.batch_alter_table("app_version", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_app_version_service_id"), ["service_id"], unique=False)
    with op.batch_alter_table("impact_notice", schema=None) as batch_op:
        batch_op.add_column(sa.Column("incident_key", sa.String(length=200), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_impact_notice_incident_key"), ["incident_key"]
        )
        # A notice the alert webhook opens has no person behind it.
        batch_op.alter_column("created_by_id", existing_type=sa.Integer(), nullable=True)
    with op.batch_alter_table("impact_notice_update", schema=None) as batch_op:
        batch_op.alter_column("author_id", existing_type=sa.Integer(), nullable=True)


def downgrade():
    with op.batch_alter_table("impact_notice_update", schema=None) as batch_op:
        batch_op.alter_column("author_id", existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table("impact_notice", schema=None) as batch_op:
        batch_op.alter_column("created_by_id", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_constraint(batch_op.f("uq_impact_notice_incident_key"), type_="unique")
        batch_op.drop_column("incident_key")
    with op.batch_alter_table("app_version", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_app_version_service_id"))
    op.drop_table("app_version")
