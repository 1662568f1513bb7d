"""Serving with several worker processes: gunicorn (sync workers) plus one timer scheduler process.

``accredit serve --workers N`` prepares the database once (migrate, deploy the shipped library — exactly what
the single-process server does), then runs a gunicorn arbiter with N sync workers, each building the app with
``create_app()`` (no side effects: nothing migrates or deploys per worker; no app is built before the fork, so
no database connection is shared between processes), and, unless ``--no-scheduler``, an ``accredit scheduler``
child process. Nothing here is needed to run gunicorn yourself: ``gunicorn -w N api.wsgi:app`` serves the
same app, with ``accredit db upgrade`` / ``accredit processes deploy`` run once before and ``accredit
scheduler`` beside it (docs/operator-guide.md).

Shutdown on SIGTERM (or SIGINT): gunicorn closes its listening socket, lets every worker finish the request
it is serving (up to ``graceful_timeout`` seconds), then the scheduler child is sent SIGTERM and waited for: it
finishes a firing in progress and removes its readiness heartbeat.
"""
from __future__ import annotations

import gc
import subprocess
import sys

from gunicorn.app.base import BaseApplication


class AccreditServer(BaseApplication):
    def __init__(self, options: dict):
        self.options = options
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            if value is not None and key in self.cfg.settings:  # settings a given gunicorn version knows
                self.cfg.set(key, value)

    def load(self):
        from .app import create_app

        _log_requests()
        app = create_app()  # in each worker, after the fork
        settle_heap()
        return app


def settle_heap() -> None:
    """Once the app is built, before the first request: collect what starting up left behind, then move every
    object still alive (modules, the app, its schemas and SQLAlchemy's metadata: ~10^5 objects that live as long
    as the process) out of the cyclic garbage collector's reach. Each request leaves cycles for the collector (a
    restored workflow and its tasks point at each other), and without this every older-generation collection
    walked the whole startup heap again: 0.28 ms of collector time per completion, 0.08-0.11 ms frozen
    (docs/performance.md). Objects made later (the spec cache, requests) are collected as before."""
    gc.collect()
    gc.freeze()


def _log_requests() -> None:
    """The ``accredit`` loggers (one JSON line per request, api/logging.py) to stderr, beside gunicorn's own log,
    unless the operator configured them already."""
    import logging

    log = logging.getLogger("accredit")
    if not log.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)


def scheduler_process() -> subprocess.Popen:
    """``accredit scheduler`` as a child of this process (same interpreter, same environment)."""
    return subprocess.Popen([sys.executable, "-m", "api.cli", "scheduler"])


def stop(proc: subprocess.Popen | None, timeout: float = 30) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def run(host: str, port: int, workers: int, *, scheduler: bool, graceful_timeout: int, timeout: int) -> None:
    options = {"bind": f"{host}:{port}", "workers": workers, "worker_class": "sync",
               "graceful_timeout": graceful_timeout, "timeout": timeout, "preload_app": False,
               "proc_name": "accredit", "errorlog": "-", "loglevel": "info",
               "control_socket_disable": True}  # gunicorn ≥ 24: no shared ~/.gunicorn socket between instances
    child = scheduler_process() if scheduler else None
    try:
        AccreditServer(options).run()  # returns (via SystemExit) once the arbiter has stopped its workers
    finally:
        stop(child)
