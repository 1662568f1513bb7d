"""Real server processes for tests: `accredit serve --workers N` (gunicorn) on 127.0.0.1, its worker pids,
which worker holds which TCP connection (from /proc, to kill the one inside a transaction), and a small
HTTP client. Every wait is on a condition with a deadline, never a fixed sleep."""
from __future__ import annotations

import http.client
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(condition, timeout: float = 60, what: str = "condition", interval: float = 0.05):
    """Poll ``condition()`` until it returns something truthy; fail after ``timeout`` seconds. For states of
    other processes that announce nothing (worker pids, a connection in ``pg_stat_activity``): this waits for a
    condition, it never stands in for time passing (tests move time with time-machine)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)


def wait_for_output(proc: subprocess.Popen, text: bytes, timeout: float = 120) -> bytes:
    """Read ``proc``'s output (a pipe) until it contains ``text``; what was read comes back. Wakes on what the
    process writes, never on a clock: fails when the process exits first or nothing comes in time."""
    seen = b""
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        while text not in seen:
            if not sel.select(max(0.0, deadline - time.monotonic())):
                raise AssertionError(f"no {text!r} from the process in {timeout:.0f} s: {seen.decode()[-2000:]}")
            chunk = os.read(proc.stdout.fileno(), 65536)  # unbuffered: select() sees all that is unread
            if not chunk:
                raise AssertionError(f"the process exited ({proc.wait()}): {seen.decode()[-2000:]}")
            seen += chunk
    return seen


def server_env(database_url: str, directory: Path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACCREDIT_") and k != "DATABASE_URL"}
    env.update({"PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1", "DATABASE_URL": database_url,
                "ACCREDIT_SECRET_KEY": "test-secret", "ACCREDIT_DEPLOY_SHIPPED": "0",
                "ACCREDIT_PASSWORD_HASH": "fast", "ACCREDIT_ATTACHMENTS_DIR": str(directory / "files")})
    env.update(extra)
    return env


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except FileNotFoundError:
        return ""


class Server:
    """``accredit serve --workers N`` in its own process; ``stop()`` sends SIGTERM and waits."""

    def __init__(self, env: dict, workers: int = 2, scheduler: bool = False, cwd: Path | None = None):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = open((cwd or Path(env["ACCREDIT_ATTACHMENTS_DIR"]).parent) / f"server-{self.port}.log", "w+")
        args = [sys.executable, "-m", "api.cli", "serve", "--workers", str(workers), "--port", str(self.port),
                "--scheduler" if scheduler else "--no-scheduler"]
        self.proc = subprocess.Popen(args, env=env, cwd=cwd or REPO, stdout=self.log, stderr=subprocess.STDOUT)
        self.workers = workers
        try:
            wait_for(self._up, 120, "the server to answer")
            wait_for(lambda: len(self.worker_pids()) == workers, 60, "all workers to boot")
        except BaseException:
            self.stop()
            raise

    def _up(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"the server exited: {self.output()[-3000:]}")
        try:
            return request(self.port, "GET", "/healthz", timeout=2)[0] == 200
        except OSError:
            return False

    def worker_pids(self) -> list[int]:
        return [p for p in children(self.proc.pid) if not cmdline(p).rstrip().endswith("api.cli scheduler")]

    def scheduler_pids(self) -> list[int]:
        return [p for p in children(self.proc.pid) if cmdline(p).rstrip().endswith("api.cli scheduler")]

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def stop(self, timeout: float = 60) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def request(port: int, method: str, path: str, body=None, token: str | None = None, timeout: float = 60):
    """(status, headers, parsed JSON or raw bytes)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        conn.request(method, path, body=data, headers=headers)
        r = conn.getresponse()
        raw = r.read()
        ctype = r.getheader("Content-Type", "")
        return r.status, dict(r.getheaders()), json.loads(raw) if "json" in ctype and raw else raw
    finally:
        conn.close()


def socket_inodes(pid: int) -> set[str]:
    out = set()
    fd_dir = Path(f"/proc/{pid}/fd")
    try:
        for fd in fd_dir.iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                out.add(target[8:-1])
    except FileNotFoundError:
        pass
    return out


def tcp_connections() -> list[tuple[int, int, str]]:
    """(local port, remote port, inode) of every TCP socket of this machine's network namespace."""
    rows = []
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(name).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            parts = line.split()
            local, remote, inode = parts[1], parts[2], parts[9]
            rows.append((int(local.rsplit(":", 1)[1], 16), int(remote.rsplit(":", 1)[1], 16), inode))
    return rows


def owner_of_local_port(pids, port: int) -> int | None:
    """Which of ``pids`` owns the TCP socket bound locally to ``port`` (a database connection's client side)."""
    inodes = {inode for local, _remote, inode in tcp_connections() if local == port and inode != "0"}
    for pid in pids:
        if socket_inodes(pid) & inodes:
            return pid
    return None


def owner_of_peer_port(pids, peer_port: int, server_port: int) -> int | None:
    """Which of ``pids`` has accepted the connection that came from our client's ``peer_port``."""
    inodes = {inode for local, remote, inode in tcp_connections()
              if local == server_port and remote == peer_port and inode != "0"}
    for pid in pids:
        if socket_inodes(pid) & inodes:
            return pid
    return None
