"""Request ids and one structured log line per request.

Every response carries ``X-Request-Id`` (the caller's, if it sent a sane one — a reverse proxy's id then runs
through — else a new one), and the ``accredit.request`` logger writes one JSON line per request: id, method,
path, status, duration, user. Problem documents carry the same id, so a user's report ("request 3f2a…") finds
the log line. Logging never fails a request.
"""
from __future__ import annotations

import json
import logging
import re
import time
import uuid

from flask import Flask, g, request

log = logging.getLogger("accredit.request")
_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def request_id() -> str | None:
    return g.get("request_id")


def install(app: Flask) -> None:
    @app.before_request
    def _start():
        given = request.headers.get("X-Request-Id", "")
        g.request_id = given if _SANE_ID.match(given) else uuid.uuid4().hex
        g.request_started = time.perf_counter()

    @app.after_request
    def _finish(response):
        rid = g.get("request_id") or uuid.uuid4().hex
        response.headers["X-Request-Id"] = rid
        try:
            actor = g.get("actor")
            log.info(json.dumps({
                "request_id": rid, "method": request.method, "path": request.path, "status": response.status_code,
                "ms": round((time.perf_counter() - g.get("request_started", time.perf_counter())) * 1000, 2),
                "user": getattr(actor, "username", None)}, separators=(",", ":")))
        except Exception:  # noqa: BLE001 - a log line must never cost a response, but its failure is logged
            log.exception("could not write the request log line")
        return response
