"""browser sessions, token expiry, sign-in attempts, settings (demo mode)

Revision ID: 0006_sessions_accounts
Revises: 0005
Create Date: 2026-11-30
"""
from alembic import op
import sqlalchemy as sa


revision = '0006_sessions_accounts'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'browser_session',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('user_id', sa.Integer(), sa.ForeignKey('user_account.id'), nullable=False, index=True),
        sa.Column('secret_hash', sa.String(64), nullable=False, unique=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('last_seen_at', sa.DateTime(), nullable=False),
        sa.Column('expires_at', sa.DateTime(), nullable=False),
        sa.Column('ended_at', sa.DateTime(), nullable=True),
        sa.Column('source', sa.String(100), nullable=True),
    )
    op.create_table(
        'auth_attempt',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('kind', sa.String(20), nullable=False),
        sa.Column('username', sa.String(200), nullable=False),
        sa.Column('source', sa.String(100), nullable=True),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.Column('succeeded', sa.Boolean(), nullable=True),
    )
    op.create_index('ix_auth_attempt_kind_user_at', 'auth_attempt', ['kind', 'username', 'at'])
    op.create_table(
        'setting',
        sa.Column('key', sa.String(100), primary_key=True),
        sa.Column('value', sa.JSON(), nullable=True),
    )
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expires_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('revoked_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('revoked_by', sa.String(200), nullable=True))
    # tokens issued before expiry existed: 90 days from now; the browser-session tokens of the old scheme die
    op.execute(sa.text("UPDATE api_token SET revoked = :t WHERE name = 'browser session'").bindparams(t=True))
    bind = op.get_bind()
    from datetime import datetime, timedelta, timezone
    later = (datetime.now(timezone.utc) + timedelta(days=90)).replace(tzinfo=None)
    bind.execute(sa.text("UPDATE api_token SET expires_at = :e WHERE expires_at IS NULL"), {"e": later})


def downgrade() -> None:
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.drop_column('revoked_by')
        batch_op.drop_column('revoked_at')
        batch_op.drop_column('expires_at')
    op.drop_table('setting')
    op.drop_index('ix_auth_attempt_kind_user_at', table_name='auth_attempt')
    op.drop_table('auth_attempt')
    op.drop_table('browser_session')
