"""A load client that costs the server's machine almost nothing: wrk (Debian's ``wrk``, written in C).

The threaded Python client of ``bench/http_throughput.py`` spends CPU of its own on every request, on the same
two cores as the server and the database; wrk takes a small fraction of that, so what it measures is closer to
what the server can do. Each request must name a different task, so the paths are read from a file and spread
over wrk's threads and connections (a Lua script); a run ends after ``duration`` seconds or when the paths run
out (then the remaining requests go to a path that answers 404 and the run is reported as cut short).

    drive(port, paths, method="POST", body=..., token=..., connections=8, duration=5)
    -> Result(rate, p50_ms, p99_ms, ok, failed)
"""
from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

SCRIPT = r"""
local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local paths_file, body_file, token, nthreads, cycle = args[1], args[2], args[3], tonumber(args[4]), args[5]
  method = args[6]
  paths = {}
  local i = 0
  for line in io.lines(paths_file) do
    if i % nthreads == id then table.insert(paths, line) end
    i = i + 1
  end
  local f = io.open(body_file, "rb")
  body = f:read("*a")
  f:close()
  if body == "" then body = nil end
  headers = {}
  if token ~= "" then headers["Authorization"] = "Bearer " .. token end
  if body then headers["Content-Type"] = "application/json" end
  cycling = cycle == "1"
  next_index = 0
  ok, failed = 0, 0
end

function request()
  next_index = next_index + 1
  if next_index > #paths then
    if not cycling then return wrk.format("GET", "/api/wrk-ran-out-of-paths") end
    next_index = 1
  end
  return wrk.format(method, paths[next_index], headers, body)
end

function response(status, headers, body)
  if status == 200 then ok = ok + 1 else failed = failed + 1 end
end

function done(summary, latency, requests)
  local o, f = 0, 0
  for _, t in ipairs(threads) do
    o = o + t:get("ok")
    f = f + t:get("failed")
  end
  io.write(string.format("RESULT %d %d %d %d %d\n", o, f, latency:percentile(50), latency:percentile(99),
                         summary.duration))
end
"""


@dataclass
class Result:
    rate: float  # answers 200 per second
    p50_ms: float
    p99_ms: float
    ok: int
    failed: int


def available() -> bool:
    return shutil.which("wrk") is not None


def drive(port: int, paths: list[str], method: str = "POST", body: dict | None = None, token: str | None = None,
          connections: int = 8, duration: float = 5.0, threads: int = 2, cycle: bool = False) -> Result:
    """Load ``paths`` on 127.0.0.1:``port`` for ``duration`` seconds from ``connections`` connections."""
    threads = max(1, min(threads, connections))
    with tempfile.TemporaryDirectory(prefix="accredit-wrk-") as tmp:
        d = Path(tmp)
        (d / "paths").write_text("\n".join(paths) + "\n")
        (d / "body").write_text(json.dumps(body) if body is not None else "")
        (d / "script.lua").write_text(SCRIPT)
        out = subprocess.run(["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{max(1, round(duration))}s",
                              "--timeout", "30s", "-s", str(d / "script.lua"), f"http://127.0.0.1:{port}", "--", str(d / "paths"), str(d / "body"), token or "",
                              str(threads), "1" if cycle else "0", method],
                             capture_output=True, text=True, check=False)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if line is None:
        raise SystemExit(f"wrk gave no result: {out.stdout[-2000:]} {out.stderr[-2000:]}")
    ok, failed, p50, p99, micros = (int(x) for x in line.split()[1:])
    return Result(ok / (micros / 1e6), p50 / 1000, p99 / 1000, ok, failed)
