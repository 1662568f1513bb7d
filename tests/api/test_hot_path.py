"""The completion hot path stays lean: a task completion over HTTP is a fixed, small number of SQL statements,
whatever the case's age (counted, never timed)."""
from __future__ import annotations

import sqlalchemy as sa

#: BEGIN + the token/user/roles read; BEGIN IMMEDIATE, the case row with its history head, the case's ready inbox
#: rows, one INSERT of every new history event, the inbox rows changed, the case row (the issue-13 profile
#: counted 36 statements, the previous stop 15)
MAX_STATEMENTS = 9


def _count(api):
    statements: list[str] = []
    sa.event.listen(api.services.db.engine, "before_cursor_execute",
                    lambda conn, cursor, statement, *a: statements.append(statement))
    return statements


def test_a_completion_over_http_runs_at_most_nine_statements(api):
    alice, carol = api.client("applicant_a"), api.client("coordinator")
    assert alice.get("/api/me").status_code == 200 and carol.get("/api/me").status_code == 200  # token first use
    case = api.start("applicant_a")
    statements = _count(api)
    done = alice.post(f"/api/tasks/{case['tasks'][0]['id']}/complete", json={"data": {"answer": "yes"}})
    assert done.status_code == 200, done.get_json()
    assert len(statements) <= MAX_STATEMENTS, "\n".join(statements)
    inserts = [s for s in statements if s.lstrip().upper().startswith("INSERT INTO EVENT")]
    assert len(inserts) == 1  # every history event of the step in one statement

    [review] = carol.get("/api/tasks").get_json()["items"]
    statements.clear()
    end = carol.post(f"/api/tasks/{review['id']}/complete", json={"data": {}})
    assert end.get_json()["status"] == "completed"
    assert len(statements) <= MAX_STATEMENTS, "\n".join(statements)
    history = alice.get(f"/api/cases/{case['id']}/history").get_json()
    assert [e["seq"] for e in history] == list(range(1, len(history) + 1))
    assert all(e["prev_hash"] == p["hash"] for p, e in zip(history, history[1:]))
