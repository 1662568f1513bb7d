"""The audit trail in the engine: hash chain, append-only triggers (SQLite and PostgreSQL), verification
against each kind of tampering, electronic signatures, reasons, the history reader, the migration backfill
and the `accredit audit` command. Tampering is done the way an attacker with database access would: raw SQL
after dropping the triggers."""
from __future__ import annotations

import hashlib
import json
import threading
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
import time_machine
from click.testing import CliRunner

from engine.records import chain
from engine.reports.audit import Audit, verify_all, verify_chain
from engine.storage.db import Database, alembic_config
from engine.errors import InvalidFormData, NotFound
from engine.users.identity import Identity
from engine.storage.models import Event
from engine.cases.services import Engine
from engine.records.signatures import binding_digest

from .bpmn_builder import flow, process, two_step, user_task

T0 = datetime(2027, 3, 1, 9, 0, tzinfo=timezone.utc)
DECIDE_FORM = json.dumps({
    "$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object", "additionalProperties": False,
    "required": ["decision", "decision_reason"],
    "properties": {"decision": {"type": "string", "enum": ["grant", "deny"]},
                   "decision_reason": {"type": "string", "minLength": 1}}})
APPLY_FORM = json.dumps({"type": "object", "additionalProperties": False, "required": ["statement"],
                         "properties": {"statement": {"type": "string"}}})


def signed_bundle(pid: str = "signed") -> dict:
    """start → apply (applicant, signature: authorship) → decide (committee, signature: approval) → end."""
    body = ('<bpmn:startEvent id="start"/>'
            + user_task("apply", "Sign the application", "apply.json", {"signatureMeaning": "authorship"})
            + user_task("decide", "Committee decision", "decide.json", {"signatureMeaning": "approval"})
            + '<bpmn:endEvent id="end" name="Decided"/>'
            + flow("s1", "start", "apply") + flow("s2", "apply", "decide") + flow("s3", "decide", "end"))
    lanes = {"applicant": ["start", "apply"], "committee": ["decide", "end"]}
    return {f"{pid}.bpmn": process(pid, lanes, body), "apply.json": APPLY_FORM, "decide.json": DECIDE_FORM}


SIGN = {"method": "password"}


# -- fixtures -------------------------------------------------------------------------------------------

@pytest.fixture(params=["sqlite", "postgresql"])
def any_db(request):
    """The same test on a real SQLite file and on a real PostgreSQL database."""
    return request.getfixturevalue("db" if request.param == "sqlite" else "pg_db")


@pytest.fixture
def eng(any_db):
    engine = Engine(any_db, script_time_limit=1.0)
    engine.deploy(two_step(), deployed_by="qm")
    engine.deploy(signed_bundle(), deployed_by="qm")
    return engine


def finished_case(engine, actors) -> str:
    """A two_step case run to its end: start, ask (yes), review."""
    case = engine.start_case("two_step", actors["applicant"], "lab-a")
    case = engine.complete_task(case.tasks[0].id, actors["applicant"], {"answer": "yes", "note": "first"})
    engine.complete_task(case.tasks[0].id, actors["coordinator"], {})
    return case.id


def signed_case(engine, actors) -> str:
    case = engine.start_case("signed", actors["applicant"], "lab-a")
    case = engine.complete_task(case.tasks[0].id, actors["applicant"], {"statement": "We comply."}, signature=SIGN)
    engine.complete_task(case.tasks[0].id, actors["committee"],
                         {"decision": "grant", "decision_reason": "All standards met."}, signature=SIGN)
    return case.id


def rows(db, case_id) -> list[Event]:
    with db.read() as s:
        where = Event.case_id.is_(None) if case_id is None else Event.case_id == case_id
        return list(s.scalars(sa.select(Event).where(where).order_by(Event.seq)))


def seq_of(db, case_id, action, element_id=None) -> int:
    return next(e.seq for e in rows(db, case_id) if e.action == action
                and (element_id is None or e.element_id == element_id))


