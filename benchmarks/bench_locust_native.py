"""Locust master + 2 workers running the native engine, beside `pulsecheck replay --workers 2`.

Same schedule, same target, side by side in one run: the embedded collection API with
its durable store (SQLite, group commit), started in this process on loopback with a
fresh store for every run, so the store check proves exactly-once delivery. The schedule
is a broadcast and N replies/auto-replies spread evenly over an hour, compressed to the
chosen rate (--rate events/s; the default is well under what the store absorbs on a
2-core machine with a generator running, so the p99 shows the drivers, not a queue).

Per run it prints events, acknowledged, stored / distinct idempotency keys in the store
(expected: every event but the broadcast, which the API refuses), throughput (events/s
acknowledged), CPU seconds of all generator processes (native: the replay parent and its
2 workers; Locust: master, 2 workers and their 2 engine children; not the target server,
which runs in this process), per-core throughput (acknowledged per CPU second) and the
merged corrected p99. Then the medians of --repeats rounds and the ratio lines.

Locust runs as `--processes 2` by default (its workers are forked from the master, so
Locust's imports are paid once); `--locust master` starts a `--master --expect-workers 2`
and two `--worker` commands instead, as on several machines.

Run: python benchmarks/bench_locust_native.py [--repeats 3] [--events 60000] [--rate 1000]
     [--locust processes|master] [--sync full|normal]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import socket
import sqlite3
import statistics
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from simulator.collect import running_api  # noqa: E402
from tests.locust.helpers import RULES, directory_of  # noqa: E402
from tests.locust.tables import SECRET, T0_US, storm_schedule, workforce  # noqa: E402

SPAN_S = 3600.0  # intended span of the schedule (real seconds)
USERS = 16  # concurrency: replay --concurrency, Locust -u (split over the 2 workers)
WORKERS = 2
TIMEOUT_S = 600.0
PULSECHECK = [sys.executable, "-c", "import sys; from simulator.cli import main; sys.exit(main())"]


@dataclass
class Run:
    engine: str
    events: int
    acknowledged: int
    stored: int
    distinct: int
    throughput: float
    cpu_s: float
    p99_ms: float
    dropped: int
    lag_p99_ms: float  # send lag: sent - intended
    server_p99_ms: float  # uncorrected: answered - sent

    @property
    def per_core(self) -> float:
        return self.acknowledged / self.cpu_s if self.cpu_s > 0 else 0.0


def write_inputs(d: Path, n: int) -> tuple[Path, Path, Path, int]:
    """Workforce, an evenly spread schedule of 1 broadcast + n replies/auto-replies, the
    API secret; and how many events the store should end with."""
    auto = n // 20
    sched = storm_schedule(n - auto, auto, SPAN_S)
    t = sched.column("t_intended").cast(pa.int64()).to_numpy()
    order = np.argsort(t, kind="stable")
    even = np.empty(len(t), np.int64)
    even[order] = T0_US + (np.arange(len(t)) * (SPAN_S * 1e6 / len(t))).astype(np.int64)
    sched = sched.set_column(
        sched.schema.get_field_index("t_intended"),
        "t_intended",
        pa.array(even).cast(pa.timestamp("us", tz="UTC")),
    )
    wf, sp, secret = d / "workforce.parquet", d / "schedule.parquet", d / "api.secret"
    pq.write_table(workforce(n + 1), wf)
    pq.write_table(sched, sp)
    secret.write_bytes(SECRET + b"\n")
    return wf, sp, secret, n


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def run_commands(commands: list[list[str]], cwd: Path) -> tuple[float, list[str]]:
    """Run every command to its end; the CPU seconds they and their children used."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    procs = [
        await asyncio.create_subprocess_exec(
            *cmd,
            cwd=cwd,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        for cmd in commands
    ]
    outs = await asyncio.gather(*(asyncio.wait_for(p.communicate(), TIMEOUT_S) for p in procs))
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    texts = [o[0].decode(errors="replace") for o in outs]
    for proc, text in zip(procs, texts, strict=True):
        if proc.returncode != 0:
            raise RuntimeError(f"exit {proc.returncode}:\n{text[-3000:]}")
    return cpu, texts


