"""server-side account sessions; staff grants reviewed by a new chair

Revision ID: adb5631349c8
Revises: 3eb76c721899
Create Date: 2026-12-01 22:30:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "adb5631349c8"
down_revision = "62cd0049a44d"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "account_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_agent", sa.String(length=300), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=True),
        sa.Column("remember", sa.Boolean(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_account_session_person_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_session")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_account_session_token_hash")),
    )
    with op.batch_alter_table("account_session", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_account_session_person_id"), ["person_id"], unique=False
        )
    # Sessions are rows now; the version in the Flask-Login id is gone (everyone signs in
    # once more after the upgrade).
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.drop_column("session_version")
    with op.batch_alter_table("role_grant", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reviewed_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("reviewed_by_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_role_grant_reviewed_by_id_person"), "person", ["reviewed_by_id"], ["id"]
        )


def downgrade():
    with op.batch_alter_table("role_grant", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_role_grant_reviewed_by_id_person"), type_="foreignkey"
        )
        batch_op.drop_column("reviewed_by_id")
        batch_op.drop_column("reviewed_at")
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("session_version", sa.Integer(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("account_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_account_session_person_id"))
    op.drop_table("account_session")
