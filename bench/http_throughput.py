"""Task completions per second over real HTTP with 1 and 2 gunicorn sync workers, on SQLite and PostgreSQL.

The server is `accredit serve --workers N` (real processes on 127.0.0.1, no scheduler), the process is the
shipped accreditation process, and a threaded client completes the laboratory's first task (the eligibility
application) of pre-started cases through ``POST /api/tasks/<id>/complete`` with a bearer token. Each figure is
the median of 3 runs (completions/s, p50 and p99 latency), printed next to baselines measured in the same run:

* a Flask hello-world served by gunicorn with the same number of workers and the same client (the floor of
  any request through this stack), and
* ORM single-row commits per second on the same database, in-process and single-threaded (the floor of any
  write).

It also prints the 2-vs-1 worker ratio, and the CPU time the server's workers spent per completion (from
/proc: the client and the database do not count) next to the hello-world workers' per request. /proc counts
in clock ticks (10 ms), so these figures need runs of hundreds of requests (the hello-world run of a small
``completions_per_run`` is too short for its per-request CPU to mean anything). PostgreSQL is
skipped with a message when none answers at ``ACCREDIT_TEST_PG`` (default
postgresql+psycopg://postgres@127.0.0.1:5432/postgres); a fresh database is created and dropped. The figures depend on what else runs on the machine: say so when you quote them.

    python bench/http_throughput.py [completions_per_run] [client_threads] [workers, e.g. 1,2,4] [--wrk SECONDS]

The ratios printed are against one worker (the first count given; default 1,2). With ``--wrk SECONDS`` the
load comes from wrk (``bench/wrk_client.py``: a C client that leaves the two cores to the server and the
database) for SECONDS per run, with ``client_threads`` connections; ``completions_per_run`` cases are
prepared per run and must outlast it (a run that runs out says so).
"""
from __future__ import annotations

import os
import queue
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("ACCREDIT_PASSWORD_HASH", "fast")

import sqlalchemy as sa  # noqa: E402

from engine.actors import Actor  # noqa: E402
from engine.storage.db import Database  # noqa: E402
from tests.scenarios.forms_data import form  # noqa: E402
from tests.servers import Server, children, free_port, request, server_env, wait_for  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
import wrk_client  # noqa: E402

PG_ADMIN_URL = os.environ.get("ACCREDIT_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
RUNS = 3
ALICE = Actor("alice", {"applicant"}, "lab-a", "Alice")


def _prepare(url: str, cases: int) -> tuple[str, list[str]]:
    from engine.config import forms_dir, processes_dir
    from engine.cases.deployment import Deployment
    from engine.users.identity import Identity
    from engine.cases.services import Engine
    from engine.cases.shipped import deploy_shipped

    db = Database(url)
    db.migrate()
    engine = Engine(db)
    deploy_shipped(Deployment(engine), processes_dir(), forms_dir())
    identity = Identity(db)
    identity.create_organisation("lab-a", "Lab A")
    identity.create_user("alice", "bench-password-1", ["applicant"], organisation_id="lab-a", display_name="Alice")
    token = identity.issue_token("alice", "bench")
    task_ids = []
    for _ in range(cases):
        case = engine.start_case("accreditation", ALICE, "lab-a")
        task_ids.append(next(t.id for t in case.tasks if t.element_id == "eligibility_application"))
    db.dispose()
    return token, task_ids


def _drive(port: int, requests: list, threads: int) -> tuple[float, list[float]]:
    """Send ``requests`` ((method, path, body, token, expected status)) from ``threads`` client threads;
    (requests per second over the whole burst, per-request latencies in ms)."""
    work: queue.Queue = queue.Queue()
    for r in requests:
        work.put(r)
    latencies: list[float] = []
    errors: list = []

    def client():
        while True:
            try:
                method, path, body, token, expected = work.get_nowait()
            except queue.Empty:
                return
            t = time.perf_counter()
            status, _, answer = request(port, method, path, body, token)
            latencies.append((time.perf_counter() - t) * 1000)
            if status != expected:
                errors.append((status, answer))

    started = time.perf_counter()
    pool = [threading.Thread(target=client) for _ in range(threads)]
    for p in pool:
        p.start()
    for p in pool:
        p.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise SystemExit(f"unexpected answers: {errors[:3]}")
    return len(requests) / elapsed, latencies, len(requests)


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * q))]


def _hello_server(directory: Path, workers: int):
    (directory / "hello_app.py").write_text(textwrap.dedent("""
        from flask import Flask
        app = Flask("hello")
        app.add_url_rule("/", "hello", lambda: "hello")
    """))
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", str(workers), "-k", "sync", "-b",
                             f"127.0.0.1:{port}", "--chdir", str(directory), "--no-control-socket", "hello_app:app"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def up():
        try:
            return request(port, "GET", "/", timeout=2)[0] == 200
        except OSError:
            return False

    wait_for(up, 60, "the hello-world server")
    return proc, port


def _orm_commits_per_second(url: str, n: int = 300) -> float:
    from engine.storage.models import Organisation, utcnow

    db = Database(url)
    prefix = uuid.uuid4().hex[:8]
    started = time.perf_counter()
    for i in range(n):
        with db.write() as s:
            s.add(Organisation(id=f"bench-{prefix}-{i}", name="x", created_at=utcnow()))
    rate = n / (time.perf_counter() - started)
    db.dispose()
    return rate


def _drive_wrk(port: int, paths: list[str], method: str, body, token, threads: int, seconds: float, cycle=False):
    """(requests per second answered 200, [p50, p99] in ms) from wrk; a run that ran out of paths says so."""
    r = wrk_client.drive(port, paths, method, body, token, connections=threads, duration=seconds, cycle=cycle)
    if r.failed:
        print(f"  (wrk: {r.failed} answers other than 200 — out of prepared cases? raise completions_per_run)")
    return r.rate, [r.p50_ms, r.p99_ms], r.ok + r.failed