def native_commands(url: str, files: tuple[Path, Path, Path], out: Path, speedup: float) -> list:
    wf, sp, secret = files
    return [[
        *PULSECHECK, "replay", str(sp), "--workforce", str(wf),
        "--target", f"{url}/replies", "--out", str(out), "--speedup", f"{speedup:g}",
        "--workers", str(WORKERS), "--concurrency", str(USERS), "--token-secret", str(secret),
        "--collection", "opm-hr=hr@opm.example", "--no-live",
    ]]  # fmt: skip


def locust_commands(
    url: str, files: tuple[Path, Path, Path], out: Path, speedup: float, mode: str
) -> list:
    """`--processes 2` (one master forking 2 workers), or a master and 2 worker commands."""
    wf, sp, secret = files
    port = str(free_port())
    common = [sys.executable, "-m", "locust", "-f", str(ROOT / "locustfiles" / "reply_storm.py"),
              "--exit-code-on-error", "0", "--loglevel", "WARNING"]  # fmt: skip
    storm = [
        *common, "--headless",
        "-u", str(USERS), "-r", "1000", "--run-time", "590s", "--stop-timeout", "5",
        "--host", url, "--schedule", str(sp), "--workforce", str(wf),
        "--api-secret-file", str(secret), "--speedup", f"{speedup:g}",
        "--pulsecheck-out", str(out), "--start-delay", "2",
    ]  # fmt: skip
    if mode == "processes":
        return [[*storm, "--processes", str(WORKERS)]]
    master = [*storm, "--master", "--expect-workers", str(WORKERS),
              "--master-bind-host", "127.0.0.1", "--master-bind-port", port]  # fmt: skip
    worker = [*common, "--worker", "--master-host", "127.0.0.1", "--master-port", port]
    return [master, *[worker] * WORKERS]


def store_counts(path: Path) -> tuple[int, int]:
    conn = sqlite3.connect(path)
    try:
        row = conn.execute("SELECT count(*), count(DISTINCT idem_key) FROM replies").fetchone()
        return int(row[0]), int(row[1])
    finally:
        conn.close()


async def one_run(
    engine: str,
    workdir: Path,
    files: tuple[Path, Path, Path],
    speedup: float,
    mode: str,
    sync: str = "full",
) -> Run:
    run_dir = workdir / f"{engine}-{time.monotonic_ns()}"
    run_dir.mkdir()
    store = run_dir / "store.db"
    directory = directory_of(files[0])
    async with running_api(store, directory, RULES, secret=SECRET, sync=sync) as api:
        out = run_dir / "run"
        if engine == "native":
            commands = native_commands(api.url, files, out, speedup)
        else:
            commands = locust_commands(api.url, files, out, speedup, mode)
        cpu, _ = await run_commands(commands, workdir)
    summary = json.loads((run_dir / "run" / "replay.json").read_text())
    stored, distinct = store_counts(store)
    rows = pq.read_table(run_dir / "run" / "results.parquet", columns=["t_intended", "t_sent"])
    sent = rows.column("t_sent").to_numpy()
    lag_us = (sent - rows.column("t_intended").to_numpy())[sent >= 0]
    return Run(
        engine,
        int(summary["events"]),
        int(summary["acknowledged"]),
        stored,
        distinct,
        float(summary["throughput_per_s"]),
        cpu,
        float(summary["latency_corrected_ms"]["p99"]),
        int(summary["outcomes"]["dropped"]),
        float(np.percentile(lag_us, 99)) / 1000 if len(lag_us) else 0.0,
        float(summary["latency_uncorrected_ms"]["p99"]),
    )


