"""The supervisor: a small pool of persistent sandbox worker processes (:mod:`.worker`).

A request checks out an idle worker (starting one if fewer than ``size`` exist, else waiting), sends one
frame, and waits for the answer with a wall-clock deadline of ``time_limit + grace``. Waiting is a
``select`` on a pipe, so the GIL is free: other threads (other requests, the scheduler) keep running while
a hostile script burns its worker's CPU. On the deadline, or if the worker dies (``RLIMIT_CPU``,
``RLIMIT_AS``), the worker is killed and forgotten; the next request starts a fresh one.

One pool per OS process (forked servers get their own on first use).
"""
from __future__ import annotations

import atexit
import os
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from . import plain
from .errors import ScriptMemoryLimit, ScriptTimeout
from .worker import read_frame, write_frame

#: Address space a worker may use (bytes): the interpreter (~60 MB) plus room for diagram data.
DEFAULT_MEMORY_LIMIT = 512 * 2**20
#: Workers at most (each a few tens of MB resident).
DEFAULT_POOL_SIZE = 4
_ROOT = str(Path(__file__).resolve().parents[2])
_BOOT = ("import sys; sys.path.insert(0, sys.argv.pop(1)); "
         "from engine.sandbox.worker import main; main()")


class WorkerDied(Exception):
    """The worker process ended or stopped answering (it has been killed)."""

    def __init__(self, message: str, exit_code: int | None = None):
        super().__init__(message)
        self.exit_code = exit_code


class Worker:
    """One worker process and its two pipes."""

    def __init__(self, memory_limit: int):
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _BOOT, _ROOT, str(memory_limit)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, close_fds=True, cwd="/",
            env={k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "TZ", "HOME")})
        self._in, self._out = self.proc.stdin.fileno(), self.proc.stdout.fileno()
        if self._read(60.0) is None:
            self.kill()
            raise WorkerDied("the sandbox worker did not start")

    def _readable(self, timeout: float) -> bool:
        """Wait (GIL released) until the worker's pipe has data or closed. ``poll``, not ``select``: a busy
        server may hold file descriptors past select's limit of 1024."""
        poller = select.poll()
        poller.register(self._out, select.POLLIN | select.POLLHUP | select.POLLERR)
        return bool(poller.poll(max(timeout, 0) * 1000))

    def _read(self, timeout: float) -> bytes | None:
        if not self._readable(timeout):
            return None
        return read_frame(self._out)

    def call(self, payload: bytes, timeout: float) -> bytes:
        """Send one frame, wait for the answer; kill the worker past ``timeout`` seconds."""
        started = time.perf_counter()
        try:
            write_frame(self._in, payload)
        except OSError as exc:
            self.kill()
            raise WorkerDied("the sandbox worker is gone") from exc
        if not self._readable(timeout - (time.perf_counter() - started)):
            self.kill()
            raise ScriptTimeout("diagram code did not finish within its time limit: its worker was killed")
        answer = read_frame(self._out)
        if answer is None:
            code = self.kill()
            raise WorkerDied(f"the sandbox worker died (exit {code})", code)
        return answer

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> int | None:
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            code = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            code = None
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass
        return code


class WorkerPool:
    def __init__(self, size: int = DEFAULT_POOL_SIZE, memory_limit: int = DEFAULT_MEMORY_LIMIT):
        self.size, self.memory_limit = size, memory_limit
        self._idle: list[Worker] = []
        self._count = 0
        self._cond = threading.Condition()
        self.spawned = 0  # workers started so far (tests and the benchmark read it)
        self.requests = 0  # requests served so far (the benchmark reads it)

    def _checkout(self) -> Worker:
        with self._cond:
            while not self._idle and self._count >= self.size:
                self._cond.wait()
            if self._idle:
                return self._idle.pop()
            self._count += 1
        try:
            worker = Worker(self.memory_limit)
        except BaseException:
            with self._cond:
                self._count -= 1
                self._cond.notify()
            raise
        self.spawned += 1
        return worker

    def _checkin(self, worker: Worker) -> None:
        with self._cond:
            if worker.alive:
                self._idle.append(worker)
            else:
                self._count -= 1
            self._cond.notify()

    def request(self, request: dict, time_limit: float | None) -> dict:
        """Send one request; the decoded answer. ScriptTimeout / ScriptMemoryLimit if the worker had to
        be killed or died under its limits."""
        payload = plain.dumps(request, "the task data").encode("utf-8")
        self.requests += 1
        timeout = (time_limit or 30.0) + max(1.0, time_limit or 0)
        worker = self._checkout()
        try:
            answer = worker.call(payload, timeout)
        except WorkerDied as exc:
            if exc.exit_code == -signal.SIGXCPU:
                raise ScriptTimeout("diagram code used up its CPU time: its worker was stopped", time_limit) from None
            raise ScriptMemoryLimit(f"diagram code was stopped by the sandbox's resource limits ({exc})") from None
        finally:
            self._checkin(worker)
        return plain.loads(answer)

    def cpu_seconds(self) -> float:
        """CPU time used so far by the idle workers (user + system; Linux ``/proc``): for benchmarks."""
        with self._cond:
            pids = [w.proc.pid for w in self._idle]
        total = 0.0
        for pid in pids:
            try:
                with open(f"/proc/{pid}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            except (OSError, IndexError, ValueError):
                pass
        return total

    def close(self) -> None:
        with self._cond:
            idle, self._idle = self._idle, []
            self._count -= len(idle)
        for worker in idle:
            worker.kill()


_pool: WorkerPool | None = None
_pool_pid: int | None = None
_pool_lock = threading.Lock()


def default_pool() -> WorkerPool:
    """The pool of this OS process (a forked child never shares its parent's pipes)."""
    global _pool, _pool_pid
    with _pool_lock:
        if _pool is None or _pool_pid != os.getpid():
            _pool, _pool_pid = WorkerPool(), os.getpid()
        return _pool


@atexit.register
def _close_default_pool() -> None:
    if _pool is not None and _pool_pid == os.getpid():
        _pool.close()
