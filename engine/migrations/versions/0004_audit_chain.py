"""audit chain: hash-chained, append-only event log

Adds ``event.prev_hash`` and ``event.hash``, computes the chain for the events already there (per case,
and the system chain), then installs triggers that refuse UPDATE and DELETE on ``event`` (and TRUNCATE on
PostgreSQL). Electronic signatures live inside the ``task.completed`` events, so they are covered by both.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""
import hashlib
import json
from datetime import timezone

from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

# A frozen copy of engine.records.chain (a migration must not change meaning when the code moves on).
_FIELDS = ("case_id", "seq", "occurred_at", "actor", "actor_name", "role", "action", "element_id",
           "element_name", "element_type", "task_id", "data")

SQLITE_TRIGGERS = (
    "CREATE TRIGGER event_append_only_update BEFORE UPDATE ON event "
    "BEGIN SELECT RAISE(ABORT, 'event is append-only: UPDATE refused'); END",
    "CREATE TRIGGER event_append_only_delete BEFORE DELETE ON event "
    "BEGIN SELECT RAISE(ABORT, 'event is append-only: DELETE refused'); END",
)
PG_FUNCTION = """
CREATE OR REPLACE FUNCTION event_append_only() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
    RAISE EXCEPTION USING MESSAGE = 'event is append-only: ' || TG_OP || ' refused';
END
$body$
"""
PG_TRIGGERS = (
    "CREATE TRIGGER event_append_only_update BEFORE UPDATE ON event "
    "FOR EACH ROW EXECUTE FUNCTION event_append_only()",
    "CREATE TRIGGER event_append_only_delete BEFORE DELETE ON event "
    "FOR EACH ROW EXECUTE FUNCTION event_append_only()",
    "CREATE TRIGGER event_append_only_truncate BEFORE TRUNCATE ON event "
    "FOR EACH STATEMENT EXECUTE FUNCTION event_append_only()",
)


def _hash(row, prev_hash):
    content = {f: getattr(row, f) for f in _FIELDS}
    at = content["occurred_at"]
    if at.tzinfo is None:
        at = at.replace(tzinfo=timezone.utc)
    content["occurred_at"] = at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    content["prev_hash"] = prev_hash
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _backfill(bind) -> None:
    event = sa.table("event", sa.column("id", sa.Integer), sa.column("case_id", sa.String),
                     sa.column("seq", sa.Integer), sa.column("occurred_at", sa.DateTime),
                     sa.column("actor", sa.String), sa.column("actor_name", sa.String), sa.column("role", sa.String),
                     sa.column("action", sa.String), sa.column("element_id", sa.String),
                     sa.column("element_name", sa.String), sa.column("element_type", sa.String),
                     sa.column("task_id", sa.String), sa.column("data", sa.JSON),
                     sa.column("prev_hash", sa.String), sa.column("hash", sa.String))
    rows = bind.execute(sa.select(event).order_by(event.c.case_id, event.c.seq, event.c.id)).all()
    last: dict = {}
    for row in rows:
        prev = last.get(row.case_id)
        digest = _hash(row, prev)
        bind.execute(event.update().where(event.c.id == row.id).values(prev_hash=prev, hash=digest))
        last[row.case_id] = digest


def upgrade() -> None:
    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('prev_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('hash', sa.String(length=64), nullable=True))
    bind = op.get_bind()
    _backfill(bind)
    if bind.dialect.name == "sqlite":
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)
    elif bind.dialect.name == "postgresql":
        op.execute(PG_FUNCTION)
        for statement in PG_TRIGGERS:
            op.execute(statement)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS event_append_only_update")
        op.execute("DROP TRIGGER IF EXISTS event_append_only_delete")
    elif bind.dialect.name == "postgresql":
        for name in ("update", "delete", "truncate"):
            op.execute(f"DROP TRIGGER IF EXISTS event_append_only_{name} ON event")
        op.execute("DROP FUNCTION IF EXISTS event_append_only()")
    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.drop_column('hash')
        batch_op.drop_column('prev_hash')