def show(run: Run, expected_stored: int) -> None:
    once = "yes" if run.stored == run.distinct == expected_stored else "NO"
    print(
        f"  {run.engine:<14} events {run.events:,}, acknowledged {run.acknowledged:,}, "
        f"dropped {run.dropped:,}\n"
        f"  {'':<14} stored/distinct {run.stored:,}/{run.distinct:,} (exactly once: {once})\n"
        f"  {'':<14} {run.throughput:,.0f}/s, CPU {run.cpu_s:.2f} s, "
        f"per core {run.per_core:,.0f}/s, corrected p99 {run.p99_ms:.2f} ms\n"
        f"  {'':<14} p99 of the send lag {run.lag_p99_ms:.2f} ms, "
        f"of the answer time {run.server_p99_ms:.2f} ms"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--events", type=int, default=60_000)
    parser.add_argument("--rate", type=float, default=1000.0, help="intended events/s")
    parser.add_argument(
        "--locust",
        choices=("processes", "master"),
        default="processes",
        help="Locust as one --processes 2 command (workers forked from the master), or as "
        "a --master and 2 --worker commands",
    )
    parser.add_argument(
        "--sync",
        choices=("full", "normal"),
        default="full",
        help="the store's SQLite synchronous mode: full (an fsync per group commit) or "
        "normal (WAL; durable across a crash of the server, not of the machine)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-locust-native-") as tmp:
        workdir = Path(tmp)
        wf, sp, secret, expected = write_inputs(workdir, args.events)
        files = (wf, sp, secret)
        total = args.events + 1
        speedup = args.rate * SPAN_S / total
        print(
            textwrap.fill(
                f"{total:,} events (1 broadcast, the rest replies and auto-replies) spread "
                f"evenly over {SPAN_S:.0f} s, speedup {speedup:g} -> {args.rate:,.0f} "
                f"events/s for {total / args.rate:.0f} s; concurrency {USERS} over "
                f"{WORKERS} worker processes (Locust: {args.locust}); target: the embedded "
                f"collection API (SQLite store, synchronous={args.sync}) in this process",
                width=80,
            )
        )
        runs: dict[str, list[Run]] = {"native": [], "locust+native": []}
        for k in range(args.repeats):
            print(f"round {k + 1}/{args.repeats}")
            for engine in ("native", "locust+native"):
                run = await one_run(engine, workdir, files, speedup, args.locust, args.sync)
                runs[engine].append(run)
                show(run, expected)
        med = {
            engine: {
                "per_core": statistics.median(r.per_core for r in rs),
                "p99": statistics.median(r.p99_ms for r in rs),
                "throughput": statistics.median(r.throughput for r in rs),
                "cpu": statistics.median(r.cpu_s for r in rs),
                "lag": statistics.median(r.lag_p99_ms for r in rs),
                "server": statistics.median(r.server_p99_ms for r in rs),
            }
            for engine, rs in runs.items()
        }
        print(f"medians of {args.repeats} rounds:")
        for engine, m in med.items():
            print(
                f"  {engine:<14}{m['throughput']:>7,.0f}/s  CPU {m['cpu']:6.2f} s  "
                f"per core {m['per_core']:>6,.0f}/s  p99 {m['p99']:6.2f} ms"
            )
            print(f"  {'':<14}p99 send lag {m['lag']:.2f} ms, answer time {m['server']:.2f} ms")
        native, locust = med["native"], med["locust+native"]
        ratio = locust["per_core"] / native["per_core"] if native["per_core"] else 0.0
        diff = abs(locust["p99"] - native["p99"]) / native["p99"] * 100 if native["p99"] else 0.0
        print(f"locust+native / native per core: {ratio:.2f}x (goal >= 0.8x)")
        print(f"corrected p99 differs by {diff:.1f}% (goal <= 10%)")


if __name__ == "__main__":
    asyncio.run(main())
