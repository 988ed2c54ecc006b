"""One Locust worker's share, replayed by the native engine in a process of its own.

Theory of operation: a Locust process is patched by gevent, the engine runs on asyncio
(uvloop), so a Locust worker (or a lone local runner) starts this module as a child,
`python -m simulator.app.storm_share`, and writes one `simulator.locust.plan.EngineJob`
(JSON) to its stdin. The child reads the schedule, plans the storm as the master did
(`plan_storm`) and refuses a schedule whose fingerprint differs from the master's, checks
the target against the loopback rule, reads only its share's rows and the employees they
name (`simulator.replay.source.load`, as a `--workers` process does), and replays them
with `simulator.replay.engine.replay` at the share's common start time and concurrency: the
same pacing, retries, drop rules and targets as `pulsecheck replay`.

While the engine runs, every `flush_s` the child writes a frame (`simulator.traffic.
frames`) with the rows finished since the last one (read from the engine's `Recorder`
in the order they finished) and their interval histograms to its stdout, which carries
nothing else (stray prints go to stderr). The last frame has `final` and `interrupted`.
SIGINT stops the engine cleanly (its `stop` event: no new sends, in-flight ones get the
grace period) and the rows it finished still go out (so does the end of the Locust
process that started it, seen as a new parent process id); a job the child cannot run gets one
frame with `refused` (the InputError's text) and exit code 2.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import sys
from pathlib import Path
from typing import Any

import numpy as np

from simulator.locust.plan import EngineJob, plan_storm, read_plan_columns, share_positions
from simulator.replay.engine import ReplayOptions, replay
from simulator.replay.source import load
from simulator.replay.targets import Target, TargetOptions, make_target
from simulator.replay.workers import new_event_loop
from simulator.safety import check_target
from simulator.schedule.io import read_rendering
from simulator.traffic.frames import encode_frame, report_of, rows_of
from simulator.traffic.record import Recorder
from simulator.validation import InputError

EXIT_REFUSED = 2


@dataclasses.dataclass
class Prepared:
    events: Any  # the share's events in send order (`simulator.replay.source.load`)
    workforce: Any  # the employees they name
    offsets: Any  # when each is due, us from the common start
    target: Target
    options: ReplayOptions


def prepare(job: EngineJob) -> Prepared:
    """Read and check everything the share needs; an InputError when it cannot run."""
    check_target(job.target, job.allow_remote, "--host")
    schedule = Path(job.schedule)
    plan = plan_storm(read_plan_columns(schedule), job.speedup, job.max_events)
    share = job.share
    if plan.fingerprint != share.fingerprint:
        raise InputError(
            job.schedule, "(fingerprint)", plan.fingerprint,
            f"this worker's schedule differs from the master's ({share.fingerprint})",
        )  # fmt: skip
    positions = share_positions(len(plan.offsets_us), share)
    loaded = load(schedule, Path(job.workforce), job.speedup, job.max_events, None, positions)
    rendering = read_rendering(schedule)
    secret = None if job.token_secret is None else Path(job.token_secret)
    connection = TargetOptions(
        timeout_s=job.timeout_s, token_secret=secret, allow_remote=job.allow_remote
    )
    target = make_target(job.target, connection)
    options = ReplayOptions(
        speedup=job.speedup,
        concurrency=max(1, share.concurrency),
        max_events=job.max_events,
        max_duration_s=job.max_duration_s,
        drop_after_s=job.drop_after_s,
        late_after_ms=job.late_after_ms,
        grace_s=job.grace_s,
        collections=dict(job.collections),
        seed=rendering.seed,
        html_share=rendering.html_share,
        start_at_epoch=share.start_at,
    )
    return Prepared(loaded.events, loaded.workforce, loaded.offsets, target, options)


class Stream:
    """The child's stdout as a non-blocking pipe of frames, fed from a `Recorder`."""

    def __init__(self, transport: asyncio.WriteTransport, late_after_ms: float) -> None:
        self.transport = transport
        self.late_after_us = int(late_after_ms * 1000)
        self.rec: Recorder | None = None
        self.reported = 0

    def on_start(self, rec: Recorder, _start: float) -> None:
        self.rec = rec

    def flush(self, final: bool = False, **flags: Any) -> None:
        """Write the rows finished since the last flush (a final frame even if none)."""
        rec = self.rec
        if rec is None:
            return
        done = rec.finished
        positions = rec.finish_order[self.reported : done].copy()
        self.reported = done
        if len(positions) or final:
            rows = rows_of(rec, positions.astype(np.int64), self.late_after_us)
            self.transport.write(encode_frame(report_of(rows, final=final, **flags)))

    async def close(self) -> None:
        while self.transport.get_write_buffer_size() and not self.transport.is_closing():
            await asyncio.sleep(0.01)
        self.transport.close()


async def stream_share(prepared: Prepared, out: Any, flush_s: float, stopped: bool) -> None:
    loop = asyncio.get_running_loop()
    transport, _ = await loop.connect_write_pipe(asyncio.Protocol, out)
    stream = Stream(transport, prepared.options.late_after_ms)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGINT, stop.set)
    if stopped:
        stop.set()
    options = dataclasses.replace(prepared.options, stop=stop, on_start=stream.on_start)

    parent = os.getppid()

    async def flusher() -> None:
        while True:
            await asyncio.sleep(flush_s)
            stream.flush()
            if os.getppid() != parent:  # the Locust process is gone: nobody reads the rows
                stop.set()

    task = asyncio.create_task(flusher())
    try:
        result = await replay(
            prepared.events, prepared.workforce, prepared.target, options, prepared.offsets
        )
    finally:
        task.cancel()
    stream.flush(final=True, interrupted=result.interrupted)
    await stream.close()


def main() -> int:
    out = os.fdopen(os.dup(1), "wb", buffering=0)  # frames only; prints go to stderr
    os.dup2(2, 1)
    stopped: list[int] = []
    signal.signal(signal.SIGINT, lambda *_: stopped.append(1))  # until the loop runs
    job = EngineJob.from_json(sys.stdin.read())
    try:
        prepared = prepare(job)
    except InputError as err:
        out.write(encode_frame({"refused": str(err), "final": True, "count": 0}))
        return EXIT_REFUSED
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        runner.run(stream_share(prepared, out, job.flush_s, bool(stopped)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
