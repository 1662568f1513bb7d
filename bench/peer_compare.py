"""User-task completions per second over real HTTP: accredit against a peer, spiff-arena's backend (same engine
family: SpiffWorkflow), side by side in one run, on the same toy process and from the same client.

The toy process is start → user task A → user task B → end, no forms (accredit's diagram puts the four
elements in an ``applicant`` lane, since a lane names the role that acts; the peer's has no lane, so its
tasks go to the process initiator). Before a measurement, the cases are started over HTTP outside the timed
window; then client threads (the same threaded client as bench/http_throughput.py, one new HTTP connection
per request, bearer token) each take a case, complete A and then B, B's id read from A's answer:

* accredit: ``POST /api/tasks/<id>/complete`` (``{"data": {}}``), served by ``accredit serve --workers 2``
  (gunicorn sync workers, SQLite) started by this script on 127.0.0.1;
* the peer: ``PUT /v1.0/tasks/<instance>/<guid>`` (``{}``) against an already-running server — this script
  never builds or installs it. Cases: ``POST /v1.0/process-instances/<model>``, ``.../<id>/run`` and
  ``GET /v1.0/tasks?process_instance_id=<id>``. The process model (group ``bench``, model ``bench/peer-toy``)
  is created through its API when missing.

Runs are interleaved (accredit, peer, peer, accredit, ...), per thread count; each figure is the median of
``--runs`` runs (completions/s), with p50 and p99 latency of the median run, and the accredit/peer ratio.

    python bench/peer_compare.py --peer-url http://127.0.0.1:7000 [--threads 4,8] [--cases 40] [--runs 3]
                                 [--reference] [--wrk SECONDS --peer-cases N]

With ``--wrk SECONDS`` the timed load comes from wrk instead (bench/wrk_client.py: a C client, so the client's
own CPU does not eat into what the two servers get of the machine): each run completes task A of cases started
beforehand (``--cases`` for accredit, ``--peer-cases`` for the peer, untimed), for SECONDS, ``--threads``
connections; a run that runs out of started cases says so.

Peer credentials (arguments or environment): ``PEER_TOKEN``, a bearer token; or ``PEER_USER`` /
``PEER_PASSWORD`` with ``PEER_CLIENT_ID`` / ``PEER_CLIENT_SECRET``, exchanged for a token by the password grant
at ``<peer-url>/openid/token`` (the peer's built-in local-development OpenID provider). ``--reference`` adds
bench/http_throughput.py's figures (shipped accreditation process, 2 workers, SQLite) at each thread count.
The machine may be shared: only ratios within one run compare.
"""
from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import queue
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("ACCREDIT_PASSWORD_HASH", "fast")

from tests.engine.bpmn_builder import flow, process, user_task  # noqa: E402
from tests.servers import Server, server_env  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
import wrk_client  # noqa: E402
from http_throughput import _pct as pct  # noqa: E402  (one percentile for every bench)

TOY_ID = "peer_toy"
ELEMENTS = ('<bpmn:startEvent id="start"/>' + user_task("task_a", "A") + user_task("task_b", "B")
            + '<bpmn:endEvent id="end"/>' + flow("f1", "start", "task_a") + flow("f2", "task_a", "task_b")
            + flow("f3", "task_b", "end"))
ACCREDIT_TOY = process(TOY_ID, {"applicant": ["start", "task_a", "task_b", "end"]}, ELEMENTS)
PEER_TOY = process(TOY_ID, {}, ELEMENTS)
PEER_GROUP, PEER_MODEL = "bench", "bench/peer-toy"


