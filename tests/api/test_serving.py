"""Serving in production shape: `accredit serve --workers N` (real gunicorn worker processes and the scheduler
as a child process) and its graceful shutdown; the client address behind a configured number of proxies."""
from __future__ import annotations

import json
import signal
import socket

import pytest
import sqlalchemy as sa

from engine.actors import Actor
from engine.storage.db import Database
from engine.users.identity import Identity
from engine.storage.models import Event, Setting
from engine.cases.services import Engine
from tests.servers import Server, owner_of_peer_port, request, server_env, wait_for

from ..engine.bpmn_builder import two_step
from .conftest import assert_problem

ALICE = Actor("alice", {"applicant"}, "lab-a", "Alice")


def _prepared(url: str) -> tuple[Database, Engine, str]:
    db = Database(url)
    db.migrate()
    engine = Engine(db)
    engine.deploy(two_step())
    identity = Identity(db)
    identity.create_organisation("lab-a", "Lab A")
    identity.create_user("alice", "correct-horse-battery", ["applicant"], organisation_id="lab-a")
    return db, engine, identity.issue_token("alice", "tests")


def test_sigterm_lets_the_request_in_flight_finish_and_stops_the_scheduler(tmp_path):
    db, engine, token = _prepared(f"sqlite:///{tmp_path / 'serve.sqlite'}")
    case = engine.start_case("two_step", ALICE, "lab-a")
    server = Server(server_env(db.url, tmp_path), workers=2, scheduler=True, cwd=tmp_path)
    try:
        wait_for(lambda: request(server.port, "GET", "/readyz")[0] == 200, 60, "the scheduler's heartbeat")
        [scheduler] = server.scheduler_pids()
        body = json.dumps({"data": {"answer": "yes"}}).encode() + b" " * 2000
        head = (f"POST /api/tasks/{case.tasks[0].id}/complete HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
                f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
        client = socket.create_connection(("127.0.0.1", server.port), timeout=60)
        client.sendall(head + body[:10])  # a slow client: the worker is now reading the body
        busy = wait_for(lambda: owner_of_peer_port(server.worker_pids(), client.getsockname()[1], server.port),
                        30, "a worker to accept the request")
        server.proc.send_signal(signal.SIGTERM)
        # shutting down: the idle worker has exited, the busy one is still serving our request
        wait_for(lambda: server.worker_pids() == [busy], 30, "the idle worker to exit")
        client.sendall(body[10:])
        response = b""
        while chunk := client.recv(65536):
            response += chunk
        client.close()
        assert response.startswith(b"HTTP/1.1 200"), response[:500]
        assert server.proc.wait(timeout=60) == 0, server.output()[-3000:]
    finally:
        server.stop()
    assert [e["action"] for e in engine.history(case.id)].count("task.completed") == 1
    assert [t.element_id for t in engine.get_case(case.id).tasks] == ["review"]
    with db.read() as s:  # the scheduler stopped cleanly: it took its readiness heartbeat with it
        assert s.scalars(sa.select(Setting.key).where(Setting.key.like("scheduler:%"))).all() == []
    assert "accredit scheduler: stopped" in server.output()
    assert "SQLite writes one transaction at a time" in server.output()  # two workers on SQLite: the operator is told
    logged = [json.loads(line) for line in server.output().splitlines() if line.startswith('{"request_id"')]
    assert {"path": f"/api/tasks/{case.tasks[0].id}/complete", "status": 200, "user": "alice"}.items() <= \
        next(r for r in logged if r["method"] == "POST").items()  # the workers' request log reaches the output
    with pytest.raises(ProcessLookupError):
        import os

        os.kill(scheduler, 0)
    db.dispose()


def _sources(api) -> list[str]:
    with api.services.db.read() as s:
        return [e.data["source"] for e in s.scalars(sa.select(Event).where(Event.action == "login.failed")
                                                     .order_by(Event.id))]


def _bad_sign_in(api, forwarded_for: str):
    r = api.client().post("/api/session", json={"username": "alice", "password": "wrong-password-x"},
                          headers={"X-Forwarded-For": forwarded_for, "Sec-Fetch-Site": "same-origin"})
    assert_problem(r, 401)


def test_forwarded_headers_are_ignored_unless_the_proxies_are_configured(make_api):
    direct = make_api("direct")
    _bad_sign_in(direct, "203.0.113.7")  # anyone can send the header: it must not change who we think it is
    assert _sources(direct) == ["127.0.0.1"]

    proxied = make_api("proxied", TRUSTED_PROXIES="1")
    _bad_sign_in(proxied, "203.0.113.7")
    _bad_sign_in(proxied, "198.51.100.66, 203.0.113.8")  # a forged first entry; our proxy appended the last
    assert _sources(proxied) == ["203.0.113.7", "203.0.113.8"]


@pytest.mark.parametrize("bad", ["two", "-1"])
def test_a_bad_number_of_trusted_proxies_refuses_to_start(tmp_path, bad):
    from api.app import UnsafeConfiguration
    from tests.apps import make_app

    from .conftest import app_config

    with pytest.raises(UnsafeConfiguration, match="ACCREDIT_TRUSTED_PROXIES"):
        make_app(app_config(tmp_path, TRUSTED_PROXIES=bad))


@pytest.mark.parametrize("entry", [
    "from api.server import AccreditServer; app = AccreditServer({}).load()",  # accredit serve --workers N
    "from api.wsgi import app",  # gunicorn api.wsgi:app
])
def test_a_worker_freezes_its_startup_heap_before_its_first_request(tmp_path, entry):
    # every request leaves cycles (a restored workflow and its tasks) for the garbage collector; its full walks
    # must not revisit the ~10^5 objects of the app itself (0.3-0.4 ms a completion, the p99's spikes)
    import subprocess
    import sys

    code = f"{entry}; import gc; print(gc.get_freeze_count())"
    out = subprocess.run([sys.executable, "-c", code], env=server_env(f"sqlite:///{tmp_path / 'w.sqlite'}", tmp_path),
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert int(out.stdout.split()[-1]) > 50_000, out.stdout
