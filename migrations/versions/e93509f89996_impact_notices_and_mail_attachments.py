"""Impact notices (R5): notices, the services they are about, their updates, who was told
and acknowledged; files attached to outgoing mail (the notice's .ics)

Revision ID: e93509f89996
Revises: b7d2f4a61c09
Create Date: 2026-12-02 06:00:17.594198

"""

from alembic import op
import sqlalchemy as sa


revision = "e93509f89996"
down_revision = "b7d2f4a61c09"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "impact_notice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("maintenance", "incident", name="noticekind", native_enum=False, length=21),
            nullable=False,
        ),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("what", sa.Text(), nullable=False),
        sa.Column("expected_impact", sa.Text(), nullable=False),
        sa.Column("public_summary", sa.String(length=300), nullable=False),
        sa.Column("starts_at", sa.DateTime(), nullable=False),
        sa.Column("ends_at", sa.DateTime(), nullable=True),
        sa.Column(
            "state",
            sa.Enum("open", "resolved", name="noticestate", native_enum=False, length=18),
            nullable=False,
        ),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("resolved_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["person.id"], name=op.f("fk_impact_notice_created_by_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_impact_notice")),
    )
    with op.batch_alter_table("impact_notice", schema=None) as batch_op:
        batch_op.create_index("ix_impact_notice_state_starts", ["state", "starts_at"], unique=False)

    op.create_table(
        "impact_notice_recipient",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("notified_at", sa.DateTime(), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["notice_id"],
            ["impact_notice.id"],
            name=op.f("fk_impact_notice_recipient_notice_id_impact_notice"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_impact_notice_recipient_person_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_impact_notice_recipient")),
        sa.UniqueConstraint(
            "notice_id", "person_id", name=op.f("uq_impact_notice_recipient_notice_id")
        ),
    )
    with op.batch_alter_table("impact_notice_recipient", schema=None) as batch_op:
        batch_op.create_index(
            "ix_impact_notice_recipient_person", ["person_id", "acknowledged_at"], unique=False
        )

    op.create_table(
        "impact_notice_update",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("all_clear", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"], ["person.id"], name=op.f("fk_impact_notice_update_author_id_person")
        ),
        sa.ForeignKeyConstraint(
            ["notice_id"],
            ["impact_notice.id"],
            name=op.f("fk_impact_notice_update_notice_id_impact_notice"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_impact_notice_update")),
    )
    with op.batch_alter_table("impact_notice_update", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_impact_notice_update_notice_id"), ["notice_id"], unique=False
        )

    op.create_table(
        "outbox_attachment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mail_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["mail_id"], ["outbox_mail.id"], name=op.f("fk_outbox_attachment_mail_id_outbox_mail")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_attachment")),
    )
    with op.batch_alter_table("outbox_attachment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbox_attachment_mail_id"), ["mail_id"], unique=False)

    op.create_table(
        "impact_notice_service",
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["notice_id"],
            ["impact_notice.id"],
            name=op.f("fk_impact_notice_service_notice_id_impact_notice"),
        ),
        sa.ForeignKeyConstraint(
            ["service_id"], ["service.id"], name=op.f("fk_impact_notice_service_service_id_service")
        ),
        sa.PrimaryKeyConstraint("notice_id", "service_id", name=op.f("pk_impact_notice_service")),
    )


def downgrade():
    op.drop_table("impact_notice_service")
    with op.batch_alter_table("outbox_attachment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_attachment_mail_id"))

    op.drop_table("outbox_attachment")
    with op.batch_alter_table("impact_notice_update", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_impact_notice_update_notice_id"))

    op.drop_table("impact_notice_update")
    with op.batch_alter_table("impact_notice_recipient", schema=None) as batch_op:
        batch_op.drop_index("ix_impact_notice_recipient_person")

    op.drop_table("impact_notice_recipient")
    with op.batch_alter_table("impact_notice", schema=None) as batch_op:
        batch_op.drop_index("ix_impact_notice_state_starts")

    op.drop_table("impact_notice")
