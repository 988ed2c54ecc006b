"""Full-scale round-1 schedule: build time, peak memory, and sizing vs rendering.

Goal (issue 4): 2.3M recipients, ~1M replies, built in <= 10 s with peak RSS <= 2 GB.
Each repeat runs in a fresh process that reads the workforce columns from Parquet (as
`pulsecheck schedule` does) and builds the schedule; we report the build time and the
process's peak RSS. Side by side, the peer for the sizing step: rendering each body
and taking its length (measured on a sample, extrapolated to all events) against the
vectorised `writing.reply_sizes` the builder uses.

With `--timing-models lognormal-mixture,power-law` each reply-delay model is built in
turn on the same workforce, side by side (build time and round-1 counts per model).

    python benchmarks/bench_schedule.py [--scale 1.0] [--repeats 3] [--timing-models M,M]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "opm-round1.toml"
SEED = 20250222


def _child(wf_path: str, model: str, queue: mp.Queue) -> None:  # type: ignore[type-arg]
    import dataclasses

    from simulator.parameters import TIMING_MODEL, TIMING_MODELS
    from simulator.scenario import load_scenario
    from simulator.schedule.build import build_schedule
    from simulator.schedule.io import read_workforce_columns

    scenario = load_scenario(SCENARIO)
    chosen = {**scenario.behaviour, TIMING_MODEL: float(TIMING_MODELS.index(model))}
    scenario = dataclasses.replace(scenario, behaviour=chosen)
    t0 = time.perf_counter()
    wf = read_workforce_columns(Path(wf_path))
    t1 = time.perf_counter()
    table = build_schedule(scenario, wf, SEED)
    t2 = time.perf_counter()
    kind = pc.cast(table.column("kind"), pa.string()).to_numpy(zero_copy_only=False)
    counts = {k: int(np.sum(kind == k)) for k in ("broadcast", "reply", "auto_reply", "bounce")}
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put((t1 - t0, t2 - t1, rss_mb, counts, wf.num_rows))


def run_child(
    wf_path: Path, model: str = "lognormal-mixture"
) -> tuple[float, float, float, dict[str, int], int]:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(str(wf_path), model, queue))
    proc.start()
    result = queue.get(timeout=600)
    proc.join(timeout=60)
    return result  # type: ignore[no-any-return]


def sizing_peer(n_events: int) -> tuple[float, float]:
    """Seconds to size `n_events` bodies: vectorised, and by rendering (extrapolated)."""
    from simulator.behaviour import writing
    from simulator.columns import CONTENTS

    rng = np.random.default_rng(0)
    ids = np.arange(n_events, dtype=np.int64)
    kinds = np.full(n_events, CONTENTS.index("bullets"))
    viol = np.zeros(n_events, dtype=np.int64)
    family = rng.integers(0, len(writing.grammar().families), n_events)
    names = np.full(n_events, 12, dtype=np.int64)
    html = writing.html_mask(SEED, ids, 0.7)
    t0 = time.perf_counter()
    writing.reply_sizes(SEED, ids, kinds, viol, family, names, names, html)
    vectorised = time.perf_counter() - t0
    sample = 50_000
    t0 = time.perf_counter()
    for i in range(sample):
        len(
            writing.render_reply(
                SEED, i, "bullets", "", "admin", "Ann", "Leeson", bool(html[i])
            ).encode()
        )
    rendered = (time.perf_counter() - t0) * n_events / sample
    return vectorised, rendered


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--timing-models", default="lognormal-mixture")
    args = parser.parse_args()
    from simulator.workforce import build_workforce, load_tables, write_workforce

    models = args.timing_models.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        wf_path = Path(tmp) / "wf.parquet"
        write_workforce(build_workforce(args.scale, SEED, load_tables()), wf_path)
        by_model = {m: [run_child(wf_path, m) for _ in range(args.repeats)] for m in models}
    for model, model_runs in by_model.items():
        times = [round(r[1], 2) for r in model_runs]
        c = model_runs[0][3]
        print(
            f"{model}: build median {statistics.median(times):.2f} s {times}; "
            f"replies {c['reply']:,}, auto {c['auto_reply']:,}, bounces {c['bounce']:,}"
        )
    runs = by_model[models[0]]
    reads, builds, rss = zip(*[(r[0], r[1], r[2]) for r in runs], strict=True)
    counts, rows = runs[0][3], runs[0][4]
    print(f"workforce rows: {rows:,} (scale {args.scale})")
    print("round-1 events: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    print(f"reply share: {counts['reply'] / rows:.4f}")
    med_read, med_build = statistics.median(reads), statistics.median(builds)
    print(f"read workforce columns: median {med_read:.2f} s {[round(x, 2) for x in reads]}")
    print(
        f"build schedule: median {med_build:.2f} s {[round(x, 2) for x in builds]} (goal <= 10 s)"
    )
    print(f"peak RSS of the process: median {statistics.median(rss):.0f} MB  (goal <= 2048 MB)")
    n_sized = sum(v for k, v in counts.items() if k != "broadcast")
    vec, ren = sizing_peer(n_sized)
    print(
        f"sizing {n_sized:,} bodies: vectorised {vec:.2f} s, rendering each "
        f"(extrapolated) {ren:.1f} s, ratio {ren / vec:.0f}x"
    )


if __name__ == "__main__":
    main()
