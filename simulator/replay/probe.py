"""A short closed-loop capacity probe of a target, for `--speedup auto`.

Theory of operation: the probe sends real rendered events from the schedule (those it is
given, in intended-time order: `simulator.app.replaying` gives rows evenly spaced
through what the run sends, so that a window of replies is probed with replies and a
whole round with its broadcast and replies in their shares) through the same
`Target`/`Session` seam the replay engine uses, in steps of rising concurrency (`STEPS`:
1, 4, 16, 64 sessions). In each step every session sends its next event as soon as the
last one was answered (closed loop, no pacing), for at most `step_s` seconds or until
the step's events run out; answers still outstanding `STEP_GRACE_S` later are abandoned
(their sessions closed); acknowledgements per second of each step are recorded, and the
capacity is the best step's rate (`simulator.traffic.autospeed.best_rate`). Each step
sends at most `max_events / len(steps)` events, the same first events each time, so a
small schedule still feeds every step. The whole probe is bounded: `max_events` events
in all and `len(steps) * (step_s + STEP_GRACE_S)` seconds, and a first step acknowledged
for nothing ends the ramp at once.

Probe messages must not count as the run's, nor as one another's: step k renders with
content seed `probe_seed(seed) + k`, so its Message-IDs (`<event.seed@...>`) and
idempotency keys (`seed-event`) differ from the replay's and from the other steps', and
a store check by the run's seed ignores them; the embedded reference system is probed
in a throwaway store of its own (`simulator.app.mass_reply`). A target that
acknowledges nothing is an InputError naming `--speedup`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import pyarrow as pa

from simulator.replay.targets import Session, Target
from simulator.traffic.autospeed import ProbeStep
from simulator.traffic.outcomes import OK
from simulator.traffic.payload import BROADCAST_SENDER, Payload
from simulator.validation import InputError

STEPS = (1, 4, 16, 64)  # sessions in each step of the ramp
STEP_S = 3.0  # sending time of one step
STEP_GRACE_S = 0.75  # then answers in flight get this long: 4 steps x 3.75 s = 15 s at most
MAX_PROBE_EVENTS = 20_000  # events the probe may send in all
PROBE_SEED_OFFSET = 1_000_003  # step k's content seed = run seed + this + k


def probe_seed(seed: int) -> int:
    """The content seed of probe messages: not the run's, so its store check skips them."""
    return seed + PROBE_SEED_OFFSET


@dataclass(frozen=True)
class ProbeOptions:
    steps: Sequence[int] = STEPS
    step_s: float = STEP_S
    max_events: int = MAX_PROBE_EVENTS
    seed: int = 0  # the run's content seed; the probe renders with probe_seed(seed)
    html_share: float = 0.0
    collections: dict[str, str] = field(default_factory=dict)
    broadcast_sender: str = BROADCAST_SENDER
    source: str = "command line"  # where --speedup auto was asked for, for errors
    field: str = "--speedup"


async def probe(
    events: pa.Table, workforce: pa.Table, target: Target, options: ProbeOptions
) -> list[ProbeStep]:
    """Probe `target` with the first events of `events` (columns.SCHEDULE), in intended
    time order; the steps measured. Raises InputError when the target acknowledged none."""
    per_step = max(1, options.max_events // max(1, len(options.steps)))
    events = events.sort_by("t_intended").slice(0, per_step)
    steps: list[ProbeStep] = []
    errors: list[str] = []
    try:
        for k, connections in enumerate(options.steps):
            payload = Payload(
                events,
                workforce,
                options.collections,
                options.broadcast_sender,
                probe_seed(options.seed) + k,
                options.html_share,
            )
            messages = list(target.prepare(payload, 0, events.num_rows))
            steps.append(await _step(target, messages, connections, options, errors))
            if not steps[0].acknowledged:
                break  # nothing answered one session: more sessions will not help
    finally:
        await target.aclose()
    if not any(step.acknowledged for step in steps):
        why = f" ({errors[0]})" if errors else ""
        raise InputError(
            options.source,
            options.field,
            "auto",
            f"the capacity probe of {target.description} was acknowledged for none of "
            f"{sum(s.sent for s in steps)} events{why}; is the target up?",
        )
    return steps


async def _step(
    target: Target,
    messages: list[object],
    connections: int,
    options: ProbeOptions,
    errors: list[str],
) -> ProbeStep:
    """One step: `connections` sessions in a closed loop over `messages`."""
    next_i = 0
    sent = acked = 0
    start = time.monotonic()
    deadline = start + options.step_s

    async def loop() -> None:
        nonlocal next_i, sent, acked
        try:
            session: Session = await target.open()
        except OSError as err:
            errors.append(f"{type(err).__name__}: {err}")
            return
        try:
            while next_i < len(messages) and time.monotonic() < deadline:
                message = messages[next_i]
                next_i += 1
                sent += 1
                try:
                    out = await session.deliver(message, None)
                except (OSError, TimeoutError) as err:
                    errors.append(type(err).__name__)
                    return
                if out.outcome == OK:
                    acked += 1
                elif out.error:
                    errors.append(out.error)
        finally:
            await session.close()

    tasks = [asyncio.create_task(loop()) for _ in range(connections)]
    _, late = await asyncio.wait(tasks, timeout=options.step_s + STEP_GRACE_S)
    for task in late:
        task.cancel()
    if late:
        errors.append(f"{len(late)} session(s) still waiting for an answer")
    await asyncio.gather(*tasks, return_exceptions=True)
    return ProbeStep(connections, sent, acked, time.monotonic() - start)
