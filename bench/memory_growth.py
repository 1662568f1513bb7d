"""Does a worker's memory grow with the work it has done? (issue 13: peak memory after 10k completions, no growth)

One process, one Flask app (as one gunicorn worker holds it), a real SQLite file, the shipped accreditation
process, requests over the test client with bearer tokens — exactly what a worker serves. The loop: a
laboratory starts a case (``POST /api/cases``), submits its eligibility application, the coordinator asks
for more information, the laboratory submits again, the coordinator rejects (the case ends): four task
completions per case, through ``POST /api/tasks/<id>/complete``, each answer read back as a worker returns it.

Every 1,000 completions it prints the resident set size (current and peak, from /proc) and, with
``--tracemalloc``, the Python heap traced by tracemalloc (slower) — each next to the figure after the first
1,000, which is the same-run baseline: a worker that keeps nothing per request stays flat from there on.
With ``--tracemalloc`` the sites that grew most between the first and the last sample are listed.

    python bench/memory_growth.py [--completions 10000] [--tracemalloc]
"""
from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("ACCREDIT_PASSWORD_HASH", "fast")

from tests.apps import make_app  # noqa: E402

sys.path.insert(0, str(ROOT / "tests"))
from scenarios.forms_data import form  # noqa: E402


def rss_mib() -> tuple[float, float]:
    """(current, peak) resident set size of this process, MiB."""
    fields = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--completions", type=int, default=10_000)
    ap.add_argument("--every", type=int, default=1_000)
    ap.add_argument("--tracemalloc", action="store_true", help="trace the Python heap too (slower)")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="accredit-bench-"))
    url = f"sqlite:///{tmp / 'bench.sqlite'}"
    app = make_app({"DATABASE_URL": url, "DEPLOY_SHIPPED": True, "SECRET_KEY": "bench",  # as `accredit serve`
                    "ATTACHMENTS_DIR": str(tmp / "files")})
    svc = app.extensions["accredit"]
    svc.identity.create_organisation("lab-a", "Lab A")
    svc.identity.create_user("alice", "bench-password-1", ["applicant"], organisation_id="lab-a", display_name="Alice")
    svc.identity.create_user("carol", "bench-password-1", ["coordinator"], display_name="Carol")
    client = app.test_client()
    auth = {who: {"Authorization": f"Bearer {svc.identity.issue_token(who, 'bench')}"} for who in ("alice", "carol")}
    application = form("eligibility_application")
    more_info = form("eligibility_review", eligibility_decision="request_info", eligibility_comment="More, please")
    reject = form("eligibility_review", eligibility_decision="reject", eligibility_comment="Not a member")

    def complete(who, task_id, data):
        r = client.post(f"/api/tasks/{task_id}/complete", json={"data": data}, headers=auth[who])
        assert r.status_code == 200, r.get_json()
        return r.get_json()

    def ready(view, element_id):
        return next(t["id"] for t in view["tasks"] if t["element_id"] == element_id)

    def coordinator_task(case_id):
        r = client.get(f"/api/cases/{case_id}", headers=auth["carol"])
        assert r.status_code == 200, r.get_json()
        return ready(r.get_json(), "eligibility_review")

    if args.tracemalloc:
        import tracemalloc
        tracemalloc.start(1)  # one frame: tracing deeper stacks is ~10x slower
    done, first, first_heap, first_snapshot, cases = 0, None, None, None, 0
    started = time.perf_counter()
    print(f"{'completions':>11} {'cases':>6} {'RSS MiB':>8} {'peak MiB':>9} {'growth vs 1st':>14}"
          + (f" {'heap MiB':>9} {'heap growth':>12}" if args.tracemalloc else "") + "  s")
    while done < args.completions:
        r = client.post("/api/cases", json={"process": "accreditation"}, headers=auth["alice"])
        assert r.status_code == 201, r.get_json()
        view = r.get_json()
        case_id, cases = view["id"], cases + 1
        view = complete("alice", ready(view, "eligibility_application"), application)
        complete("carol", coordinator_task(case_id), more_info)
        r = client.get(f"/api/cases/{case_id}", headers=auth["alice"])
        complete("alice", ready(r.get_json(), "eligibility_application"), application)
        view = complete("carol", coordinator_task(case_id), reject)
        assert view["status"] == "completed", view["status"]
        before, done = done, done + 4
        if done // args.every == before // args.every:
            continue
        gc.collect()
        rss, peak = rss_mib()
        line = f"{done:>11} {cases:>6} {rss:>8.1f} {peak:>9.1f} "
        if first is None:
            first = rss
            line += f"{'(baseline)':>14}"
        else:
            line += f"{rss - first:>+13.1f}M"
        if args.tracemalloc:
            heap = tracemalloc.get_traced_memory()[0] / 2**20
            if first_heap is None:
                first_heap, first_snapshot = heap, tracemalloc.take_snapshot()
                line += f" {heap:>9.1f} {'(baseline)':>12}"
            else:
                line += f" {heap:>9.1f} {heap - first_heap:>+11.2f}M"
        print(line + f"  {time.perf_counter() - started:.0f}", flush=True)

    rss, peak = rss_mib()
    print(f"after {done} completions ({cases} cases): RSS {rss:.1f} MiB (peak {peak:.1f} MiB); "
          f"growth after the first {args.every}: {rss - first:+.1f} MiB "
          f"({(rss - first) * 1024 / max(done - args.every, 1):.2f} KiB per completion)")
    if args.tracemalloc:
        stats = tracemalloc.take_snapshot().compare_to(first_snapshot, "lineno")
        print("largest heap growth since the first sample:")
        for stat in stats[:8]:
            frame = stat.traceback[0]
            print(f"  {stat.size_diff / 1024:+9.1f} KiB {stat.count_diff:+7d} blocks  "
                  f"{'/'.join(Path(frame.filename).parts[-2:])}:{frame.lineno}")
    svc.db.dispose()


if __name__ == "__main__":
    main()
