"""What a storm sends, and which worker sends what: pure functions on schedule columns.

Theory of operation: the storm keeps the schedule's events of the kinds its channel
carries (the HTTP API takes replies only; SMTP takes every kind), in intended-time order,
up to `max_events`. Each kept event is due at its offset from the schedule's first event,
compressed by the speedup, exactly as in the native engine (`traffic.pacer`). Worker k of
n sends positions k, k+n, k+2n... (`pacer.split_for_workers`), so the shares are disjoint,
cover every event, and each keeps an even rate. A fingerprint of the kept events lets a
worker on another machine prove it read the same schedule as the master.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from simulator.traffic.pacer import intended_offsets_us, split_for_workers

I64 = npt.NDArray[np.int64]


@dataclass(frozen=True)
class StormPlan:
    """The events a storm sends (intended order) and when each is due, in us."""

    events: pa.Table
    offsets_us: I64
    fingerprint: str

    @property
    def event_ids(self) -> I64:
        ids: I64 = self.events.column("event_id").to_numpy().astype(np.int64)
        return ids


@dataclass(frozen=True)
class Share:
    """What the master tells one worker: its slot, the worker count and the start."""

    index: int
    count: int
    start_at: float  # wall-clock epoch seconds of offset 0
    fingerprint: str

    def as_message(self) -> dict[str, object]:
        return {
            "index": self.index,
            "count": self.count,
            "start_at": self.start_at,
            "fingerprint": self.fingerprint,
        }

    @staticmethod
    def from_message(data: dict[str, object]) -> Share:
        return Share(
            int(str(data["index"])),
            int(str(data["count"])),
            float(str(data["start_at"])),
            str(data["fingerprint"]),
        )


def plan_storm(
    schedule: pa.Table, speedup: float, kinds: Sequence[str] | None, max_events: int | None
) -> StormPlan:
    """Keep the events of `kinds` (None: all), in intended order, with compressed offsets."""
    schedule = schedule.sort_by([("t_intended", "ascending"), ("event_id", "ascending")])
    t_us = schedule.column("t_intended").cast(pa.int64()).to_numpy()
    offsets = intended_offsets_us(t_us, speedup)  # from the schedule's first event
    keep = np.ones(schedule.num_rows, dtype=bool)
    if kinds is not None:
        kind = pc.cast(schedule.column("kind"), pa.string())
        keep = pc.is_in(kind, value_set=pa.array(list(kinds))).to_numpy(zero_copy_only=False)
    rows = np.flatnonzero(keep)[: max_events if max_events is not None else None]
    events = schedule.take(pa.array(rows))
    kept = offsets[rows]
    return StormPlan(events, kept, fingerprint(events.column("event_id").to_numpy(), kept))


def fingerprint(event_ids: I64, offsets_us: I64) -> str:
    """A short digest of which events are due when (same schedule and speedup, same hex)."""
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(event_ids, dtype=np.int64).tobytes())
    digest.update(np.ascontiguousarray(offsets_us, dtype=np.int64).tobytes())
    return digest.hexdigest()[:16]


def share_positions(n_events: int, share: Share) -> I64:
    """Positions (into the plan) that one worker sends."""
    return split_for_workers(n_events, share.count)[share.index]


def assign_shares(
    client_ids: Sequence[str], start_at: float, plan_fingerprint: str
) -> dict[str, Share]:
    """One share per worker, in a stable order of the worker ids."""
    ordered = sorted(client_ids)
    return {
        cid: Share(k, len(ordered), start_at, plan_fingerprint) for k, cid in enumerate(ordered)
    }


# -- the one IO adapter: reading the two tables ------------------------------------------