def drop_triggers(conn) -> None:
    """What an attacker with database access does first."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("DROP TRIGGER event_append_only_update")
        conn.exec_driver_sql("DROP TRIGGER event_append_only_delete")
    else:
        for name in ("update", "delete", "truncate"):
            conn.exec_driver_sql(f"DROP TRIGGER event_append_only_{name} ON event")


def tamper(db, *statements) -> None:
    with db.engine.begin() as conn:
        drop_triggers(conn)
        for sql, params in statements:
            conn.execute(sa.text(sql), params)


def json_text(db) -> str:
    """The data column as text in raw SQL (json on PostgreSQL)."""
    return "data" if db.is_sqlite else "data::text"


def as_json(db, expr: str) -> str:
    return expr if db.is_sqlite else f"CAST({expr} AS json)"


# -- the chain ------------------------------------------------------------------------------------------

def test_every_event_links_to_its_predecessor(eng, any_db, actors):
    case_id = finished_case(eng, actors)
    events = rows(any_db, case_id)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert events[0].prev_hash is None
    for before, after in zip(events, events[1:]):
        assert after.prev_hash == before.hash
    assert all(len(e.hash) == 64 for e in events)
    assert len({e.hash for e in events}) == len(events)
    # the system events (deployments) form their own chain
    system = rows(any_db, None)
    assert [e.action for e in system] == ["definition.deployed", "definition.deployed"]
    assert system[0].prev_hash is None and system[1].prev_hash == system[0].hash
    assert verify_chain(any_db, case_id) == {"case_id": case_id, "ok": True, "chain_ok": True, "checked": len(events),
                                             "first_broken": None, "checkpoint": {"status": "no key"},
                                             "head": {"seq": events[-1].seq, "hash": events[-1].hash}}
    assert verify_chain(any_db)["ok"] and verify_all(any_db)["ok"]


def test_hash_is_sha256_of_the_canonical_json_of_the_content(engine, db, actors):
    engine.deploy(two_step(), deployed_by="qm")
    case = engine.start_case("two_step", actors["applicant"], "lab-a")
    first = rows(db, case.id)[0]
    content = {"case_id": case.id, "seq": 1, "occurred_at": first.occurred_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
               "actor": "alice", "actor_name": "Alice Applicant", "role": None, "action": "case.started",
               "element_id": None, "element_name": None, "element_type": None, "task_id": None,
               "data": first.data, "prev_hash": None}
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert first.hash == hashlib.sha256(canonical.encode()).hexdigest()


def test_the_chain_continues_across_operations_and_engines(engine, db, actors):
    engine.deploy(two_step(), deployed_by="qm")
    case = engine.start_case("two_step", actors["applicant"], "lab-a")
    Engine(db).complete_task(case.tasks[0].id, actors["applicant"], {"answer": "no"})  # a fresh engine
    ws_identity = Identity(db)
    from engine.cases.workspace import Workspace

    Workspace(db, engine, ws_identity, db.url).add_comment(case.id, actors["coordinator"], "looked at it")
    assert verify_chain(db, case.id)["ok"]
    assert rows(db, case.id)[-1].action == "comment.added"


def test_concurrent_system_events_on_postgres_form_one_chain(pg_db):
    identity = Identity(pg_db)
    errors = []

    def work(n):
        try:
            for i in range(5):
                identity.record_system_event(f"user{n}", "permission.denied", {"i": i})
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    result = verify_chain(pg_db, None)
    assert result["ok"] and result["checked"] == 20


# -- append-only at the database ------------------------------------------------------------------------

def test_sqlite_refuses_update_and_delete_of_events(engine, db, actors):
    engine.deploy(two_step(), deployed_by="qm")
    case_id = finished_case(engine, actors)
    for sql in ("UPDATE event SET actor = 'mallory' WHERE case_id = :c",
                "DELETE FROM event WHERE case_id = :c AND seq = 2"):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"):
            with db.engine.begin() as conn:
                conn.execute(sa.text(sql), {"c": case_id})
    with pytest.raises(sa.exc.DatabaseError, match="append-only"):  # through the ORM as well
        with db.write() as s:
            s.scalar(sa.select(Event).where(Event.case_id == case_id).limit(1)).actor = "mallory"
    assert verify_chain(db, case_id)["ok"]
    assert {e.actor for e in rows(db, case_id)} == {"alice", "carol"}


def test_postgres_refuses_update_delete_and_truncate_of_events(pg_db, actors):
    engine = Engine(pg_db)
    engine.deploy(two_step(), deployed_by="qm")
    case_id = finished_case(engine, actors)
    for sql in ("UPDATE event SET actor = 'mallory' WHERE case_id = :c",
                "DELETE FROM event WHERE case_id = :c AND seq = 2", "TRUNCATE event CASCADE"):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"):
            with pg_db.engine.begin() as conn:
                conn.execute(sa.text(sql), {"c": case_id})
    assert verify_chain(pg_db, case_id)["ok"]
    with pg_db.engine.connect() as conn:
        names = set(conn.execute(sa.text("SELECT tgname FROM pg_trigger WHERE tgrelid = 'event'::regclass "
                                         "AND NOT tgisinternal")).scalars())
    assert names == {"event_append_only_update", "event_append_only_delete", "event_append_only_truncate"}


# -- tampering is detected (SQLite and PostgreSQL) --------------------------------------------------------

def test_edited_payload_is_detected(eng, any_db, actors):
    case_id = finished_case(eng, actors)
    seq = seq_of(any_db, case_id, "task.completed", "ask")
    tamper(any_db, (f"UPDATE event SET data = {as_json(any_db, 'replace(' + json_text(any_db) + ', :a, :b)')} "
                    "WHERE case_id = :c AND seq = :s", {"a": '"first"', "b": '"later"', "c": case_id, "s": seq}))
    assert rows(any_db, case_id)[seq - 1].data["submitted"]["note"] == "later"
    result = verify_chain(any_db, case_id)
    assert not result["ok"]
    assert result["first_broken"]["seq"] == seq and "edited" in result["first_broken"]["reason"]


def test_edited_actor_is_detected(eng, any_db, actors):
    case_id = finished_case(eng, actors)
    seq = seq_of(any_db, case_id, "task.completed", "review")
    tamper(any_db, ("UPDATE event SET actor = 'cody', actor_name = 'Cody' WHERE case_id = :c AND seq = :s",
                    {"c": case_id, "s": seq}))
    assert verify_chain(any_db, case_id)["first_broken"]["seq"] == seq


def test_deleted_row_is_detected(eng, any_db, actors):
    case_id = finished_case(eng, actors)
    seq = seq_of(any_db, case_id, "task.completed", "ask")
    tamper(any_db, ("DELETE FROM event WHERE case_id = :c AND seq = :s", {"c": case_id, "s": seq}))
    result = verify_chain(any_db, case_id)
    assert not result["ok"]
    assert result["first_broken"]["seq"] == seq + 1
    assert f"expected seq {seq}" in result["first_broken"]["reason"]


def test_deleted_row_with_renumbered_successors_is_detected(eng, any_db, actors):
    case_id = finished_case(eng, actors)
    seq = seq_of(any_db, case_id, "task.completed", "ask")
    last = rows(any_db, case_id)[-1].seq
    statements = [("DELETE FROM event WHERE case_id = :c AND seq = :s", {"c": case_id, "s": seq})]
    statements += [("UPDATE event SET seq = :n WHERE case_id = :c AND seq = :s", {"c": case_id, "s": s, "n": s - 1})
                   for s in range(seq + 1, last + 1)]
    tamper(any_db, *statements)
    result = verify_chain(any_db, case_id)
    assert [e.seq for e in rows(any_db, case_id)] == list(range(1, last))  # no gap left
    assert result["first_broken"]["seq"] == seq and "prev_hash" in result["first_broken"]["reason"]


def test_reordered_rows_are_detected(eng, any_db, actors):
    case_id = finished_case(eng, actors)
    a = seq_of(any_db, case_id, "task.completed", "ask")
    swap = [("UPDATE event SET seq = -1 WHERE case_id = :c AND seq = :s", {"c": case_id, "s": a}),
            ("UPDATE event SET seq = :a WHERE case_id = :c AND seq = :b", {"c": case_id, "a": a, "b": a + 1}),
            ("UPDATE event SET seq = :b WHERE case_id = :c AND seq = -1", {"c": case_id, "b": a + 1})]
    tamper(any_db, *swap)
    result = verify_chain(any_db, case_id)
    assert not result["ok"] and result["first_broken"]["seq"] == a
    assert "reordered" in result["first_broken"]["reason"]


def test_edited_hash_is_detected(eng, any_db, actors):
    case_id = finished_case(eng, actors)
    seq = seq_of(any_db, case_id, "task.completed", "ask")
    tamper(any_db, ("UPDATE event SET hash = :h WHERE case_id = :c AND seq = :s", {"h": "0" * 64, "c": case_id,
                                                                                  "s": seq}))
    result = verify_chain(any_db, case_id)
    assert result["first_broken"] == {"seq": seq, "reason": "the event's content does not match its hash "
                                                            "(content or hash edited)"}


def test_tampered_system_event_is_detected(db):
    identity = Identity(db)
    for i in range(3):
        identity.record_system_event("mallory", "login.failed", {"source": f"10.0.0.{i}"})
    assert verify_chain(db, None)["ok"]
    tamper(db, ("DELETE FROM event WHERE case_id IS NULL AND seq = 1", {}))
    assert verify_chain(db, None)["first_broken"]["seq"] == 2
    assert not verify_all(db)["ok"]


def test_a_rewritten_chain_end_is_caught_by_an_anchor(engine, db, actors):
    """Someone who drops the last event and recomputes nothing leaves a valid-looking shorter chain; the head
    printed on an earlier export (the anchor) shows it."""
    engine.deploy(two_step(), deployed_by="qm")
    case_id = finished_case(engine, actors)
    head = verify_chain(db, case_id)["head"]
    tamper(db, ("DELETE FROM event WHERE case_id = :c AND seq = :s", {"c": case_id, "s": head["seq"]}))
    assert verify_chain(db, case_id)["ok"]  # a truncated end alone is not visible ...
    anchored = verify_chain(db, case_id, anchor=head)  # ... against the recorded head it is
    assert not anchored["ok"] and anchored["first_broken"]["seq"] == head["seq"]


def test_recomputed_hashes_do_not_hide_an_edited_signature(engine, db, actors):
    """Even an attacker who rehashes the whole chain after editing signed data is caught by the signature's
    binding to the data it signed."""
    engine.deploy(signed_bundle(), deployed_by="qm")
    case_id = signed_case(engine, actors)
    seq = seq_of(db, case_id, "task.completed", "decide")
    events = rows(db, case_id)
    statements, prev = [], events[seq - 2].hash
    for e in events[seq - 1:]:
        if e.seq == seq:
            e.data = {**e.data, "submitted": {**e.data["submitted"], "decision": "deny"}}
        e.prev_hash = prev
        e.hash = prev = chain.event_hash(e)
        statements.append(("UPDATE event SET data = " + as_json(db, ":d") + ", prev_hash = :p, hash = :h "
                           "WHERE id = :i", {"d": json.dumps(e.data), "p": e.prev_hash, "h": e.hash, "i": e.id}))
    tamper(db, *statements)
    result = verify_chain(db, case_id)
    assert result["first_broken"] == {"seq": seq, "reason": "the signature's binding does not match the signed data"}


# -- electronic signatures in the engine -------------------------------------------------------------------

def test_signature_steps_refuse_completion_without_a_signature(engine, db, actors):
    engine.deploy(signed_bundle(), deployed_by="qm")
    case = engine.start_case("signed", actors["applicant"], "lab-a")
    assert case.tasks[0].signature_meaning == "authorship"
    with pytest.raises(InvalidFormData) as info:
        engine.complete_task(case.tasks[0].id, actors["applicant"], {"statement": "We comply."})
    assert info.value.errors == [{"field": "/signature/password", "message": "is required"}]
    with pytest.raises(InvalidFormData, match="meaning of this signature is 'authorship'"):
        engine.complete_task(case.tasks[0].id, actors["applicant"], {"statement": "We comply."},
                             signature={"method": "password", "meaning": "approval"})
    with pytest.raises(InvalidFormData):
        engine.complete_task(case.tasks[0].id, actors["applicant"], {"statement": "x"}, signature={"method": "none"})
    assert engine.get_case(case.id).tasks[0].status == "ready"
    assert "task.completed" not in [e.action for e in rows(db, case.id)]


def test_a_signature_records_name_time_meaning_and_binding(engine, db, actors):
    engine.deploy(signed_bundle(), deployed_by="qm")
    with time_machine.travel(T0, tick=False):
        case = engine.start_case("signed", actors["applicant"], "lab-a")
        task_id = case.tasks[0].id
        engine.complete_task(task_id, actors["applicant"], {"statement": "We comply."}, signature=SIGN)
    [sig] = Audit(db).signatures(None, case.id)
    assert sig["printed_name"] == "Alice Applicant" and sig["username"] == "alice"
    assert sig["signed_at"] == "2027-03-01T09:00:00.000000Z"
    assert sig["meaning"] == "authorship" and sig["method"] == "password" and sig["element_id"] == "apply"
    expected = hashlib.sha256(json.dumps({"case_id": case.id, "task_id": task_id, "element_id": "apply",
                                          "data": {"statement": "We comply."}}, sort_keys=True,
                                         separators=(",", ":")).encode()).hexdigest()
    assert sig["data_sha256"] == expected == binding_digest(case.id, task_id, "apply", {"statement": "We comply."})
    assert sig["binding_ok"] is True
    event = next(e for e in rows(db, case.id) if e.action == "task.completed")
    assert event.data["signature"]["data_sha256"] == expected and sig["event_hash"] == event.hash


def test_a_task_without_signature_meaning_takes_no_signature(engine, actors):
    engine.deploy(two_step(), deployed_by="qm")
    case = engine.start_case("two_step", actors["applicant"], "lab-a")
    with pytest.raises(InvalidFormData, match="not a signature step"):
        engine.complete_task(case.tasks[0].id, actors["applicant"], {"answer": "yes"}, signature=SIGN)


def test_reason_and_old_new_values_are_recorded(engine, db, actors):
    engine.deploy(signed_bundle(), deployed_by="qm")
    case_id = signed_case(engine, actors)
    decided = next(e for e in rows(db, case_id) if e.element_id == "decide" and e.action == "task.completed")
    assert decided.data["reason"] == "All standards met."
    assert decided.data["changes"]["decision"] == {"old": None, "new": "grant"}
    assert decided.data["signature"]["meaning"] == "approval"
    assert (decided.actor, decided.actor_name, decided.role) == ("cody", "Cody Committee", "committee")


# -- the history reader ---------------------------------------------------------------------------------

def test_history_filters_and_pages(engine, db, actors):
    engine.deploy(two_step(), deployed_by="qm")
    with time_machine.travel(T0, tick=False) as clock:
        case = engine.start_case("two_step", actors["applicant"], "lab-a")
        clock.shift(timedelta(hours=1))
        case = engine.complete_task(case.tasks[0].id, actors["applicant"], {"answer": "yes"})
        clock.shift(timedelta(hours=1))
        engine.complete_task(case.tasks[0].id, actors["coordinator"], {})
    audit, everything = Audit(db), rows(db, case.id)
    page = audit.history(None, case.id)
    assert page.total == len(everything) and [e["seq"] for e in page.items] == [e.seq for e in everything]
    assert [e["action"] for e in audit.history(None, case.id, action="task.completed").items] == ["task.completed"] * 2
    assert {e["action"] for e in audit.history(None, case.id, action="task.*").items} == {"task.ready",
                                                                                         "task.completed"}
    assert {e["actor"] for e in audit.history(None, case.id, user="carol").items} == {"carol"}
    assert {e["element_id"] for e in audit.history(None, case.id, element_id="review").items} == {"review"}
    later = audit.history(None, case.id, since=T0 + timedelta(minutes=30), until=T0 + timedelta(minutes=90))
    assert later.items and all(e["occurred_at"].startswith("2027-03-01T10:00") for e in later.items)
    assert later.items[0]["action"] == "task.completed" and later.items[0]["element_id"] == "ask"
    second = audit.history(None, case.id, page=2, per_page=3)
    assert [e["seq"] for e in second.items] == [4, 5, 6] and second.total == len(everything)
    with pytest.raises(NotFound):
        audit.history(actors["applicant_b"], case.id)  # other organisation: not found
    assert audit.history(actors["auditor"], case.id).total == len(everything)  # auditors read every case


def test_element_view_says_what_completed_when_and_by_whom(engine, db, actors):
    engine.deploy(two_step(), deployed_by="qm")
    with time_machine.travel(T0, tick=False) as clock:
        case = engine.start_case("two_step", actors["applicant"], "lab-a")
        clock.shift(timedelta(hours=2))
        engine.complete_task(case.tasks[0].id, actors["applicant"], {"answer": "yes"})
    view = {e["element_id"]: e for e in Audit(db).elements(actors["auditor"], case.id)}
    assert view["ask"]["state"] == "completed" and view["ask"]["times_completed"] == 1
    assert view["ask"]["last_completed_at"] == "2027-03-01T11:00:00+00:00"
    assert [(c["actor"], c["role"]) for c in view["ask"]["completions"]] == [("alice", "applicant")]
    assert view["compute"]["state"] == "completed" and view["compute"]["element_type"]
    assert view["review"]["state"] == "active" and view["review"]["times_completed"] == 0
    assert "end_yes" not in view


# -- migration and command line -----------------------------------------------------------------------

def test_migration_0004_chains_the_events_already_there(tmp_path):
    from alembic import command

    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    database = Database(url)
    cfg = alembic_config(url)
    with database.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0003")
    with database.engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO process_definition (key, version, content_hash, files, spec, deployed_by, "
                             "deployed_at) VALUES ('p', 1, 'h', '{}', '', 'qm', '2026-01-01 00:00:00')"))
        conn.execute(sa.text("INSERT INTO \"case\" (id, definition_id, process_key, business_key, status, state, "
                             "started_by, created_at, updated_at, version) VALUES ('c1', 1, 'p', 'BK-1', 'running', "
                             "'', 'alice', '2026-01-01 00:00:00', '2026-01-01 00:00:00', 1)"))
        for seq, case_id in ((1, "c1"), (2, "c1"), (1, None), (3, "c1"), (2, None)):
            conn.execute(sa.text("INSERT INTO event (case_id, seq, occurred_at, actor, action, data) VALUES "
                                 "(:c, :s, '2026-01-01 00:00:0' || :s, 'alice', 'old.event', '{\"n\": 1}')"),
                         {"c": case_id, "s": seq})
    database.migrate()
    assert verify_chain(database, "c1") == {"case_id": "c1", "ok": True, "chain_ok": True, "checked": 3,
                                            "first_broken": None, "checkpoint": {"status": "no key"},
                                            "head": {"seq": 3, "hash": rows(database, "c1")[-1].hash}}
    assert verify_chain(database, None)["ok"] and verify_chain(database, None)["checked"] == 2
    with pytest.raises(sa.exc.DatabaseError, match="append-only"):
        with database.engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM event"))
    database.dispose()


def test_cli_audit_verify(engine, db, actors, monkeypatch):
    from api.cli import main

    engine.deploy(two_step(), deployed_by="qm")
    case_id = finished_case(engine, actors)
    monkeypatch.setenv("DATABASE_URL", db.url)
    runner = CliRunner()
    everything = runner.invoke(main, ["audit", "verify"])
    assert everything.exit_code == 0, everything.output
    assert f"case {case_id}: ok" in everything.output and "system events: ok" in everything.output
    one = runner.invoke(main, ["audit", "verify", case_id, "--json"])
    assert one.exit_code == 0 and json.loads(one.output)["ok"] is True
    seq = seq_of(db, case_id, "task.completed", "ask")
    tamper(db, ("UPDATE event SET actor = 'mallory' WHERE case_id = :c AND seq = :s", {"c": case_id, "s": seq}))
    broken = runner.invoke(main, ["audit", "verify", case_id])
    assert broken.exit_code == 1 and f"BROKEN at seq {seq}" in broken.output
    assert runner.invoke(main, ["audit", "verify"]).exit_code == 1
    assert runner.invoke(main, ["audit", "verify", "no-such-case"]).exit_code != 0


def test_cli_audit_export(engine, db, actors, monkeypatch, tmp_path):
    from api.cli import main

    engine.deploy(two_step(), deployed_by="qm")
    case_id = finished_case(engine, actors)
    business_key = engine.get_case(case_id).business_key
    monkeypatch.setenv("DATABASE_URL", db.url)
    runner = CliRunner()
    for fmt, magic in (("csv", b"seq,occurred_at,actor"), ("json", b"{"), ("pdf", b"%PDF-")):
        out = tmp_path / f"record.{fmt}"
        result = runner.invoke(main, ["audit", "export", business_key, "--format", fmt, "-o", str(out)])
        assert result.exit_code == 0, result.output
        assert out.read_bytes().startswith(magic)
    assert [e.data["format"] for e in rows(db, None) if e.action == "record.exported"] == ["csv", "json", "pdf"]
