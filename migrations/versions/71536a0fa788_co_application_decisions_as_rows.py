"""CO application decisions as rows: one per side (the chair's, the board's)

Revision ID: 71536a0fa788
Revises: 5c1e2a9b7d40
Create Date: 2026-12-01 23:40:00.000000

"""

from alembic import op
import sqlalchemy as sa


revision = "71536a0fa788"
down_revision = "5c1e2a9b7d40"
branch_labels = None
depends_on = None

SIDES = ("chair", "board")


def _decision_enum():
    return sa.Enum("approve", "decline", name="decision", native_enum=False, length=17)


def upgrade():
    # SQLite alters co_application by copying it to a new table and dropping the old one,
    # which a row referencing it would refuse: the decisions' key to their application is
    # added last, once co_application has its final shape.
    op.create_table(
        "co_application_decision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column(
            "side",
            sa.Enum("chair", "board", name="side", native_enum=False, length=15),
            nullable=False,
        ),
        sa.Column("decision", _decision_enum(), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["decided_by_id"],
            ["person.id"],
            name=op.f("fk_co_application_decision_decided_by_id_person"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_co_application_decision")),
        sa.UniqueConstraint("application_id", "side", name="uq_co_application_decision_side"),
    )
    # The decisions recorded so far move to their rows, oldest first.
    for side in SIDES:
        op.execute(
            "INSERT INTO co_application_decision "
            "(application_id, side, decision, decided_at, decided_by_id, decision_reason) "
            f"SELECT id, '{side}', {side}_decision, {side}_decided_at, {side}_decided_by_id, "
            f"{side}_reason FROM co_application WHERE {side}_decision IS NOT NULL "
            f"ORDER BY {side}_decided_at, id"
        )
    with op.batch_alter_table("co_application", schema=None) as batch_op:
        for side in SIDES:
            batch_op.drop_constraint(
                f"fk_co_application_{side}_decided_by_id_person", type_="foreignkey"
            )
        for side in SIDES:
            batch_op.drop_column(f"{side}_decision")
            batch_op.drop_column(f"{side}_reason")
            batch_op.drop_column(f"{side}_decided_at")
            batch_op.drop_column(f"{side}_decided_by_id")
    with op.batch_alter_table("co_application_decision", schema=None) as batch_op:
        batch_op.create_foreign_key(
            op.f("fk_co_application_decision_application_id_co_application"),
            "co_application",
            ["application_id"],
            ["id"],
        )


def downgrade():
    with op.batch_alter_table("co_application_decision", schema=None) as batch_op:
        batch_op.drop_constraint(
            "fk_co_application_decision_application_id_co_application", type_="foreignkey"
        )
    with op.batch_alter_table("co_application", schema=None) as batch_op:
        for side in SIDES:
            batch_op.add_column(sa.Column(f"{side}_decision", _decision_enum(), nullable=True))
            batch_op.add_column(sa.Column(f"{side}_reason", sa.Text(), nullable=True))
            batch_op.add_column(sa.Column(f"{side}_decided_at", sa.DateTime(), nullable=True))
            batch_op.add_column(sa.Column(f"{side}_decided_by_id", sa.Integer(), nullable=True))
            batch_op.create_foreign_key(
                f"fk_co_application_{side}_decided_by_id_person",
                "person",
                [f"{side}_decided_by_id"],
                ["id"],
            )
    for side in SIDES:
        for column, source in (
            ("decision", "decision"),
            ("reason", "decision_reason"),
            ("decided_at", "decided_at"),
            ("decided_by_id", "decided_by_id"),
        ):
            op.execute(
                f"UPDATE co_application SET {side}_{column} = ("
                f"SELECT d.{source} FROM co_application_decision d "
                f"WHERE d.application_id = co_application.id AND d.side = '{side}')"
            )
    op.drop_table("co_application_decision")
