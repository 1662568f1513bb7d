"""Odd text, numbers, dates and file names through a real worker (gunicorn) on a real PostgreSQL: a lone
surrogate, an integer Python cannot read, a date outside UTC's range and a file name with a line break are 4xx
problems naming the field — each was a 500 (the driver's or the decoder's error). Skips when no PostgreSQL
answers (``pg_db``)."""
from __future__ import annotations

import http.client
import json

import pytest

from engine.actors import Actor
from engine.cases.services import Engine
from engine.users.identity import Identity
from tests.servers import Server, request, server_env

from ..engine.bpmn_builder import two_step

pytestmark = pytest.mark.postgres

ALICE = Actor("alice", {"applicant"}, "lab-a", "Alice")


def _raw(port: int, path: str, body: bytes, content_type: str, token: str | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        headers = {"Content-Type": content_type, **({"Authorization": f"Bearer {token}"} if token else {})}
        conn.request("POST", path, body=body, headers=headers)
        r = conn.getresponse()
        return r.status, r.getheader("Content-Type", ""), json.loads(r.read() or b"null")
    finally:
        conn.close()


def _fields(body) -> set[str]:
    return {e["field"] for e in body.get("errors", [])}


def test_odd_text_gets_a_4xx_from_a_real_worker_on_postgresql_not_a_500(pg_db, tmp_path):
    engine = Engine(pg_db)
    engine.deploy(two_step())
    identity = Identity(pg_db)
    identity.create_organisation("lab-a", "Lab A")
    identity.create_user("alice", "correct-horse-battery", ["applicant"], organisation_id="lab-a",
                         display_name="Alice")
    token = identity.issue_token("alice", "tests")
    case = engine.start_case("two_step", ALICE, "lab-a")
    with Server(server_env(pg_db.url, tmp_path), workers=1) as server:
        status, _h, body = request(server.port, "POST", "/api/cases",
                                   {"process": "two_step", "business_key": "\ud800x"}, token)
        assert status == 400 and _fields(body) == {"/business_key"}, body
        status, _h, body = request(server.port, "POST", f"/api/cases/{case.id}/comments", {"body": "\udc00"}, token)
        assert status == 400 and _fields(body) == {"/body"}, body
        status, ctype, body = _raw(server.port, "/api/session",
                                   b'{"username": "alice", "password": ' + b"9" * 5000 + b"}", "application/json")
        assert status == 400 and ctype.startswith("application/problem+json") and _fields(body) == {"/password"}
        status, _h, body = request(server.port, "GET", "/api/schedule?since=0001-01-01T00:00:00%2B14:00", None,
                                   token)
        assert status == 422 and _fields(body) == {"/since"}, body
        upload = (b"--B\r\nContent-Disposition: form-data; name=\"file\"; filename*=UTF-8''a%0D%0Ab.txt\r\n"
                  b"Content-Type: text/plain\r\n\r\nhello\r\n--B--\r\n")
        status, _ct, body = _raw(server.port, f"/api/cases/{case.id}/attachments", upload,
                                 "multipart/form-data; boundary=B", token)
        assert status == 422 and _fields(body) == {"/file"}, body
        status, _h, body = request(server.port, "GET", f"/api/cases/{case.id}", None, token)
        assert status == 200, body
        assert "unhandled error" not in server.output()
