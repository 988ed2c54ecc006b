"""What a storm sends, and which worker sends what: pure functions on schedule columns.

Theory of operation: a storm sends what `pulsecheck replay` sends for the same target:
the schedule's first `max_events` rows (all by default), in intended-time order, each
due at its offset from the first event compressed by the speedup, as the one definition
of a run's rows, `pacer.send_order`, picks them. Worker k of n sends positions
k, k+n, k+2n... (`pacer.split_for_workers`), so the shares are disjoint, cover every
event, and each keeps an even rate; each share's concurrency is that worker's part of
the master's user count, split as Locust splits users. A fingerprint of the planned
events lets a worker on another machine prove it read the same schedule as the master.

An `EngineJob` is everything a worker's engine process (`simulator.app.storm_share`)
needs to replay its share, as plain JSON: file paths, the target URL, pacing numbers and
the share; no secret (the token secret goes as its file's path).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from simulator.tables import read_stage
from simulator.traffic.pacer import send_order, split_for_workers

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
    """What the master tells one worker: its slot, the worker count, the start, and how
    many concurrent connections (its users) its engine opens."""

    index: int
    count: int
    start_at: float  # wall-clock epoch seconds of offset 0
    fingerprint: str
    concurrency: int = 1

    def as_message(self) -> dict[str, object]:
        return asdict(self)

    @staticmethod
    def from_message(data: Mapping[str, object]) -> Share:
        return Share(
            int(str(data["index"])),
            int(str(data["count"])),
            float(str(data["start_at"])),
            str(data["fingerprint"]),
            int(str(data.get("concurrency", 1))),
        )


@dataclass(frozen=True)
class EngineJob:
    """One share for the native engine, as the worker hands it to its engine process."""

    schedule: str
    workforce: str
    target: str  # URL, path included (http) ; checked for loopback again by the engine
    share: Share
    speedup: float
    max_events: int | None
    max_duration_s: float
    drop_after_s: float
    late_after_ms: float
    timeout_s: float = 30.0
    token_secret: str | None = None  # path of the token secret file
    allow_remote: bool = False
    collections: dict[str, str] = field(default_factory=dict)
    grace_s: float = 10.0  # time in-flight sends get after a stop
    flush_s: float = 3.0  # how often finished rows are reported: as Locust reports to its master

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @staticmethod
    def from_json(text: str) -> EngineJob:
        data = json.loads(text)
        data["share"] = Share.from_message(data["share"])
        return EngineJob(**data)


def plan_storm(schedule: pa.Table, speedup: float, max_events: int | None) -> StormPlan:
    """The events `pulsecheck replay` would send (`pacer.send_order`: its rows, its order,
    its offsets). `schedule` needs only the `event_id` and `t_intended` columns."""
    t_us = schedule.column("t_intended").cast(pa.int64()).to_numpy()
    rows, offsets = send_order(t_us, speedup, max_events)
    events = schedule.take(pa.array(rows))
    return StormPlan(events, offsets, fingerprint(events.column("event_id").to_numpy(), offsets))


def fingerprint(event_ids: I64, offsets_us: I64) -> str:
    """A short digest of which events are due when (same schedule and speedup, same hex)."""
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(event_ids, dtype=np.int64).tobytes())
    digest.update(np.ascontiguousarray(offsets_us, dtype=np.int64).tobytes())
    return digest.hexdigest()[:16]


def share_positions(n_events: int, share: Share) -> I64:
    """Positions (into the plan) that one worker sends."""
    return split_for_workers(n_events, share.count)[share.index]


def split_users(users: int, workers: int) -> list[int]:
    """Users per worker as Locust spreads them (the first ones get the remainder), at
    least one each: a worker's engine needs a connection to send anything."""
    return [max(1, users // workers + (k < users % workers)) for k in range(workers)]


def assign_shares(
    client_ids: Sequence[str], start_at: float, plan_fingerprint: str, users: int = 1
) -> dict[str, Share]:
    """One share per worker, in a stable order of the worker ids."""
    ordered = sorted(client_ids)
    per_worker = split_users(users, len(ordered)) if ordered else []
    return {
        cid: Share(k, len(ordered), start_at, plan_fingerprint, per_worker[k])
        for k, cid in enumerate(ordered)
    }


# -- the one IO adapter: the columns a plan reads -----------------------------------------
def read_plan_columns(schedule: Path) -> pa.Table:
    """The schedule's columns a plan needs: which events, and when."""
    return read_stage(schedule, "schedule", ["event_id", "t_intended"])
