"""TLS certificates (R12): one row per issuance of a certificate service; the private key is a
file in the acme provider's key directory, never a column

Revision ID: c4d1e7a2b9f3
Revises: 9b4e2c7d1a05
Create Date: 2026-12-02 07:20:00.000000

"""

from alembic import op
import sqlalchemy as sa


revision = "c4d1e7a2b9f3"
down_revision = "9b4e2c7d1a05"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "tls_issuance",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("names", sa.JSON(), nullable=False),
        sa.Column("step", sa.String(length=16), nullable=False),
        sa.Column("order", sa.JSON(), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("issued_at", sa.DateTime(), nullable=True),
        sa.Column("not_after", sa.DateTime(), nullable=True),
        sa.Column("serial", sa.String(length=64), nullable=True),
        sa.Column("issuer", sa.String(length=255), nullable=True),
        sa.Column("chain_pem", sa.Text(), nullable=True),
        sa.Column("key_file", sa.String(length=1024), nullable=True),
        sa.Column("key_downloaded_at", sa.DateTime(), nullable=True),
        sa.Column("key_downloaded_by_id", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("approved_by_id", sa.Integer(), nullable=True),
        sa.Column("approved_at", sa.DateTime(), nullable=True),
        sa.Column("renewal_of_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["approved_by_id"], ["person.id"], name=op.f("fk_tls_issuance_approved_by_id_person")
        ),
        sa.ForeignKeyConstraint(
            ["key_downloaded_by_id"],
            ["person.id"],
            name=op.f("fk_tls_issuance_key_downloaded_by_id_person"),
        ),
        sa.ForeignKeyConstraint(
            ["service_id"], ["service.id"], name=op.f("fk_tls_issuance_service_id_service")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tls_issuance")),
    )
    with op.batch_alter_table("tls_issuance", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_tls_issuance_service_id"), ["service_id"], unique=False
        )


def downgrade():
    with op.batch_alter_table("tls_issuance", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tls_issuance_service_id"))
    op.drop_table("tls_issuance")
