"""inbox at scale: a non-null due sort key and indexes that match the inbox's filters and sorts

Revision ID: 0008_inbox_scale
Revises: 0007_records
Create Date: 2026-11-30
"""
from datetime import datetime

from alembic import op
import sqlalchemy as sa


revision = '0008_inbox_scale'
down_revision = '0007_records'
branch_labels = None
depends_on = None

#: the due sort key of a task without a due date: after every dated one (see engine.storage.models.NO_DUE_DATE)
NO_DUE = datetime(9999, 12, 31)  # stored naive UTC, like every UTCDateTime


def upgrade() -> None:
    with op.batch_alter_table('human_task', schema=None) as batch_op:
        batch_op.add_column(sa.Column('due_sort', sa.DateTime(), nullable=True))
    op.execute(sa.text("UPDATE human_task SET due_sort = COALESCE(due_at, :none)").bindparams(
        sa.bindparam("none", NO_DUE, type_=sa.DateTime())))
    with op.batch_alter_table('human_task', schema=None) as batch_op:
        batch_op.alter_column('due_sort', existing_type=sa.DateTime(), nullable=False)
        batch_op.drop_index('ix_human_task_status_role')
        batch_op.create_index('ix_human_task_inbox_due', ['status', 'role', 'due_sort', 'created_at', 'id'])
        batch_op.create_index('ix_human_task_inbox_created', ['status', 'role', 'created_at', 'id'])
        batch_op.create_index('ix_human_task_inbox_org_due',
                              ['status', 'organisation_id', 'role', 'due_sort', 'created_at', 'id'])
    op.create_index('ix_human_task_inbox_priority', 'human_task',
                    ['status', 'role', sa.text('priority DESC'), 'due_sort', 'id'])


def downgrade() -> None:
    op.drop_index('ix_human_task_inbox_priority', table_name='human_task')
    with op.batch_alter_table('human_task', schema=None) as batch_op:
        batch_op.drop_index('ix_human_task_inbox_org_due')
        batch_op.drop_index('ix_human_task_inbox_created')
        batch_op.drop_index('ix_human_task_inbox_due')
        batch_op.create_index('ix_human_task_status_role', ['status', 'role'])
        batch_op.drop_column('due_sort')
