"""Benchmark: workforce plus schedule at scales 1, 3 and 10, time and memory of each.

What it measures, side by side in one run: for each scale, `pulsecheck workforce --scale S`
and then `pulsecheck schedule scenarios/opm-round1.toml` on that workforce, each as its own
command in a subprocess. For each command: wall time, and peak RSS summed over the
command's whole process tree (the command and its worker processes, polled with psutil
every 20 ms, plus the hand-over files the workers leave in /dev/shm, which are memory
too; an upper bound, as a mapped file counts twice), the rows or events written.
Scale 1 is built whole in one process (the monolithic peer); above 1 the workforce is
built copy by copy over worker processes (`simulator.app.chunked`). `--sequential S`
also runs scale S with one worker (PULSECHECK_WORKERS=1) right after it, to show what the
parallel copies gain; CPU seconds (user + system, the command and its workers) show the
work whatever else the machine runs.

Prints a table, the cost per million rows (workforce) and per million events (schedule),
and the goal line for scale 10: workforce plus schedule in <= 60 s with peak RSS <= 6 GB.

    python benchmarks/bench_scale.py [--scales 1,3,10] [--sequential 3] [--dir /tmp/x]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "opm-round1.toml"
POLL_S = 0.02
SHARED_MEMORY = Path("/dev/shm")
GOAL_S, GOAL_GB = 60.0, 6.0


@dataclass(frozen=True)
class Measured:
    wall_s: float
    peak_mb: float
    cpu_s: float  # user + system time of the command and its workers


def tree_rss(proc: psutil.Process) -> int:
    """Bytes resident in a process and all its descendants, now."""
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            total += p.memory_info().rss
    return total


def scratch_bytes() -> int:
    """Bytes of the worker processes' hand-over files in shared memory (memory too)."""
    total = 0
    for path in SHARED_MEMORY.glob("pulsecheck-*/*"):
        with contextlib.suppress(OSError):
            total += path.stat().st_size
    return total


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(cmd: list[str], env: dict[str, str]) -> Measured:
    cpu = _children_cpu()
    started = time.perf_counter()
    child = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    proc = psutil.Process(child.pid)
    peak = 0
    while child.poll() is None:
        with contextlib.suppress(psutil.Error):
            peak = max(peak, tree_rss(proc) + scratch_bytes())
        time.sleep(POLL_S)
    wall = time.perf_counter() - started
    if child.returncode:
        err = child.stderr.read().decode() if child.stderr else ""
        raise SystemExit(f"{' '.join(cmd)} failed ({child.returncode}):\n{err}")
    return Measured(wall, peak / 2**20, _children_cpu() - cpu)


def rows_of(path: Path) -> int:
    manifest = path.with_name(path.name + ".manifest.json")
    return int(json.loads(manifest.read_text())["rows"])


def run_scale(scale: float, folder: Path, workers: int | None) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if workers is not None:
        env["PULSECHECK_WORKERS"] = str(workers)
    wf, sched = folder / f"wf-{scale:g}.parquet", folder / f"s-{scale:g}.parquet"
    py = [sys.executable, "-m", "simulator"]
    w = measure([*py, "workforce", "--scale", str(scale), "--seed", "1", "--out", str(wf)], env)
    s = measure([*py, "schedule", str(SCENARIO), "--workforce", str(wf), "--out", str(sched)], env)
    out = {
        "scale": scale,
        "workers": float(workers or 0),
        "rows": rows_of(wf),
        "events": rows_of(sched),
        "wf_s": w.wall_s,
        "wf_mb": w.peak_mb,
        "sched_s": s.wall_s,
        "sched_mb": s.peak_mb,
        "cpu_s": w.cpu_s + s.cpu_s,
    }
    for p in (wf, sched):
        p.unlink()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scales", default="1,3,10", help="comma-separated scales")
    parser.add_argument(
        "--sequential", type=float, help="also run this scale with one worker process"
    )
    parser.add_argument("--dir", type=Path, help="where to write (default: a temporary dir)")
    args = parser.parse_args()
    scales = [float(s) for s in args.scales.split(",")]
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        results = []
        for scale in scales:  # the one-worker peer right after its scale, on the same load
            results.append(run_scale(scale, Path(tmp), None))
            if scale == args.sequential:
                results.append(run_scale(scale, Path(tmp), 1))
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"cores: {os.cpu_count()}, load average {load}; scenario {SCENARIO.name}")
    print("MB: peak RSS over each command's process tree (+ hand-over files)")
    print("CPU: user + sys of the two commands")
    for r in results:
        total = r["wf_s"] + r["sched_s"]
        workers = "1 worker" if r["workers"] == 1 else "workers: auto"
        print(
            f"scale {r['scale']:g} ({workers}): {int(r['rows']):,} rows, "
            f"{int(r['events']):,} events\n"
            f"  workforce {r['wf_s']:.1f} s, {r['wf_mb']:,.0f} MB; schedule "
            f"{r['sched_s']:.1f} s, {r['sched_mb']:,.0f} MB; total {total:.1f} s\n"
            f"  CPU {r['cpu_s']:.0f} s; {r['wf_s'] / r['rows'] * 1e6:.2f} s per million rows, "
            f"{r['sched_s'] / r['events'] * 1e6:.2f} s per million events"
        )
    ten = [r for r in results if r["scale"] == 10 and r["workers"] != 1]
    if ten:
        r = ten[0]
        total, peak_gb = r["wf_s"] + r["sched_s"], max(r["wf_mb"], r["sched_mb"]) / 1024
        ok = total <= GOAL_S and peak_gb <= GOAL_GB
        print(
            f"goal, scale 10: workforce + schedule {total:.1f} s (<= {GOAL_S:.0f} s),\n"
            f"  peak RSS {peak_gb:.2f} GB (<= {GOAL_GB:.0f} GB): {'met' if ok else 'NOT met'}"
        )


if __name__ == "__main__":
    main()
