"""The open-loop replay loop: send each event at its intended time, record what happened.

Theory of operation: `concurrency` worker coroutines each own one `Session` (one
connection). A worker claims the next event in intended-time order, sleeps until that
event is due (compressed by the speedup), sends it, waits for the answer and records it,
then claims the next. Claims run in event order, so the target prepares (renders) events
`BATCH` at a time as the claims reach them, ahead of their send times. A session that
pipelines (SMTP) may take the next event along if it is already due, sending its first
commands in the same write as the current message; the worker then delivers that event
next (see `_Lane`). Events are never delayed by the answers to earlier ones except
through the concurrency cap; when every worker is busy, events go out late, the lag is
recorded, and latency is measured from the intended time (wrk2's correction for
coordinated omission). An event that cannot start within `drop_after_s` of its intended
time, or is due after `max_duration_s`, or is still waiting when the run stops, is
recorded as dropped with a reason; nothing is skipped silently.

A `window` (`simulator.schedule.window`) keeps only a stretch of the sorted events, and
the run's clock starts at its first event; worker `positions` index into that stretch.
`pacer.send_order` is that choice; `simulator.replay.source.load` makes it from the
`t_intended` column alone and reads only the chosen rows and the employees they name,
so a replay holds the events it sends, not the round.

Nothing holds every prepared message: `_Run` keeps one prepared batch (`BATCH` events,
rendered when the first claim reaches it and dropped when the next batch replaces it),
plus the messages workers hold in flight. What grows with the run is the `Recorder`'s
per-event columns (a few numbers per event) and the result table built from them.

Temporary failures (HTTP Retry-After, SMTP 4xx) are retried on the same connection up to
`retries` times, honouring the server's delay up to `retry_cap_s`. A stop request (Ctrl-C)
stops claiming events, gives in-flight deliveries `grace_s` to finish, and returns what
was recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
from hdrh.histogram import HdrHistogram

from simulator.replay.targets import Session, Target
from simulator.traffic.outcomes import ERROR, TIMEOUT, Outcome, settled
from simulator.traffic.pacer import send_order
from simulator.traffic.payload import BROADCAST_SENDER, Payload
from simulator.traffic.record import Recorder, build_histograms, summarize

I64 = npt.NDArray[np.int64]


@dataclass
class ReplayOptions:
    """How to replay: pace, bounds, retries, routing. Plain values, no scenario needed."""

    speedup: float = 1.0
    concurrency: int = 64
    max_events: int | None = None
    max_duration_s: float | None = 600.0
    retries: int = 3
    retry_cap_s: float = 5.0  # longest Retry-After honoured
    drop_after_s: float = 10.0  # an event this far behind schedule is dropped, not sent
    late_after_ms: float = 10.0  # an ok event sent this far behind schedule counts as late
    grace_s: float = 10.0  # time in-flight deliveries get after a stop or the last event
    collections: Mapping[str, str] = field(default_factory=dict)
    broadcast_sender: str = BROADCAST_SENDER
    seed: int = 0  # content seed: the schedule's, so bodies match the sizes it holds
    html_share: float = 0.0  # share of replies rendered as HTML (the schedule's)
    start_at_epoch: float | None = None  # common wall-clock start, for worker processes
    positions: I64 | None = None  # run only these event positions (worker processes)
    window: tuple[int, int] | None = None  # positions [first, stop) in intended-time order
    stop: asyncio.Event | None = None  # set it to stop cleanly (Ctrl-C)
    on_start: Callable[[Recorder, float], None] | None = None  # live display hook


@dataclass
class ReplayResult:
    """What a replay produced; `record.write_run` puts it on disk."""

    results: pa.Table
    corrected: HdrHistogram
    uncorrected: HdrHistogram
    summary: dict[str, Any]
    interrupted: bool


BATCH = 128  # events prepared (rendered) together; a batch takes ~1 ms, claimed in order


class _Run:
    """Shared state of one replay: the claim cursor, prepared batch, clock and stop flag."""

    def __init__(
        self, target: Target, payload: Payload, offsets: I64, rec: Recorder, opts: ReplayOptions
    ) -> None:
        self.target = target
        self.payload = payload
        self.offsets_s = (offsets / 1e6).tolist()  # floats: cheap to compare in the hot loop
        self.rec = rec
        self.opts = opts
        limit = opts.max_duration_s
        self.runnable = len(offsets)
        if limit is not None:  # events due after the time limit are never claimed
            self.runnable = int(np.searchsorted(offsets, limit * 1e6, "right"))
        self.cursor = 0
        self.batch: Sequence[Any] = ()
        self.batch_start = 0
        self.start = 0.0
        self.stopping = False
        self.in_flight: set[asyncio.Task[None]] = set()

    def us(self, t: float) -> int:
        return int((t - self.start) * 1_000_000)

    def message(self, i: int) -> Any:
        """Event `i` prepared for the target. Events are claimed in order, so batches
        only move forward: a claim past the batch prepares the next one."""
        k = i - self.batch_start
        if k >= len(self.batch):
            self.batch = self.target.prepare(self.payload, i, min(i + BATCH, self.runnable))
            self.batch_start, k = i, 0
        return self.batch[k]

    async def claim(self) -> _Job | None:
        """The next event, once it is due (None when there are no more or on a stop)."""
        while not self.stopping and self.cursor < self.runnable:
            i = self.cursor
            self.cursor = i + 1
            message = self.message(i)
            due = self.start + self.offsets_s[i]
            delay = due - _now()
            while delay > 0:  # timers may fire early; a stop cancels this sleep
                await asyncio.sleep(delay)
                delay = due - _now()
            if job := self._start(i, message, due):
                return job
        return None

    def claim_due(self) -> _Job | None:
        """The next event if it is due already (else None), claimed and started now."""
        while not self.stopping and self.cursor < self.runnable:
            i = self.cursor
            due = self.start + self.offsets_s[i]
            if due > _now():
                return None
            self.cursor = i + 1
            if job := self._start(i, self.message(i), due):
                return job
        return None

    def _start(self, i: int, message: Any, due: float) -> _Job | None:
        """Mark event `i` sent now, or dropped when it is too far behind schedule."""
        now = _now()
        if now - due > self.opts.drop_after_s:
            self.rec.drop(i, "behind schedule")
            return None
        self.rec.mark_sent(i, self.us(now))
        return _Job(i, message)

    async def worker(self, session: Session) -> None:
        lane = _Lane(self, session)
        me = asyncio.current_task()
        assert me is not None
        try:
            while (job := lane.next() or await self.claim()) is not None:
                self.in_flight.add(me)
                await lane.send(job)
                if not lane.queue:
                    self.in_flight.discard(me)
        finally:
            await session.close()


class _Job:
    """An event a worker has claimed: its message and how often it was tried."""

    __slots__ = ("i", "message", "not_before", "retries")

    def __init__(self, i: int, message: Any) -> None:
        self.i = i
        self.message = message
        self.retries = 0
        self.not_before = 0.0  # a retry waits out the server's delay


class _Lane:
    """One worker's connection and the events it holds, in the order they must go.

    A session that pipelines (SMTP with PIPELINING) may ask, just before the last write
    of a message, for the next event if one is already due (`follow`); its first commands
    then ride in the same write, and that event is delivered next on this connection. A
    retry waits behind such an event, since the server has its commands already.
    """

    def __init__(self, run: _Run, session: Session) -> None:
        self.run = run
        self.session = session
        self.queue: deque[_Job] = deque()

    def next(self) -> _Job | None:
        return self.queue.popleft() if self.queue else None

    def follow(self) -> Any:
        if self.queue:
            return None
        job = self.run.claim_due()
        if job is None:
            return None
        self.queue.append(job)
        return job.message

    async def send(self, job: _Job) -> None:
        run = self.run
        if job.not_before:
            await asyncio.sleep(max(0.0, job.not_before - _now()))
        out = await _deliver(self.session, job.message, self.follow)
        if out.retry_after is not None and job.retries < run.opts.retries and not run.stopping:
            job.retries += 1
            job.not_before = _now() + min(out.retry_after, run.opts.retry_cap_s)
            self.queue.append(job)
            return
        run.rec.finish(job.i, run.us(_now()), settled(out), job.retries)


_now = time.monotonic  # the loop's own clock may tick in whole milliseconds (uvloop)


async def _deliver(session: Session, message: Any, follow: Callable[[], Any]) -> Outcome:
    try:
        return await session.deliver(message, follow)
    except TimeoutError:
        return Outcome(0, TIMEOUT, 0, "timeout")
    except OSError as err:
        return Outcome(0, ERROR, 0, f"{type(err).__name__}")


async def replay(
    events: pa.Table,
    workforce: pa.Table,
    target: Target,
    options: ReplayOptions,
    offsets: I64 | None = None,
) -> ReplayResult:
    """Replay `events` (columns.SCHEDULE) open-loop against `target`: the rows
    `pacer.send_order` picks from them, or, given their `offsets`, `events` as they are
    (already picked and in send order, as `simulator.replay.source.load` reads them)."""
    if offsets is None:
        t_us = events.column("t_intended").cast(pa.int64()).to_numpy()
        rows, offsets = send_order(
            t_us, options.speedup, options.max_events, options.window, options.positions
        )
        events = events.take(pa.array(rows))
    payload = Payload(
        events,
        workforce,
        options.collections,
        options.broadcast_sender,
        options.seed,
        options.html_share,
    )
    rec = Recorder(payload.event_id.astype(np.int64), offsets)
    run = _Run(target, payload, offsets, rec, options)
    started_wall = time.time()
    try:
        interrupted = await _drive(run)
    finally:
        await target.aclose()
    ended_wall = time.time()
    rec.drop_pending("stopped" if interrupted else "due after max_duration")
    late_us = int(options.late_after_ms * 1000)
    results = rec.table(late_us)
    corrected, uncorrected = build_histograms(results)
    meta = {
        "target": target.description,
        "speedup": options.speedup,
        "concurrency": options.concurrency,
        "start": started_wall,
        "end": ended_wall,
        "duration_s": ended_wall - started_wall,
        "interrupted": interrupted,
        "late_after_ms": options.late_after_ms,
        "drop_after_s": options.drop_after_s,
    }
    summary = summarize(results, corrected, uncorrected, meta)
    return ReplayResult(results, corrected, uncorrected, summary, interrupted)


def _start_time(opts: ReplayOptions) -> float:
    if opts.start_at_epoch is None:
        return _now() + 0.05
    return _now() + max(0.0, opts.start_at_epoch - time.time())


async def _drive(run: _Run) -> bool:
    """Run the workers to the end or to a stop; True when stopped early."""
    count = max(1, run.opts.concurrency)
    sessions = await asyncio.gather(*(run.target.open() for _ in range(count)))
    run.start = _start_time(run.opts)
    if run.opts.on_start is not None:
        run.opts.on_start(run.rec, run.start)
    workers = [asyncio.create_task(run.worker(session)) for session in sessions]
    everything = asyncio.gather(*workers, return_exceptions=True)
    stop = run.opts.stop
    stop_wait = asyncio.ensure_future(stop.wait()) if stop is not None else None
    pending: set[asyncio.Future[Any]] = {everything}
    if stop_wait is not None:
        pending.add(stop_wait)
    limit = run.opts.max_duration_s
    hard_limit = None if limit is None else limit + run.opts.grace_s + 0.1
    await asyncio.wait(pending, timeout=hard_limit, return_when=asyncio.FIRST_COMPLETED)
    interrupted = not everything.done()
    if interrupted:
        run.stopping = True
        for task in workers:
            if task not in run.in_flight:
                task.cancel()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(everything), run.opts.grace_s)
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
    if stop_wait is not None:
        stop_wait.cancel()
    for result in everything.result() if everything.done() and not everything.cancelled() else []:
        if isinstance(result, Exception):
            raise result
    return interrupted
