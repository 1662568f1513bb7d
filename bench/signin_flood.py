"""Does a flood of failed sign-ins stall other users? (issue 11 item 6)

Real argon2id (the production parameters), a real SQLite file, real threads. While F threads keep sending
wrong passwords (each for its own username, so none is throttled early), the main thread times small writes
(creating an organisation: one write transaction, like most user actions) and authenticated token lookups.
Baselines measured in the same run: the same writes and lookups with no flood, and beside threads doing the
same argon2 work without touching the database (pure CPU contention). A sign-in flood that held locks
would be far slower than the CPU-only case; one that only competes for CPU is about the same.

    python bench/signin_flood.py [flood_threads] [samples]
"""
from __future__ import annotations

import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.pop("ACCREDIT_PASSWORD_HASH", None)  # production argon2 parameters

from engine.storage.db import Database  # noqa: E402
from engine.users.identity import AuthenticationFailed, Identity, TooManyAttempts  # noqa: E402


def timed(samples: int, ident: Identity, token: str, tag: str) -> tuple[float, float]:
    writes, reads = [], []
    for i in range(samples):
        t = time.perf_counter()
        ident.create_organisation(f"{tag}-{i}", "x")
        writes.append(time.perf_counter() - t)
        t = time.perf_counter()
        assert ident.actor_for_token(token) is not None
        reads.append(time.perf_counter() - t)
    return statistics.median(writes), statistics.median(reads)


def main(flood: int = 4, samples: int = 40) -> None:
    with tempfile.TemporaryDirectory() as d:
        db = Database(f"sqlite:///{Path(d) / 'bench.sqlite'}")
        db.migrate()
        ident = Identity(db)
        for i in range(flood):
            ident.create_user(f"victim{i}", "correct-horse-battery", ["coordinator"])
        ident.create_user("worker", "correct-horse-battery", ["coordinator"])
        token = ident.issue_token("worker")
        base_w, base_r = timed(samples, ident, token, "base")

        attempts = [0]
        from engine.users import identity as identity_module

        def sign_in(i: int, n: int) -> None:
            try:
                ident.authenticate(f"victim{i}", f"guess-{n}", source=f"198.51.100.{n % 250}")
            except (AuthenticationFailed, TooManyAttempts):
                pass

        def hash_only(i: int, n: int) -> None:  # the same argon2 work, no database at all
            identity_module._hasher.hash(f"guess-{n}")

        def under(work, tag: str) -> tuple[float, float]:
            stop = threading.Event()

            def loop(i: int) -> None:
                n = 0
                while not stop.is_set():
                    work(i, n)
                    n += 1
                    attempts[0] += 1

            threads = [threading.Thread(target=loop, args=(i,), daemon=True) for i in range(flood)]
            for t in threads:
                t.start()
            time.sleep(0.5)
            result = timed(samples, ident, token, tag)
            stop.set()
            for t in threads:
                t.join()
            return result

        cpu_w, cpu_r = under(hash_only, "cpu")
        flood_w, flood_r = under(sign_in, "flood")
        db.dispose()
    print(f"argon2 runs during the run: {attempts[0]} from {flood} threads")
    print(f"median write transaction: {base_w * 1000:.1f} ms alone, {cpu_w * 1000:.1f} ms beside argon2 without a "
          f"database, {flood_w * 1000:.1f} ms under failed sign-ins (x{flood_w / cpu_w:.1f} of the CPU-only case)")
    print(f"median token lookup:      {base_r * 1000:.2f} ms alone, {cpu_r * 1000:.2f} ms beside argon2 without a "
          f"database, {flood_r * 1000:.2f} ms under failed sign-ins (x{flood_r / cpu_r:.1f})")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
