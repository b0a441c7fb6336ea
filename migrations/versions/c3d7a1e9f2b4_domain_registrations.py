"""Domain registrations (R10): registrar, expiry, auto-renew, who pays and the board's
decision, the registrar task; the reminders sent and the history of each registration

Revision ID: c3d7a1e9f2b4
Revises: c4a7e2f19b83
Create Date: 2026-12-02 07:20:00.000000

"""

from alembic import op
import sqlalchemy as sa


revision = "c3d7a1e9f2b4"
down_revision = "c4a7e2f19b83"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "domain_registration",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("domain", sa.String(length=255), nullable=False),
        sa.Column(
            "mode",
            sa.Enum("register", "transfer", "track", name="domainmode", native_enum=False, length=18),
            nullable=False,
        ),
        sa.Column("registrar", sa.String(length=200), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.Column("auto_renew", sa.Boolean(), nullable=False),
        sa.Column("contacts", sa.Text(), nullable=False),
        sa.Column("zone_service_id", sa.Integer(), nullable=True),
        sa.Column(
            "payer",
            sa.Enum("tenant", "foundation", name="payer", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("paid_by", sa.String(length=200), nullable=False),
        sa.Column("payment_method", sa.String(length=200), nullable=False),
        sa.Column("payment_reference", sa.String(length=200), nullable=False),
        sa.Column(
            "board_state",
            sa.Enum(
                "none", "asked", "approved", "declined",
                name="boardstate", native_enum=False, length=18,
            ),
            nullable=False,
        ),
        sa.Column("board_reason", sa.Text(), nullable=False),
        sa.Column("board_resolution", sa.String(length=200), nullable=True),
        sa.Column("board_decided_by_id", sa.Integer(), nullable=True),
        sa.Column("board_decided_at", sa.DateTime(), nullable=True),
        sa.Column("task_open", sa.Boolean(), nullable=False),
        sa.Column("task_done_by_id", sa.Integer(), nullable=True),
        sa.Column("task_done_at", sa.DateTime(), nullable=True),
        sa.Column("expired_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["service_id"], ["service.id"], name=op.f("fk_domain_registration_service_id_service")
        ),
        sa.ForeignKeyConstraint(
            ["zone_service_id"],
            ["service.id"],
            name=op.f("fk_domain_registration_zone_service_id_service"),
        ),
        sa.ForeignKeyConstraint(
            ["board_decided_by_id"],
            ["person.id"],
            name=op.f("fk_domain_registration_board_decided_by_id_person"),
        ),
        sa.ForeignKeyConstraint(
            ["task_done_by_id"],
            ["person.id"],
            name=op.f("fk_domain_registration_task_done_by_id_person"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_domain_registration")),
        sa.UniqueConstraint("service_id", name=op.f("uq_domain_registration_service_id")),
    )
    with op.batch_alter_table("domain_registration", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_domain_registration_domain"), ["domain"], unique=False)

    op.create_table(
        "domain_reminder",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("registration_id", sa.Integer(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["domain_registration.id"],
            name=op.f("fk_domain_reminder_registration_id_domain_registration"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_domain_reminder")),
        sa.UniqueConstraint(
            "registration_id",
            "expires_on",
            "days",
            name=op.f("uq_domain_reminder_registration_id"),
        ),
    )
    op.create_table(
        "domain_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("registration_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("what", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["domain_registration.id"],
            name=op.f("fk_domain_event_registration_id_domain_registration"),
        ),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["person.id"], name=op.f("fk_domain_event_actor_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_domain_event")),
    )


def downgrade():
    op.drop_table("domain_event")
    op.drop_table("domain_reminder")
    with op.batch_alter_table("domain_registration", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_domain_registration_domain"))
    op.drop_table("domain_registration")
