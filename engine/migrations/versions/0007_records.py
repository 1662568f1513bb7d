"""signed checkpoints of the audit chains

Revision ID: 0007_records
Revises: 0006_sessions_accounts
Create Date: 2026-11-30
"""
from alembic import op
import sqlalchemy as sa


revision = '0007_records'
down_revision = '0006_sessions_accounts'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'audit_checkpoint',
        sa.Column('chain', sa.String(length=36), nullable=False),
        sa.Column('seq', sa.Integer(), nullable=False),
        sa.Column('hash', sa.String(length=64), nullable=False),
        sa.Column('signed_at', sa.DateTime(), nullable=False),
        sa.Column('key_id', sa.String(length=16), nullable=False),
        sa.Column('mac', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('chain'),
    )


def downgrade() -> None:
    op.drop_table('audit_checkpoint')
