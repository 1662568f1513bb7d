"""case team: the explicit record of who is on a case (inspector access comes from it)

Existing cases keep the inspectors they had: everyone a task of the case is assigned to or claimed by in an
inspector lane becomes an active member (the rule access used before this table existed).

Revision ID: 0009_case_team
Revises: 0008_inbox_scale
Create Date: 2026-11-30
"""
from alembic import op
import sqlalchemy as sa


revision = '0009_case_team'
down_revision = '0008_inbox_scale'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'case_member',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.String(length=36), nullable=False),
        sa.Column('username', sa.String(length=200), nullable=False),
        sa.Column('role', sa.String(length=200), nullable=True),
        sa.Column('since', sa.DateTime(), nullable=False),
        sa.Column('until', sa.DateTime(), nullable=True),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.Column('ended_reason', sa.Text(), nullable=True),
        sa.Column('added_by', sa.String(length=200), nullable=True),
        sa.Column('removed_by', sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(['case_id'], ['case.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_case_member_user_active', 'case_member', ['username', 'until'])
    op.create_index('ix_case_member_case', 'case_member', ['case_id'])
    # carry over today's implicit rule once, so running cases keep their inspectors
    op.execute(sa.text(
        "INSERT INTO case_member (case_id, username, role, since, reason, added_by) "
        "SELECT case_id, username, 'inspector', MIN(created_at), 'carried over from task assignment', 'migration' "
        "FROM (SELECT case_id, assignee AS username, created_at FROM human_task "
        "      WHERE role = 'inspector' AND assignee IS NOT NULL "
        "      UNION ALL SELECT case_id, claimed_by, created_at FROM human_task "
        "      WHERE role = 'inspector' AND claimed_by IS NOT NULL) AS assigned "
        "GROUP BY case_id, username"))


def downgrade() -> None:
    op.drop_index('ix_case_member_case', table_name='case_member')
    op.drop_index('ix_case_member_user_active', table_name='case_member')
    op.drop_table('case_member')
