"""service layer: service types, services, DNS zones and records, jobs and their logs

Revision ID: 6a845345db70
Revises: 0a0ec403f684
Create Date: 2026-11-25 22:51:36.110229

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '6a845345db70'
down_revision = '0a0ec403f684'  # governance and tenants: service.organisation_id
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('service_type',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('provider', sa.String(length=80), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['person.id'], name=op.f('fk_service_type_created_by_id_person')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_service_type')),
    sa.UniqueConstraint('name', name=op.f('uq_service_type_name'))
    )
    op.create_table('service',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('service_type_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('parameters', sa.JSON(), nullable=False),
    sa.Column('purpose', sa.Text(), nullable=False),
    sa.Column('state', sa.Enum('requested', 'approved', 'declined', 'provisioning', 'active', 'failed', 'suspended', 'decommissioned', name='servicestate', native_enum=False, length=24), nullable=False),
    sa.Column('state_reason', sa.Text(), nullable=True),
    sa.Column('state_changed_at', sa.DateTime(), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=False),
    sa.Column('requested_at', sa.DateTime(), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.Column('decision_reason', sa.Text(), nullable=True),
    sa.Column('capacity_override_reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['decided_by_id'], ['person.id'], name=op.f('fk_service_decided_by_id_person')),
    sa.ForeignKeyConstraint(['organisation_id'], ['tenant_organisation.id'], name=op.f('fk_service_organisation_id_tenant_organisation')),
    sa.ForeignKeyConstraint(['requested_by_id'], ['person.id'], name=op.f('fk_service_requested_by_id_person')),
    sa.ForeignKeyConstraint(['service_type_id'], ['service_type.id'], name=op.f('fk_service_service_type_id_service_type')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_service'))
    )
    with op.batch_alter_table('service', schema=None) as batch_op:
        batch_op.create_index('ix_service_org_state', ['organisation_id', 'state'], unique=False)
        batch_op.create_index('ix_service_state_requested', ['state', 'requested_at'], unique=False)
        batch_op.create_index('ix_service_type_state', ['service_type_id', 'state'], unique=False)

    op.create_table('dns_zone',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('service_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('dnssec', sa.Boolean(), nullable=False),
    sa.Column('published_ds', sa.JSON(), nullable=False),
    sa.Column('observed_at', sa.DateTime(), nullable=True),
    sa.Column('adopted', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['service_id'], ['service.id'], name=op.f('fk_dns_zone_service_id_service')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dns_zone')),
    sa.UniqueConstraint('service_id', name=op.f('uq_dns_zone_service_id'))
    )
    with op.batch_alter_table('dns_zone', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dns_zone_name'), ['name'], unique=False)

    op.create_table('job',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=80), nullable=False),
    sa.Column('args', sa.JSON(), nullable=False),
    sa.Column('state', sa.Enum('queued', 'running', 'succeeded', 'failed', 'dead', name='jobstate', native_enum=False, length=19), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('max_attempts', sa.Integer(), nullable=False),
    sa.Column('next_run_at', sa.DateTime(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=True),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.Column('locked_by', sa.String(length=120), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('plan', sa.Text(), nullable=True),
    sa.Column('service_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['service_id'], ['service.id'], name=op.f('fk_job_service_id_service')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job'))
    )
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_job_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_job_service_id'), ['service_id'], unique=False)
        batch_op.create_index('ix_job_state_next_run', ['state', 'next_run_at'], unique=False)

    op.create_table('dns_record',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('zone_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('rdtype', sa.String(length=16), nullable=False),
    sa.Column('ttl', sa.Integer(), nullable=False),
    sa.Column('values', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['zone_id'], ['dns_zone.id'], name=op.f('fk_dns_record_zone_id_dns_zone')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dns_record')),
    sa.UniqueConstraint('zone_id', 'name', 'rdtype', name=op.f('uq_dns_record_zone_id'))
    )
    op.create_table('job_log_line',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('line', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['job.id'], name=op.f('fk_job_log_line_job_id_job')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job_log_line'))
    )
    with op.batch_alter_table('job_log_line', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_job_log_line_job_id'), ['job_id'], unique=False)


def downgrade():
    with op.batch_alter_table('job_log_line', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_job_log_line_job_id'))

    op.drop_table('job_log_line')
    op.drop_table('dns_record')
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.drop_index('ix_job_state_next_run')
        batch_op.drop_index(batch_op.f('ix_job_service_id'))
        batch_op.drop_index(batch_op.f('ix_job_kind'))

    op.drop_table('job')
    with op.batch_alter_table('dns_zone', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dns_zone_name'))

    op.drop_table('dns_zone')
    with op.batch_alter_table('service', schema=None) as batch_op:
        batch_op.drop_index('ix_service_type_state')
        batch_op.drop_index('ix_service_state_requested')
        batch_op.drop_index('ix_service_org_state')

    op.drop_table('service')
    op.drop_table('service_type')
