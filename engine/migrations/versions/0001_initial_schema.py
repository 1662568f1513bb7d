"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-25
"""
from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('process_definition',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('name', sa.String(length=400), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('files', sa.JSON(), nullable=False),
    sa.Column('spec', sa.Text(), nullable=False),
    sa.Column('start_message', sa.String(length=200), nullable=True),
    sa.Column('deployed_by', sa.String(length=200), nullable=False),
    sa.Column('deployed_at', sa.DateTime(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key', 'version', name='uq_process_definition_key_version')
    )
    with op.batch_alter_table('process_definition', schema=None) as batch_op:
        batch_op.create_index('ix_process_definition_key_hash', ['key', 'content_hash'], unique=False)

    op.create_table('case',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('definition_id', sa.Integer(), nullable=False),
    sa.Column('process_key', sa.String(length=200), nullable=False),
    sa.Column('organisation_id', sa.String(length=100), nullable=True),
    sa.Column('business_key', sa.String(length=200), nullable=False),
    sa.Column('parent_case_id', sa.String(length=36), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('outcome', sa.String(length=200), nullable=True),
    sa.Column('state', sa.Text(), nullable=False),
    sa.Column('started_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('ended_at', sa.DateTime(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['definition_id'], ['process_definition.id'], ),
    sa.ForeignKeyConstraint(['parent_case_id'], ['case.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_business_key'), ['business_key'], unique=False)
        batch_op.create_index('ix_case_org_status', ['organisation_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_parent_case_id'), ['parent_case_id'], unique=False)
        batch_op.create_index('ix_case_process_status', ['process_key', 'status'], unique=False)

    op.create_table('event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.String(length=36), nullable=True),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('occurred_at', sa.DateTime(), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('actor_name', sa.String(length=400), nullable=True),
    sa.Column('role', sa.String(length=50), nullable=True),
    sa.Column('action', sa.String(length=60), nullable=False),
    sa.Column('element_id', sa.String(length=200), nullable=True),
    sa.Column('element_name', sa.String(length=400), nullable=True),
    sa.Column('element_type', sa.String(length=60), nullable=True),
    sa.Column('task_id', sa.String(length=36), nullable=True),
    sa.Column('data', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['case.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('case_id', 'seq', name='uq_event_case_seq')
    )
    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_event_case_id'), ['case_id'], unique=False)

    op.create_table('human_task',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('case_id', sa.String(length=36), nullable=False),
    sa.Column('organisation_id', sa.String(length=100), nullable=True),
    sa.Column('process_key', sa.String(length=200), nullable=False),
    sa.Column('element_id', sa.String(length=200), nullable=False),
    sa.Column('name', sa.String(length=400), nullable=True),
    sa.Column('role', sa.String(length=50), nullable=True),
    sa.Column('assignee', sa.String(length=200), nullable=True),
    sa.Column('claimed_by', sa.String(length=200), nullable=True),
    sa.Column('form', sa.String(length=400), nullable=True),
    sa.Column('ui_form', sa.String(length=400), nullable=True),
    sa.Column('signature_meaning', sa.String(length=50), nullable=True),
    sa.Column('due_at', sa.DateTime(), nullable=True),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('completed_at', sa.DateTime(), nullable=True),
    sa.Column('completed_by', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['case.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('human_task', schema=None) as batch_op:
        batch_op.create_index('ix_human_task_assignee', ['assignee'], unique=False)
        batch_op.create_index('ix_human_task_case_status', ['case_id', 'status'], unique=False)
        batch_op.create_index('ix_human_task_status_role', ['status', 'role'], unique=False)

    op.create_table('message_subscription',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.String(length=36), nullable=False),
    sa.Column('organisation_id', sa.String(length=100), nullable=True),
    sa.Column('task_id', sa.String(length=36), nullable=False),
    sa.Column('element_id', sa.String(length=200), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['case.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('message_subscription', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_message_subscription_case_id'), ['case_id'], unique=False)
        batch_op.create_index('ix_message_subscription_name_org', ['name', 'organisation_id'], unique=False)

    op.create_table('timer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.String(length=36), nullable=False),
    sa.Column('task_id', sa.String(length=36), nullable=False),
    sa.Column('element_id', sa.String(length=200), nullable=False),
    sa.Column('name', sa.String(length=400), nullable=True),
    sa.Column('kind', sa.String(length=60), nullable=False),
    sa.Column('due_at', sa.DateTime(), nullable=False),
    sa.Column('attached_to', sa.String(length=36), nullable=True),
    sa.Column('interrupting', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['case.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('timer', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_timer_case_id'), ['case_id'], unique=False)
        batch_op.create_index('ix_timer_due', ['due_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('timer', schema=None) as batch_op:
        batch_op.drop_index('ix_timer_due')
        batch_op.drop_index(batch_op.f('ix_timer_case_id'))

    op.drop_table('timer')
    with op.batch_alter_table('message_subscription', schema=None) as batch_op:
        batch_op.drop_index('ix_message_subscription_name_org')
        batch_op.drop_index(batch_op.f('ix_message_subscription_case_id'))

    op.drop_table('message_subscription')
    with op.batch_alter_table('human_task', schema=None) as batch_op:
        batch_op.drop_index('ix_human_task_status_role')
        batch_op.drop_index('ix_human_task_case_status')
        batch_op.drop_index('ix_human_task_assignee')

    op.drop_table('human_task')
    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_event_case_id'))

    op.drop_table('event')
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.drop_index('ix_case_process_status')
        batch_op.drop_index(batch_op.f('ix_case_parent_case_id'))
        batch_op.drop_index('ix_case_org_status')
        batch_op.drop_index(batch_op.f('ix_case_business_key'))

    op.drop_table('case')
    with op.batch_alter_table('process_definition', schema=None) as batch_op:
        batch_op.drop_index('ix_process_definition_key_hash')

    op.drop_table('process_definition')
