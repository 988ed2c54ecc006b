"""`--workers N`: one schedule split over N processes, then merged into one run.

Theory of operation: one Python process saturates one core. Each worker process replays
an interleaved share of the events (every N-th, so each keeps an even rate) against the
same wall-clock start, writes its own run into `RUN_DIR/worker-K/`, and the parent merges
the result tables (sorted by event) and adds the encoded histograms together. Targets are
rebuilt in each process from their URL, so nothing unpicklable crosses the boundary.
Each process reads only its share of the schedule and the employees that share names
(`simulator.replay.source.load`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import multiprocessing as mp
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from simulator.replay.engine import ReplayOptions, replay
from simulator.replay.source import load
from simulator.replay.targets import TargetOptions, make_target
from simulator.safety import check_target
from simulator.traffic.pacer import sent_count, split_for_workers
from simulator.traffic.record import (
    CORRECTED_FILE,
    SUMMARY_FILE,
    UNCORRECTED_FILE,
    merge_histograms,
    merge_results,
    read_results,
    write_run,
)

START_DELAY_S = 1.0  # time for every process to import and open its files


@dataclass(frozen=True)
class WorkerJob:
    schedule_path: Path
    workforce_path: Path
    target_url: str
    connection: TargetOptions  # allow_remote: the parent's; the child checks the target too
    options: ReplayOptions
    out_dir: Path


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop where installed (faster timers and sockets), else asyncio's own loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


def run_job(job: WorkerJob) -> dict[str, Any]:
    """Replay one share in this process and write it to `job.out_dir`."""
    check_target(job.target_url, job.connection.allow_remote, "--target")  # its own check
    opts = job.options
    share = load(
        job.schedule_path,
        job.workforce_path,
        opts.speedup,
        opts.max_events,
        opts.window,
        opts.positions,
    )
    target = make_target(job.target_url, job.connection)

    async def main() -> dict[str, Any]:
        stop = asyncio.Event()
        _stop_on_sigint(stop)
        result = await replay(
            share.events,
            share.workforce,
            target,
            dataclasses.replace(job.options, stop=stop),
            share.offsets,
        )
        meta = {k: v for k, v in result.summary.items() if k in _META_KEYS}
        return write_run(job.out_dir, result.results, meta, result.corrected, result.uncorrected)

    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        return runner.run(main())


_META_KEYS = (
    "target",
    "speedup",
    "concurrency",
    "start",
    "end",
    "duration_s",
    "interrupted",
    "late_after_ms",
    "drop_after_s",
)


def _stop_on_sigint(stop: asyncio.Event) -> None:
    import signal

    with contextlib.suppress(NotImplementedError, RuntimeError):
        asyncio.get_running_loop().add_signal_handler(signal.SIGINT, stop.set)


def _child(job: WorkerJob) -> None:
    run_job(job)


def run_workers(
    schedule_path: Path,
    workforce_path: Path,
    target_url: str,
    options: ReplayOptions,
    workers: int,
    run_dir: Path,
    connection: TargetOptions | None = None,
) -> dict[str, Any]:
    """Replay with `workers` processes and merge their runs into `run_dir`."""
    n = sent_count(pq.read_metadata(schedule_path).num_rows, options.max_events, options.window)
    start_at = time.time() + START_DELAY_S
    per_worker = max(1, options.concurrency // workers)
    jobs = [
        WorkerJob(
            schedule_path,
            workforce_path,
            target_url,
            connection or TargetOptions(),
            dataclasses.replace(
                options, positions=share, start_at_epoch=start_at, concurrency=per_worker
            ),
            run_dir / f"worker-{k}",
        )
        for k, share in enumerate(split_for_workers(n, workers))
    ]
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_child, args=(job,)) for job in jobs]
    for proc in procs:
        proc.start()
    _join_all(procs)
    return merge_runs([job.out_dir for job in jobs], run_dir, options.concurrency)


def _join_all(procs: list[Any]) -> None:
    """Wait for every worker; a Ctrl-C reaches them too, so keep waiting for their files."""
    for proc in procs:
        while True:
            try:
                proc.join()
                break
            except KeyboardInterrupt:
                continue


def merge_runs(worker_dirs: list[Path], run_dir: Path, concurrency: int) -> dict[str, Any]:
    """Merge worker runs (results + histograms) into one run in `run_dir`."""
    import json

    present = [d for d in worker_dirs if (d / SUMMARY_FILE).exists()]
    if not present:
        raise RuntimeError(f"no worker wrote a run under {run_dir}")
    results = merge_results(read_results(d) for d in present)
    corrected = merge_histograms(d / CORRECTED_FILE for d in present)
    uncorrected = merge_histograms(d / UNCORRECTED_FILE for d in present)
    metas = [json.loads((d / SUMMARY_FILE).read_text()) for d in present]
    meta = {
        "target": metas[0]["target"],
        "speedup": metas[0]["speedup"],
        "concurrency": concurrency,
        "workers": len(worker_dirs),
        "workers_finished": len(present),
        "start": min(m["start"] for m in metas),
        "end": max(m["end"] for m in metas),
        "interrupted": any(m["interrupted"] for m in metas) or len(present) < len(worker_dirs),
        "late_after_ms": metas[0]["late_after_ms"],
        "drop_after_s": metas[0]["drop_after_s"],
    }
    meta["duration_s"] = meta["end"] - meta["start"]
    return write_run(run_dir, results, meta, corrected, uncorrected)