def _cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time the processes ``pids`` have used so far (from /proc)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / os.sysconf("SC_CLK_TCK")


def _measured(pids: list[int], runs) -> tuple[list, float]:
    """Run ``runs`` (a function returning the runs' results) and give the workers' CPU ms per request."""
    before = _cpu_seconds(pids)
    results = runs()
    return results, (_cpu_seconds(pids) - before) * 1000 / max(1, sum(r[2] for r in results))


def bench_backend(name: str, url: str, directory: Path, per_run: int, threads: int,
                  counts: tuple[int, ...] = (1, 2), wrk_seconds: float | None = None) -> None:
    warmup = 10 if wrk_seconds is None else 40
    token, task_ids = _prepare(url, len(counts) * (RUNS * per_run + warmup))
    data = {"data": form("eligibility_application")}
    results = {}
    for workers in counts:
        hello_proc, hello_port = _hello_server(directory, workers)
        try:
            if wrk_seconds is None:
                hello, hello_cpu = _measured(children(hello_proc.pid), lambda: [
                    _drive(hello_port, [("GET", "/", None, None, 200)] * per_run, threads) for _ in range(RUNS)])
            else:
                hello, hello_cpu = _measured(children(hello_proc.pid), lambda: [
                    _drive_wrk(hello_port, ["/"], "GET", None, None, threads, wrk_seconds, cycle=True)
                    for _ in range(RUNS)])
            hello = [h[0] for h in hello]
        finally:
            hello_proc.terminate()
            hello_proc.wait()
        with Server(server_env(url, directory), workers=workers, cwd=directory) as server:
            def burst(count):
                return [("POST", f"/api/tasks/{task_ids.pop()}/complete", data, token, 200) for _ in range(count)]

            def run(count):
                if wrk_seconds is None:
                    return _drive(server.port, burst(count), threads)
                paths = [path for _, path, *_ in burst(count)]
                return _drive_wrk(server.port, paths, "POST", data, token, threads, wrk_seconds)

            _drive(server.port, burst(warmup), threads)  # warm-up (every worker), from the threaded client
            runs, cpu = _measured(server.worker_pids(), lambda: [run(per_run) for _ in range(RUNS)])
        orm = [_orm_commits_per_second(url) for _ in range(RUNS)]
        rates = [r[0] for r in runs]
        med_run = sorted(runs, key=lambda r: r[0])[RUNS // 2]
        results[workers] = statistics.median(rates)
        p50, p99 = (med_run[1] if wrk_seconds is not None else (_pct(med_run[1], .5), _pct(med_run[1], .99)))
        print(f"{name:10} {workers} worker(s): {statistics.median(rates):7.1f} completions/s "
              f"(runs {', '.join(f'{r:.1f}' for r in rates)}), p50 {p50:6.1f} ms, p99 {p99:6.1f} ms; "
              f"workers' CPU {cpu:.2f} ms per completion (hello-world {hello_cpu:.2f} ms per request, "
              f"{cpu / hello_cpu if hello_cpu else float('nan'):.0f}x)")
        print(f"{'':10} baseline  : hello-world {statistics.median(hello):7.0f} req/s "
              f"(completion = {statistics.median(hello) / statistics.median(rates):.0f}x slower); "
              f"ORM single-row commit {statistics.median(orm):6.0f}/s "
              f"(completion = {statistics.median(orm) / statistics.median(rates):.0f}x slower)")
    first = counts[0]
    for workers in counts[1:]:
        print(f"{name:10} {workers} workers vs {first}: {results[workers] / results[first]:.2f}x")


def _pg_database():
    try:
        admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
        with admin.connect() as conn:
            conn.execute(sa.text("select 1"))
    except Exception as exc:  # noqa: BLE001 - any failure means: skip PostgreSQL, say why
        print(f"postgresql : skipped, no server at {PG_ADMIN_URL} ({exc.__class__.__name__})")
        return None, None
    name = f"accredit_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    return admin, name


def main(per_run: int = 100, threads: int = 8, counts: tuple[int, ...] = (1, 2), wrk_seconds: float | None = None):
    if wrk_seconds is not None and not wrk_client.available():
        raise SystemExit("--wrk needs wrk on the PATH (Debian: apt-get install wrk)")
    client = (f"{threads} client threads" if wrk_seconds is None
              else f"wrk, {threads} connections, {wrk_seconds:g} s per run")
    print(f"{per_run} completions per run, {client}, median of {RUNS} runs; "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start")
    with tempfile.TemporaryDirectory(prefix="accredit-throughput-") as tmp:
        directory = Path(tmp)
        bench_backend("sqlite", f"sqlite:///{directory / 'bench.sqlite'}", directory, per_run, threads, counts,
                      wrk_seconds)
        admin, name = _pg_database()
        if admin is not None:
            try:
                bench_backend("postgresql", PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}", directory, per_run, threads,
                              counts, wrk_seconds)
            finally:
                with admin.connect() as conn:
                    conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()
    print(f"load average {os.getloadavg()[0]:.1f} at the end (other processes on the machine share its CPUs)")


if __name__ == "__main__":
    args = sys.argv[1:]
    wrk_seconds = None
    if "--wrk" in args:
        at = args.index("--wrk")
        wrk_seconds = float(args[at + 1])
        del args[at:at + 2]
    main(*(int(a) for a in args[:2]), *([tuple(int(w) for w in args[2].split(","))] if len(args) > 2 else [(1, 2)]),
         wrk_seconds=wrk_seconds)
