"""Full scale at real speed: the busiest 15 minutes at speedup 1 and the busiest hour at auto.

Runs, each in a subprocess and one after the other,
  - `pulsecheck run scenarios/opm-round1.toml --scale 1 --window busiest:15m --speedup 1`
  - `pulsecheck run scenarios/opm-round1.toml --scale 1 --window busiest:1h --speedup auto`
measuring wall time and peak RSS summed over the process tree (psutil, polled every
0.2 s, so a child living less than that may be missed), then reads each run directory
(run.json, replay.json) for the window's events and share of the round, dropped, late,
p99 send lag, lost (the store check) and, for auto, the measured capacity, the peak
intended rate and the chosen speedup. Prints one table with the goals beside the
figures (15m: 0 dropped, p99 send lag <= 5 ms, 0 lost, <= 20 min, <= 2 GB; auto: 0
dropped, 0 lost), and, from the first run's schedule, the busiest second's intended
rate at speedups 1, 20 and 200.

Run: python benchmarks/bench_fullscale.py [--scale 1] [--windows busiest:15m busiest:1h]
     python benchmarks/bench_fullscale.py --scale 0.05 --windows busiest:1m busiest:2m
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from simulator.tables import read_stage  # noqa: E402
from simulator.traffic.autospeed import peak_per_s  # noqa: E402

SCENARIO = ROOT / "scenarios" / "opm-round1.toml"
POLL_S = 0.2
GB = 1024**3
SPEEDUPS = (1, 20, 200)


def tree_rss(proc: psutil.Process) -> int:
    """Resident bytes of a process and all its descendants, now."""
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            continue  # it ended between the listing and the reading
    return total


def timed(command: list[str], log: Path) -> tuple[float, int, int]:
    """Run `command`; its wall time, peak tree RSS in bytes and exit code."""
    start = time.monotonic()
    with log.open("wb") as out:
        child = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        proc = psutil.Process(child.pid)
        peak = 0
        while child.poll() is None:
            with contextlib.suppress(psutil.Error):  # it ended between poll and read
                peak = max(peak, tree_rss(proc))
            time.sleep(POLL_S)
    return time.monotonic() - start, peak, child.returncode


def figures(out: Path) -> dict[str, Any]:
    """What the goals are judged on, from a run directory."""
    run = json.loads((out / "run.json").read_text())
    replay = json.loads((out / "replay.json").read_text())
    window = run["run"].get("window") or replay.get("window") or {}
    store = run.get("store_check") or {}
    auto = run.get("speedup_auto") or replay.get("speedup_auto") or {}
    return {
        "events": window.get("events", replay["events"]),
        "share": window.get("share", 1.0),
        "dropped": replay["outcomes"]["dropped"],
        "late": replay["outcomes"]["late"],
        "p99_lag_ms": replay["send_lag_ms"]["p99"],
        "lost": store.get("missing"),
        "capacity": auto.get("capacity_per_s"),
        "peak": auto.get("peak_intended_per_s"),
        "chosen": auto.get("chosen", run["run"]["speedup"]),
    }


def _goal(ok: bool) -> str:
    return "yes" if ok else "NO"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--windows", nargs=2, default=["busiest:15m", "busiest:1h"])
    parser.add_argument("--out", type=Path, help="keep the run directories here")
    args = parser.parse_args()
    base = args.out or Path(tempfile.mkdtemp(prefix="bench-fullscale-"))
    base.mkdir(parents=True, exist_ok=True)
    runs = [(args.windows[0], "1", base / "D1"), (args.windows[1], "auto", base / "D2")]
    rows = []
    for window, speedup, out in runs:
        command = [
            sys.executable,
            "-m",
            "simulator",
            "run",
            str(SCENARIO),
            "--scale",
            f"{args.scale:g}",
            "--window",
            window,
            "--speedup",
            speedup,
            "--out",
            str(out),
        ]
        print("$ pulsecheck " + " ".join(command[3:]), flush=True)
        wall, peak, code = timed(command, base / f"{out.name}.log")
        print(f"  exit {code}, {wall:,.1f} s, peak RSS {peak / GB:.2f} GB", flush=True)
        if code not in (0, 99):  # 99: a threshold failed, the run directory is complete
            print((base / f"{out.name}.log").read_text()[-3000:])
            return 1
        rows.append((window, speedup, wall, peak, figures(out)))
    print(f"\nscale {args.scale:g}, run directories under {base}")
    head = (
        f"{'window':<14}{'speedup':>9}{'events':>10}{'share':>7}{'dropped':>9}{'late':>7}"
        f"{'p99 lag':>9}{'lost':>6}{'wall':>9}{'peak RSS':>10}  goals met"
    )
    print(head)
    print("-" * len(head))
    for window, speedup, wall, peak, f in rows:
        lost = f["lost"]
        if speedup == "1":
            goals = [
                ("0 dropped", f["dropped"] == 0),
                ("p99 lag <= 5 ms", f["p99_lag_ms"] <= 5),
                ("0 lost", lost == 0),
                ("<= 20 min", wall <= 1200),
                ("<= 2 GB", peak <= 2 * GB),
            ]
        else:
            goals = [("0 dropped", f["dropped"] == 0), ("0 lost", lost == 0)]
        met = ", ".join(f"{name}: {_goal(ok)}" for name, ok in goals)
        shown = f"{f['chosen']:g}" if speedup == "auto" else speedup
        print(
            f"{window:<14}{shown:>9}{f['events']:>10,}{f['share']:>7.1%}{f['dropped']:>9,}"
            f"{f['late']:>7,}{f['p99_lag_ms']:>7.2f}ms{'-' if lost is None else lost:>6}"
            f"{wall:>8.0f}s{peak / GB:>8.2f}GB  {met}"
        )
        if speedup == "auto":
            print(
                f"{'':<14}auto: measured capacity {f['capacity']:,.0f}/s, peak intended "
                f"rate {f['peak']:,}/s, chosen speedup {f['chosen']:g}"
            )
    column = read_stage(runs[0][2] / "schedule.parquet", "schedule", ["t_intended"])
    t_us = column.column("t_intended").cast("int64").to_numpy()
    print(f"\nbusiest second of the scale-{args.scale:g} round ({len(t_us):,} events):")
    for speedup in SPEEDUPS:
        print(f"  speedup {speedup:>4}: {peak_per_s(t_us, speedup):>9,} events/s intended")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
