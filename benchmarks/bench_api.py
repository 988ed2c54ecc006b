"""Durable collection API vs the same aiohttp server with storage off, driven by wrk.

Each server runs in its own process pinned to CPU 0; wrk (1 thread, 64 connections,
`--latency`) runs pinned to CPU 1 and POSTs replies with a unique idempotency key per
request (a small Lua script), so every request is a new durable write. Repeated a few
times, side by side; prints req/s, p50 and p99 as wrk reports them, and the ratio.

Usage: python benchmarks/bench_api.py [--seconds 8] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import tempfile
from pathlib import Path

from simulator.collect.directory import Directory
from simulator.collect.servers import ServerProcess, ServerSpec
from simulator.rules import ContentRules
from simulator.tokens import mint_token

SECRET = b"benchmark-secret-0123456789abcdef"

WRK_SCRIPT = r"""
local counter = 0
local token = os.getenv("PULSECHECK_TOKEN")
local run = os.getenv("PULSECHECK_RUN")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. token
request = function()
  counter = counter + 1
  local body = string.format('{"sender":"sender@dhs.example","round":"r1",' ..
    '"to":"hr@opm.example","cc":["manager@dhs.example"],"subject":"Re: last week",' ..
    '"bullets":["closed 12 cases","trained two staff","drafted the Q2 plan"],' ..
    '"idempotency_key":"%s-%d"}', run, counter)
  return wrk.format(nil, "/replies", nil, body)
end
"""


def start(store: str | None) -> tuple[ServerProcess, int]:
    directory = Directory([("sender@dhs.example", "DHS"), ("manager@dhs.example", "DHS")])
    spec = ServerSpec(
        "api",
        store,
        {"r1": ContentRules()},
        directory,
        collections=[("opm-hr", "hr@opm.example", None)],
        secret=SECRET,
        max_pending=50_000,
    )
    proc = ServerProcess(spec)
    _, port = proc.start()
    subprocess.run(
        ["taskset", "-a", "-p", "-c", "0", str(proc.process.pid)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return proc, port


WRK_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def parse_ms(text: str) -> float:
    """A wrk latency ("812.00us", "6.78ms", "1.02s", "1.50m") in milliseconds."""
    found = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    if found is None:
        raise SystemExit(f"wrk printed a latency this script cannot read: {text!r}")
    value, unit = found.groups()
    return float(value) * WRK_UNITS_MS[unit]


def wrk(port: int, seconds: int, script: Path, run_id: str) -> tuple[float, float, float, int]:
    env = {
        "PULSECHECK_TOKEN": mint_token(SECRET, "DHS"),
        "PULSECHECK_RUN": run_id,
        "PATH": "/usr/bin:/bin",
    }
    cmd = [
        "taskset",
        "-c",
        "1",
        "wrk",
        "-t1",
        "-c64",
        f"-d{seconds}s",
        "--latency",
        "-s",
        str(script),
        f"http://127.0.0.1:{port}",
    ]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = parse_ms(re.search(r"^\s*50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = parse_ms(re.search(r"^\s*99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return rate, p50, p99, int(bad.group(1)) if bad else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    names = ["api-nostore", "api-durable"]
    results: dict[str, list[tuple[float, float, float, int]]] = {n: [] for n in names}
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "post.lua"
        script.write_text(WRK_SCRIPT)
        for i in range(args.repeats):
            for name in names:
                store = str(Path(tmp) / f"api-{i}.db") if name == "api-durable" else None
                server, port = start(store)
                try:
                    r = wrk(port, args.seconds, script, f"{name}-{i}")
                finally:
                    server.stop()
                results[name].append(r)
                print(
                    f"  run {i + 1} {name:12s} {r[0]:8.0f} req/s  p50 {r[1]:6.2f} ms  "
                    f"p99 {r[2]:6.2f} ms  non-2xx {r[3]}"
                )
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    med = {n: [statistics.median(x[k] for x in results[n]) for k in range(3)] for n in names}
    print(
        f"\nmedians over {args.repeats} runs of {args.seconds}s, wrk -t1 -c64 on CPU 1, "
        "server on CPU 0:"
    )
    for n in names:
        print(f"  {n:12s} {med[n][0]:8.0f} req/s  p50 {med[n][1]:6.2f} ms  p99 {med[n][2]:6.2f} ms")
    ratio = med["api-durable"][0] / med["api-nostore"][0]
    print(f"  durable / storage-off = {ratio:.0%}  (goal >= 60%)")


if __name__ == "__main__":
    main()