def call(base: str, method: str, path: str, body=None, token: str | None = None, files=None, form=None,
         auth: tuple[str, str] | None = None, timeout: float = 120):
    """(status, parsed JSON or raw bytes); one connection per request, as tests/servers.request."""
    url = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=timeout)
    headers, data = {}, None
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if auth:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    if body is not None:
        data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
    elif form is not None:
        data = urllib.parse.urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif files is not None:  # one file: (field, filename, bytes)
        boundary = "benchboundary7d3f"
        field, filename, content = files
        data = (f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
                f"Content-Type: text/xml\r\n\r\n").encode() + content + f"\r\n--{boundary}--\r\n".encode()
        headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
    try:
        conn.request(method, url.path.rstrip("/") + path, body=data, headers=headers)
        r = conn.getresponse()
        raw = r.read()
        return r.status, json.loads(raw) if "json" in (r.getheader("Content-Type") or "") and raw else raw
    finally:
        conn.close()


def expect(answer, status: int, what: str):
    if answer[0] != status:
        raise SystemExit(f"{what}: HTTP {answer[0]} (expected {status}): {str(answer[1])[:600]}")
    return answer[1]


def pool(items: list, work, threads: int) -> list:
    """Run ``work(item)`` for every item from ``threads`` threads; the results, in no particular order."""
    todo: queue.Queue = queue.Queue()
    for item in items:
        todo.put(item)
    out: list = []
    errors: list = []

    def client():
        while True:
            try:
                item = todo.get_nowait()
            except queue.Empty:
                return
            try:
                out.append(work(item))
            except BaseException as exc:  # noqa: BLE001 - reported after the join
                errors.append(exc)

    workers = [threading.Thread(target=client) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    if errors:
        raise SystemExit(f"{len(errors)} failures, the first: {errors[0]}")
    return out


class Accredit:
    name = "accredit"

    def __init__(self, directory: Path):
        from engine.cases.deployment import Deployment
        from engine.cases.services import Engine
        from engine.storage.db import Database
        from engine.users.identity import Identity

        url = f"sqlite:///{directory / 'bench.sqlite'}"
        db = Database(url)
        db.migrate()
        Deployment(Engine(db)).deploy_as({f"{TOY_ID}.bpmn": ACCREDIT_TOY}, "bench", "peer comparison toy")
        identity = Identity(db)
        identity.create_organisation("lab-a", "Lab A")
        identity.create_user("alice", "bench-password-1", ["applicant"], organisation_id="lab-a")
        self.token = identity.issue_token("alice", "bench")
        db.dispose()
        self.server = Server(server_env(url, directory), workers=2, cwd=directory)
        self.base = self.server.base

    def start(self, _):
        case = expect(call(self.base, "POST", "/api/cases", {"process": TOY_ID}, self.token), 201, "start a case")
        return next(t["id"] for t in case["tasks"] if t["element_id"] == "task_a")

    def complete(self, task_id) -> str | None:
        case = expect(call(self.base, "POST", f"/api/tasks/{task_id}/complete", {"data": {}}, self.token), 200,
                      "complete a task")
        return next((t["id"] for t in case["tasks"] if t["element_id"] == "task_b"), None)

    def load(self, task_id):
        """A completion of task A for wrk: (method, path, body)."""
        return "POST", f"/api/tasks/{task_id}/complete", {"data": {}}

    def close(self):
        self.server.stop()


class Peer:
    name = "spiff-arena"

    def __init__(self, args):
        self.base = args.peer_url.rstrip("/")
        self.token = args.peer_token or expect(call(
            self.base, "POST", "/openid/token", auth=(args.peer_client_id, args.peer_client_secret),
            form={"grant_type": "password", "username": args.peer_user, "password": args.peer_password,
                  "client_id": args.peer_client_id,
                  "code": f"{args.peer_user}:this_is_not_secure_do_not_use_in_production"}),
            200, "peer token")["access_token"]
        expect(call(self.base, "POST", "/v1.0/login_with_access_token?authentication_identifier=default",
                    token=self.token), 200, "peer sign-in")
        model = PEER_MODEL.replace("/", ":")
        status, _ = call(self.base, "GET", f"/v1.0/process-models/{model}", token=self.token)
        if status != 200:
            self.deploy()
        self.model = model

    def deploy(self):
        t, model = self.token, PEER_MODEL.replace("/", ":")
        meta = {"id": PEER_MODEL, "display_name": "peer toy", "description": "accredit bench/peer_compare.py",
                "fault_or_suspend_on_exception": "fault", "exception_notification_addresses": []}
        status, answer = call(self.base, "POST", "/v1.0/process-groups", {
            "id": PEER_GROUP, "display_name": PEER_GROUP, "description": "", "display_order": 0, "admin": False}, t)
        if status != 201 and "already_exists" not in str(answer):
            raise SystemExit(f"peer process group: HTTP {status}: {str(answer)[:400]}")
        expect(call(self.base, "POST", f"/v1.0/process-models/{PEER_GROUP}", meta, t), 201, "peer process model")
        expect(call(self.base, "POST", f"/v1.0/process-models/{model}/files", token=t,
                    files=("file", f"{TOY_ID}.bpmn", PEER_TOY.encode())), 201, "peer BPMN upload")
        expect(call(self.base, "PUT", f"/v1.0/process-models/{model}",
                    dict(meta, primary_file_name=f"{TOY_ID}.bpmn", primary_process_id=TOY_ID), t), 200,
               "peer primary file")

    def start(self, _):
        instance = expect(call(self.base, "POST", f"/v1.0/process-instances/{self.model}", token=self.token), 201,
                          "peer: create an instance")["id"]
        run = expect(call(self.base, "POST", f"/v1.0/process-instances/{self.model}/{instance}/run"
                          "?execution_mode=synchronous", token=self.token), 200, "peer: run the instance")
        if run["status"] != "user_input_required":
            raise SystemExit(f"peer: the instance did not stop at task A: {run}")
        tasks = expect(call(self.base, "GET", f"/v1.0/tasks?process_instance_id={instance}", token=self.token),
                       200, "peer: its tasks")["results"]
        return next((instance, t["task_guid"]) for t in tasks if t["task_name"] == "task_a")

    def complete(self, handle):
        instance, guid = handle
        task = expect(call(self.base, "PUT", f"/v1.0/tasks/{instance}/{guid}", {}, self.token), 200,
                      "peer: complete a task")
        return (instance, task["id"]) if task.get("name") == "task_b" and task.get("state") == "READY" else None

    def load(self, handle):
        instance, guid = handle
        return "PUT", f"/v1.0/tasks/{instance}/{guid}", {}


def measure(side, cases: int, threads: int) -> tuple[float, list[float]]:
    """Start ``cases`` cases (untimed), then complete A and B of each from ``threads`` client threads:
    (completions/s over the burst, latencies in ms)."""
    firsts = pool(list(range(cases)), side.start, threads)
    latencies: list[float] = []

    def both(first):
        t = time.perf_counter()
        second = side.complete(first)
        latencies.append((time.perf_counter() - t) * 1000)
        if second is None:
            raise RuntimeError(f"{side.name}: no task B after completing A of {first}")
        t = time.perf_counter()
        if side.complete(second) is not None:
            raise RuntimeError(f"{side.name}: a task after B")
        latencies.append((time.perf_counter() - t) * 1000)

    started = time.perf_counter()
    pool(firsts, both, threads)
    return 2 * cases / (time.perf_counter() - started), latencies


def measure_wrk(side, cases: int, connections: int, seconds: float) -> tuple[float, list[float]]:
    """Start ``cases`` cases (untimed, threaded client), then complete their task A from wrk for ``seconds``:
    (completions/s, [p50, p99] ms)."""
    firsts = pool(list(range(cases)), side.start, 4)
    requests = [side.load(first) for first in firsts]
    method, _, body = requests[0]
    base = urllib.parse.urlsplit(side.base)
    r = wrk_client.drive(base.port, [base.path.rstrip("/") + path for _, path, _ in requests], method, body,
                         side.token, connections=connections, duration=seconds)
    if r.failed:
        print(f"  ({side.name}: {r.failed} answers other than 200 — out of started cases? raise --cases/--peer-cases)")
    return r.rate, [r.p50_ms, r.p99_ms]


def compare(sides, cases: int, threads: int, runs: int, wrk_seconds: float | None = None,
            peer_cases: int | None = None) -> dict:
    results = {s.name: [] for s in sides}
    for side in sides:
        measure(side, 5, threads)  # warm-up: every worker imports, parses and caches what it needs

    def one(side):
        if wrk_seconds is None:
            return measure(side, cases, threads)
        return measure_wrk(side, cases if side.name == "accredit" else (peer_cases or cases), threads, wrk_seconds)

    for run in range(runs):
        for side in (sides if run % 2 == 0 else sides[::-1]):
            results[side.name].append(one(side))
    medians = {}
    for side in sides:
        rates = [r[0] for r in results[side.name]]
        mid = sorted(results[side.name], key=lambda r: r[0])[runs // 2]
        medians[side.name] = statistics.median(rates)
        p50, p99 = (mid[1] if wrk_seconds is not None else (pct(mid[1], .5), pct(mid[1], .99)))
        print(f"  {side.name:12} {medians[side.name]:7.1f} completions/s (runs {', '.join(f'{r:.1f}' for r in rates)})"
              f", p50 {p50:6.1f} ms, p99 {p99:6.1f} ms", flush=True)
    a, p = (medians[s.name] for s in sides)
    print(f"  accredit / spiff-arena: {a / p:.1f}x", flush=True)
    return medians


def main() -> None:
    env = os.environ.get
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--peer-url", default=env("PEER_URL", "http://127.0.0.1:7000"))
    ap.add_argument("--peer-token", default=env("PEER_TOKEN"))
    ap.add_argument("--peer-user", default=env("PEER_USER", "admin"))
    ap.add_argument("--peer-password", default=env("PEER_PASSWORD", "admin"))
    ap.add_argument("--peer-client-id", default=env("PEER_CLIENT_ID", "spiffworkflow-backend"))
    ap.add_argument("--peer-client-secret", default=env("PEER_CLIENT_SECRET"))
    ap.add_argument("--threads", default="4,8", help="client thread counts, comma-separated")
    ap.add_argument("--cases", type=int, default=40, help="cases per run (two completions each)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--wrk", type=float, metavar="SECONDS", help="timed load from wrk, SECONDS per run")
    ap.add_argument("--peer-cases", type=int, help="with --wrk: cases started per run on the peer (default --cases)")
    ap.add_argument("--reference", action="store_true",
                    help="also bench/http_throughput.py's shipped-process figures (2 workers, SQLite)")
    args = ap.parse_args()
    if not args.peer_token and not args.peer_client_secret:
        ap.error("give PEER_TOKEN, or PEER_CLIENT_SECRET (with PEER_USER/PEER_PASSWORD) for the peer's token")
    if args.wrk is not None and not wrk_client.available():
        ap.error("--wrk needs wrk on the PATH (Debian: apt-get install wrk)")
    counts = [int(t) for t in args.threads.split(",")]
    print(f"{args.cases} cases (x2 completions) per run, median of {args.runs}, interleaved; {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f} at start; peer at {args.peer_url}", flush=True)
    with tempfile.TemporaryDirectory(prefix="accredit-peer-") as tmp:
        peer = Peer(args)
        accredit = Accredit(Path(tmp))
        try:
            for threads in counts:
                print(f"{threads} client {'threads' if args.wrk is None else 'connections (wrk)'}:", flush=True)
                compare([accredit, peer], args.cases, threads, args.runs, args.wrk, args.peer_cases)
        finally:
            accredit.close()
        if args.reference:
            from http_throughput import bench_backend

            for threads in counts:
                print(f"reference, shipped accreditation process, {threads} client threads:", flush=True)
                bench_backend("sqlite", f"sqlite:///{Path(tmp) / f'ref-{threads}.sqlite'}", Path(tmp), 2 * args.cases,
                              threads, (2,))
    print(f"load average {os.getloadavg()[0]:.1f} at the end (other processes on the machine share its CPUs)")


if __name__ == "__main__":
    main()
