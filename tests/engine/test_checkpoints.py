"""Signed checkpoints: `accredit audit verify`, on its own (no anchor), catches a tail rewritten with every
hash recomputed, a forged or deleted checkpoint, and events appended outside the application; `accredit
audit checkpoint` signs chains written before a key existed. Real SQLite file, real CLI (click's runner)."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from api.cli import main
from engine.records import chain
from engine.storage.models import Event
from engine.cases.services import Engine

from .bpmn_builder import two_step
from .test_audit import finished_case, tamper


@pytest.fixture
def keyed(db, tmp_path, monkeypatch):
    """A key made by `accredit audit keygen`, the CLI pointed at the test database, one finished case."""
    monkeypatch.setenv("DATABASE_URL", str(db.engine.url))
    monkeypatch.delenv("ACCREDIT_AUDIT_KEY", raising=False)
    key_file = tmp_path / "audit.key"
    result = CliRunner().invoke(main, ["audit", "keygen", "--file", str(key_file)])
    assert result.exit_code == 0, result.output
    assert (key_file.stat().st_mode & 0o777) == 0o600
    monkeypatch.setenv("ACCREDIT_AUDIT_KEY_FILE", str(key_file))
    return key_file


def raw(db, sql, **params) -> None:
    """SQL straight at the database (the checkpoint table has no append-only triggers)."""
    with db.engine.begin() as conn:
        conn.execute(sa.text(sql), params)


def _verify(*args):
    return CliRunner().invoke(main, ["audit", "verify", *args])


def _case(db, actors) -> str:
    engine = Engine(db, script_time_limit=1.0)
    engine.deploy(two_step(), deployed_by="qm")
    return finished_case(engine, actors)


def rewrite_tail(db, case_id) -> None:
    """Change the last event's data and recompute its hash: the hash chain alone stays consistent."""
    with db.read() as s:
        last = s.scalars(sa.select(Event).where(Event.case_id == case_id).order_by(Event.seq.desc())).first()
        forged = SimpleNamespace(**{f: getattr(last, f) for f in chain.CONTENT_FIELDS}, prev_hash=last.prev_hash)
    forged.data = {"outcome": "forged"}
    digest = chain.event_hash(forged)
    data_sql = "'{\"outcome\": \"forged\"}'" if db.is_sqlite else "CAST('{\"outcome\": \"forged\"}' AS json)"
    tamper(db, (f"UPDATE event SET data = {data_sql}, hash = :h WHERE case_id = :c AND seq = :s",
                {"h": digest, "c": case_id, "s": forged.seq}))


def test_a_rewritten_tail_with_recomputed_hashes_is_caught_without_an_anchor(db, actors, keyed):
    case_id = _case(db, actors)
    assert _verify().exit_code == 0
    rewrite_tail(db, case_id)
    result = _verify(case_id)
    assert result.exit_code == 1
    assert "BROKEN" in result.output and "signed head" in result.output


def test_without_a_key_the_same_rewrite_passes_unnoticed(db, actors, monkeypatch):
    """What the checkpoint adds: with no key, a recomputed tail verifies (and says it was not checked)."""
    monkeypatch.setenv("DATABASE_URL", str(db.engine.url))
    monkeypatch.delenv("ACCREDIT_AUDIT_KEY", raising=False)
    monkeypatch.delenv("ACCREDIT_AUDIT_KEY_FILE", raising=False)
    case_id = _case(db, actors)
    rewrite_tail(db, case_id)
    result = _verify(case_id)
    assert result.exit_code == 0 and "no audit key" in result.output


def test_a_forged_or_deleted_checkpoint_and_an_appended_event_are_caught(db, actors, keyed):
    case_id = _case(db, actors)
    with db.read() as s:
        head = s.execute(sa.select(Event.seq, Event.hash).where(Event.case_id == case_id)
                         .order_by(Event.seq.desc())).first()
    raw(db, "UPDATE audit_checkpoint SET seq = :s WHERE chain = :c", s=head.seq - 1, c=case_id)
    assert "signature is wrong" in _verify(case_id).output

    raw(db, "DELETE FROM audit_checkpoint WHERE chain = :c", c=case_id)
    result = _verify(case_id)
    assert result.exit_code == 1 and "no signed checkpoint" in result.output


def test_an_event_appended_outside_the_application_is_caught(db, actors, keyed):
    case_id = _case(db, actors)
    with db.read() as s:
        last = s.scalars(sa.select(Event).where(Event.case_id == case_id).order_by(Event.seq.desc())).first()
        extra = SimpleNamespace(**{f: getattr(last, f) for f in chain.CONTENT_FIELDS}, prev_hash=last.hash)
    extra.seq, extra.action, extra.data = last.seq + 1, "comment.added", {"body": "appended"}
    tamper(db, ("INSERT INTO event (case_id, seq, occurred_at, actor, actor_name, role, action, element_id, "
                "element_name, element_type, task_id, data, prev_hash, hash) SELECT case_id, :seq, occurred_at, "
                "actor, actor_name, role, :action, element_id, element_name, element_type, task_id, NULL, :prev, "
                ":hash FROM event WHERE case_id = :c AND seq = :last",
                {"seq": extra.seq, "action": extra.action, "prev": last.hash, "c": case_id, "last": last.seq,
                 "hash": chain.event_hash(SimpleNamespace(**{**vars(extra), "data": None}))}))
    result = _verify(case_id)
    assert result.exit_code == 1 and "not covered by the signed checkpoint" in result.output


def test_checkpoint_command_signs_chains_written_before_the_key(db, actors, tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", str(db.engine.url))
    monkeypatch.delenv("ACCREDIT_AUDIT_KEY", raising=False)
    monkeypatch.delenv("ACCREDIT_AUDIT_KEY_FILE", raising=False)
    case_id = _case(db, actors)  # no key yet: nothing signed
    key_file = tmp_path / "late.key"
    assert CliRunner().invoke(main, ["audit", "keygen", "--file", str(key_file)]).exit_code == 0
    monkeypatch.setenv("ACCREDIT_AUDIT_KEY_FILE", str(key_file))
    assert "no signed checkpoint" in _verify(case_id).output
    result = CliRunner().invoke(main, ["audit", "checkpoint"])
    assert result.exit_code == 0, result.output
    assert "signed 2 chain head(s)" in result.output  # the system chain and the case
    assert _verify().exit_code == 0
    again = CliRunner().invoke(main, ["audit", "keygen", "--file", str(key_file)])
    assert again.exit_code == 1 and "never overwritten" in again.output
