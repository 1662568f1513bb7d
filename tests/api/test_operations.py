"""What an operator's load balancer and log pipeline rely on: /healthz (alive), /readyz (database answers and
a timer scheduler reported within the last minute, else 503 saying which), and a request id on every
response, in every problem document and in one structured log line per request."""
from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta, timezone

import time_machine

from engine import health


def test_liveness_needs_nothing(api):
    r = api.client().get("/healthz")
    assert r.status_code == 200 and r.get_json()["status"] == "ok"


def test_readiness_follows_the_scheduler_heartbeat(api):
    client = api.client()
    r = client.get("/readyz")
    assert r.status_code == 503
    body = r.get_json()
    assert body["checks"]["database"]["ok"] is True and body["checks"]["scheduler"]["ok"] is False
    db = api.services.db
    t0 = datetime(2027, 1, 4, 9, 0, tzinfo=timezone.utc)
    with time_machine.travel(t0, tick=False) as clock:
        health.beat(db, key="scheduler:test-host:1")
        assert client.get("/readyz").status_code == 200
        clock.shift(health.STALE_AFTER + timedelta(seconds=1))  # the scheduler died and stopped beating
        r = client.get("/readyz")
        assert r.status_code == 503 and r.get_json()["checks"]["scheduler"]["alive"] == []
        health.beat(db, key="scheduler:test-host:1")
        assert client.get("/readyz").status_code == 200
    health.forget(db, key="scheduler:test-host:1")


def test_readiness_without_a_required_scheduler(make_api):
    api = make_api("noscheduler", REQUIRE_SCHEDULER=False)
    assert api.client().get("/readyz").status_code == 200


def test_the_embedded_scheduler_beats_and_forgets(api):
    from engine.scheduler import TimerScheduler

    sched = TimerScheduler(api.services.engine).start()
    try:
        assert api.client().get("/readyz").status_code == 200
    finally:
        sched.shutdown()
    assert api.client().get("/readyz").status_code == 503


def test_every_response_has_a_request_id_in_header_problem_and_log(api, caplog):
    client = api.client("applicant_a")
    with caplog.at_level(logging.INFO, logger="accredit.request"):
        r = client.get("/api/cases/no-such-case", headers={"X-Request-Id": "proxy-42"})
    assert r.status_code == 404
    assert r.headers["X-Request-Id"] == "proxy-42" and r.get_json()["request_id"] == "proxy-42"
    line = json.loads([rec.getMessage() for rec in caplog.records if "proxy-42" in rec.getMessage()][0])
    assert line["status"] == 404 and line["user"] == "alice" and line["path"] == "/api/cases/no-such-case"
    fresh = client.get("/api/tasks", headers={"X-Request-Id": "not a <sane> id"})
    assert fresh.headers["X-Request-Id"] != "not a <sane> id" and len(fresh.headers["X-Request-Id"]) == 32
