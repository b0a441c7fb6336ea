"""survey responses: no time when anonymous, a random sort key, version counters

Revision ID: 7c404adc2739
Revises: 3eb76c721899
Create Date: 2026-12-01 22:40:00.000000

R15: an anonymous response keeps no time and is listed by a random key, never in the
order it came in. A tenant sheet (response or draft) is saved only over the version it
was read at.
"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "7c404adc2739"
down_revision = "3eb76c721899"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("survey_response", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sort_key", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("version", sa.Integer(), server_default="1", nullable=False)
        )
        batch_op.alter_column("submitted_at", existing_type=sa.DateTime(), nullable=True)

    # Existing responses: a random key each; anonymous ones forget the day they came in.
    random_key = (
        "floor(random() * 2147483647)::integer"
        if op.get_bind().dialect.name == "postgresql"
        else "abs(random() % 2147483647)"
    )
    op.execute(f"UPDATE survey_response SET sort_key = {random_key}")
    op.execute(
        "UPDATE survey_response SET submitted_at = NULL"
        " WHERE survey_id IN (SELECT id FROM survey WHERE anonymous)"
    )

    with op.batch_alter_table("survey_response", schema=None) as batch_op:
        batch_op.alter_column("sort_key", existing_type=sa.Integer(), nullable=False)
        batch_op.create_index(
            "ix_survey_response_survey_sort_key", ["survey_id", "sort_key"], unique=False
        )

    with op.batch_alter_table("survey_draft", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("version", sa.Integer(), server_default="1", nullable=False)
        )


def downgrade():
    with op.batch_alter_table("survey_draft", schema=None) as batch_op:
        batch_op.drop_column("version")

    op.execute(
        "UPDATE survey_response SET submitted_at = CURRENT_TIMESTAMP WHERE submitted_at IS NULL"
    )
    with op.batch_alter_table("survey_response", schema=None) as batch_op:
        batch_op.drop_index("ix_survey_response_survey_sort_key")
        batch_op.alter_column("submitted_at", existing_type=sa.DateTime(), nullable=False)
        batch_op.drop_column("version")
        batch_op.drop_column("sort_key")
