"""Two-factor sign-in: authenticator apps, security keys, recovery codes, verified sessions

Revision ID: b7d2f4a61c09
Revises: 3f0c9a1d2e7b
Create Date: 2026-12-02 06:00:00.000000

"""

from alembic import op
import sqlalchemy as sa


revision = "b7d2f4a61c09"
down_revision = "3f0c9a1d2e7b"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "totp_factor",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("secret", sa.String(length=64), nullable=False),
        sa.Column("last_step", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_used_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_totp_factor_person_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_totp_factor")),
        sa.UniqueConstraint("person_id", name=op.f("uq_totp_factor_person_id")),
    )
    op.create_table(
        "security_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("credential_id", sa.String(length=1400), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("sign_count", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_used_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_security_key_person_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_security_key")),
        sa.UniqueConstraint("credential_id", name=op.f("uq_security_key_credential_id")),
    )
    op.create_index(
        op.f("ix_security_key_person_id"), "security_key", ["person_id"], unique=False
    )
    op.create_table(
        "recovery_code",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_recovery_code_person_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_code")),
    )
    op.create_index(
        op.f("ix_recovery_code_person_id"), "recovery_code", ["person_id"], unique=False
    )
    with op.batch_alter_table("account_session") as batch_op:
        batch_op.add_column(sa.Column("second_factor_at", sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table("account_session") as batch_op:
        batch_op.drop_column("second_factor_at")
    op.drop_index(op.f("ix_recovery_code_person_id"), table_name="recovery_code")
    op.drop_table("recovery_code")
    op.drop_index(op.f("ix_security_key_person_id"), table_name="security_key")
    op.drop_table("security_key")
    op.drop_table("totp_factor")
