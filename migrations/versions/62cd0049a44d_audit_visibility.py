"""audit visibility: who may read each event, and refusals counted on one row

Revision ID: 62cd0049a44d
Revises: 3eb76c721899
Create Date: 2026-12-01 22:50:00

Events recorded before this revision are placed from their action and subject where
that is certain; everything else stays with staff and the chair (fail closed).
"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "62cd0049a44d"
down_revision = "7c404adc2739"
branch_labels = None
depends_on = None

# Frozen copy of infrawg.policy.AUDIT_VISIBILITY as it stood at this revision (archive
# events are left to staff: whether their list or thread is kept to staff is not
# re-derived here).
GROUP = (
    "staff.granted", "staff.revoked", "staff.stepped_down", "staff.ended", "chair.ended",
    "board.ended", "chair.replaced", "chair.appointed", "board.granted",
    "membership.admitted", "organisation.wg_recorded", "organisation.charter_ended",
    "organisation.co_created", "organisation.recognised", "co_application.submitted",
    "co_application.chair_approved", "co_application.chair_declined",
    "co_application.board_approved", "co_application.board_declined",
    "tenant_member.added", "survey.opened", "survey.closed", "goal.drafted", "goal.updated",
    "goal.commented", "goal.published", "goals.published", "goal.status_updated",
    "project.created", "milestone.added", "milestone.updated", "service_type.added",
    "service_type.updated",
)
TENANT = (
    "tenant_member.invited", "tenant_member.successor_nominated",
    "tenant_member.invitation_accepted", "tenant_member.left", "service.requested",
    "service.capacity_overridden", "service.approved", "service.declined", "service.failed",
    "service.provisioning", "service.active", "dns.record_added", "dns.record_changed",
    "dns.record_deleted", "dns.dnssec_on", "dns.dnssec_off", "dns.apply_requested",
)
CONCERNED = (
    "staff.requested", "staff.request_withdrawn", "staff.declined", "membership.applied",
    "membership.email_confirmed", "membership.awaiting_approval", "membership.declined",
    "membership.left", "membership.rejoin", "account.password_reset",
    "account.password_changed", "account.profile_updated", "account.login_linked",
    "account.login_unlinked", "refused", "survey.draft_saved", "survey.answered",
    "survey.tenant_answered", "survey.tenant_answer_edited", "survey.reminders_stopped",
    "survey.reminders_restarted", "project.calendar_link_issued",
    "project.calendar_link_revoked",
)


def upgrade():
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("visibility", sa.String(length=19), server_default="staff", nullable=False)
        )
        batch_op.add_column(sa.Column("organisation_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("person_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("repeats", sa.Integer(), server_default="0", nullable=False))
        batch_op.create_index(batch_op.f("ix_audit_event_person_id"), ["person_id"], unique=False)
        batch_op.create_index(
            "ix_audit_event_visibility_org", ["visibility", "organisation_id"], unique=False
        )

    event = sa.table(
        "audit_event",
        sa.column("action", sa.String),
        sa.column("subject_type", sa.String),
        sa.column("subject_id", sa.Integer),
        sa.column("visibility", sa.String),
        sa.column("organisation_id", sa.Integer),
        sa.column("person_id", sa.Integer),
    )
    organisation_of = {
        "tenant_organisation": "SELECT id FROM tenant_organisation WHERE id = audit_event.subject_id",
        "service": "SELECT organisation_id FROM service WHERE id = audit_event.subject_id",
        "tenant_invitation": "SELECT organisation_id FROM tenant_invitation WHERE id = audit_event.subject_id",
        "co_application": "SELECT organisation_id FROM co_application WHERE id = audit_event.subject_id",
    }
    for subject_type, query in organisation_of.items():
        op.execute(
            event.update()
            .where(event.c.subject_type == subject_type)
            .values(organisation_id=sa.text(f"({query})"))
        )
    person_of = {
        "person": "SELECT id FROM person WHERE id = audit_event.subject_id",
        "staff_request": "SELECT person_id FROM staff_request WHERE id = audit_event.subject_id",
        "linked_login": "SELECT person_id FROM linked_login WHERE id = audit_event.subject_id",
    }
    for subject_type, query in person_of.items():
        op.execute(
            event.update()
            .where(event.c.subject_type == subject_type)
            .values(person_id=sa.text(f"({query})"))
        )
    for visibility, actions in (("group", GROUP), ("tenant", TENANT), ("concerned", CONCERNED)):
        op.execute(event.update().where(event.c.action.in_(actions)).values(visibility=visibility))


def downgrade():
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_event_visibility_org")
        batch_op.drop_index(batch_op.f("ix_audit_event_person_id"))
        batch_op.drop_column("repeats")
        batch_op.drop_column("person_id")
        batch_op.drop_column("organisation_id")
        batch_op.drop_column("visibility")
