"""What one task completion over HTTP costs the server: CPU time and SQL statements per request.

In-process (Flask test client, bearer token, a real SQLite file, the shipped accreditation process): N cases
are started, then the laboratory's first task (the eligibility application) of each is completed through
``POST /api/tasks/<id>/complete``. Reported next to baselines measured in the same run:

* a Flask hello-world route through the same test client (the floor of any request), and
* an ORM single-row commit on the same database file (the floor of any write).

It then completes N more tasks with the process's startup heap frozen, as each server worker does once its app
is built (``api.server.settle_heap``: ``gc.collect(); gc.freeze()``), and prints for both halves the cyclic
garbage collector's time per completion and the p99 (the collector's full walks are the spikes).

The figure that matters is CPU ms per completion (``time.process_time``, so other processes on the machine
do not count) and its ratio to the hello-world floor. SQL statements are counted with a SQLAlchemy event.

    python bench/http_complete.py [cases] [--postgres postgresql://postgres@127.0.0.1:5432/postgres]

With ``--postgres ADMIN_URL`` the same run goes to a fresh PostgreSQL database made (and dropped) through that
server (the server's own CPU is not counted: compare statement counts and the ratios of runs alike).
"""
from __future__ import annotations

import gc
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("ACCREDIT_PASSWORD_HASH", "fast")

import sqlalchemy as sa  # noqa: E402
from flask import Flask  # noqa: E402

from tests.apps import make_app  # noqa: E402

sys.path.insert(0, str(ROOT / "tests"))
from scenarios.forms_data import form  # noqa: E402


def _cpu_ms(fn, n: int) -> list[float]:
    out = []
    for i in range(n):
        t = time.process_time()
        fn(i)
        out.append((time.process_time() - t) * 1000)
    return out


def _postgres_database(admin_url: str) -> tuple[str, object]:
    """A fresh database on the server of ``admin_url``: (its URL, a function that drops it)."""
    import uuid

    name = f"accredit_bench_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(admin_url.replace("postgresql://", "postgresql+psycopg://", 1),
                             isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def drop():
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    return admin_url.rsplit("/", 1)[0] + f"/{name}", drop


def _collector_clock() -> list:
    """[seconds the cyclic garbage collector has run, collections] since installed (a gc callback)."""
    clock = [0.0, 0, 0.0]

    def callback(phase, _info):
        if phase == "start":
            clock[2] = time.process_time()
        else:
            clock[0] += time.process_time() - clock[2]
            clock[1] += 1
    gc.callbacks.append(callback)
    return clock


def main(n: int = 200, postgres: str | None = None) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="accredit-bench-"))
    url, drop = (f"sqlite:///{tmp / 'bench.sqlite'}", None) if postgres is None else _postgres_database(postgres)
    app = make_app({"DATABASE_URL": url, "DEPLOY_SHIPPED": True, "SECRET_KEY": "bench",  # as `accredit serve`
                    "ATTACHMENTS_DIR": str(tmp / "files")})
    svc = app.extensions["accredit"]
    svc.identity.create_organisation("lab-a", "Lab A")
    svc.identity.create_user("alice", "bench-password-1", ["applicant"], organisation_id="lab-a", display_name="Alice")
    token = svc.identity.issue_token("alice", "bench")
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"

    task_ids = []
    for _ in range(2 * n):  # n as the process starts, then n with its startup heap frozen
        r = client.post("/api/cases", json={"process": "accreditation"})
        assert r.status_code == 201, r.get_json()
        task_ids.append(next(t["id"] for t in r.get_json()["tasks"] if t["element_id"] == "eligibility_application"))
    data = form("eligibility_application")

    statements = []
    sa.event.listen(svc.db.engine, "before_cursor_execute", lambda *a, **k: statements.append(1))

    def complete(i):
        r = client.post(f"/api/tasks/{task_ids[i]}/complete", json={"data": data})
        assert r.status_code == 200, r.get_json()

    before = len(statements)
    clock = _collector_clock()
    complete_ms = _cpu_ms(complete, n)
    plain_gc = tuple(clock[:2])
    sql_per = (len(statements) - before) / n

    hello = Flask("hello")
    hello.add_url_rule("/", "hello", lambda: "hello")
    hc = hello.test_client()
    hello_ms = _cpu_ms(lambda i: hc.get("/"), n)

    from engine.storage.models import Organisation, utcnow

    def orm_commit(i):
        with svc.db.write() as s:
            s.add(Organisation(id=f"bench-{i}", name="x", created_at=utcnow()))
    orm_ms = _cpu_ms(orm_commit, n)

    from api.server import settle_heap

    settle_heap()  # as each server worker does once its app is built (api/server.py)
    seconds, count = clock[0], clock[1]
    frozen_ms = _cpu_ms(lambda i: complete(n + i), n)
    frozen_gc = (clock[0] - seconds, clock[1] - count)
    gc.unfreeze()

    med = statistics.median
    where = "SQLite file" if postgres is None else "PostgreSQL"
    print(f"cases: {n} (shipped accreditation process, {where}, in-process test client)")
    print(f"complete task over HTTP : median {med(complete_ms):6.2f} ms CPU, p90 "
          f"{sorted(complete_ms)[int(n * .9)]:6.2f} ms, {sql_per:.1f} SQL statements/request")
    print(f"baseline hello-world    : median {med(hello_ms):6.3f} ms CPU  -> completion = "
          f"{med(complete_ms) / med(hello_ms):.0f}x hello")
    print(f"baseline ORM row commit : median {med(orm_ms):6.3f} ms CPU  -> completion = "
          f"{med(complete_ms) / med(orm_ms):.1f}x commit")
    for name, times, (seconds, count) in (("as started", complete_ms, plain_gc), ("frozen", frozen_ms, frozen_gc)):
        print(f"startup heap {name:10}: median {med(times):6.2f} ms CPU, p99 {sorted(times)[int(n * .99)]:6.2f} ms, "
              f"garbage collector {seconds * 1000 / n:.3f} ms per completion ({count} collections)")
    svc.db.dispose()
    if drop is not None:
        drop()


if __name__ == "__main__":
    args = sys.argv[1:]
    pg = args[args.index("--postgres") + 1] if "--postgres" in args else None
    plain = [a for a in args if a != "--postgres" and a != pg]
    main(int(plain[0]) if plain else 200, pg)
