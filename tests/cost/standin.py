"""A stand-in round-1 schedule for CLI tests and the benchmark, built from a workforce.

It is not the behaviour model (that is `simulator.schedule`): replies come from a fixed
share of the staff who are present, after a log-normal delay (median 47 minutes, Kooti et
al., WWW 2015) clipped to the 55-hour window; out-of-office replies from 30% of
those away; a bounce for each stale address. It only has to have the SCHEDULE columns and
plausible counts, so cost and capacity code can be exercised end to end.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from simulator.columns import NO_ID, SCHEDULE

SEND_US = 1_740_259_800_000_000  # 2025-02-22 16:30 ET (21:30 UTC)
WINDOW_US = 55 * 3600 * 1_000_000
MINUTE_US = 60 * 1_000_000


def _dict(values: list[str] | np.ndarray) -> pa.DictionaryArray:
    return pa.array(values).dictionary_encode().cast(pa.dictionary(pa.int16(), pa.string()))


def standin_schedule(workforce: pa.Table, reply_share: float = 0.45, seed: int = 1) -> pa.Table:
    rng = np.random.default_rng(seed)
    n = workforce.num_rows
    away = workforce.column("is_away").to_numpy(zero_copy_only=False).astype(bool)
    stale = workforce.column("is_stale").to_numpy(zero_copy_only=False).astype(bool)
    manager = workforce.column("manager_id").to_numpy().astype(np.int64)
    present = np.flatnonzero(~away & ~stale)
    repliers = present[rng.random(len(present)) < reply_share]
    auto = np.flatnonzero(away & (rng.random(n) < 0.3))
    bounced = np.flatnonzero(stale)
    first = np.arange(0, n, 500)
    delay = np.minimum(rng.lognormal(np.log(47 * MINUTE_US), 2.0, len(repliers)), WINDOW_US - 1)
    parts = {
        "kind": ["broadcast"] * len(first)
        + ["reply"] * len(repliers)
        + ["auto_reply"] * len(auto)
        + ["bounce"] * len(bounced),
        "t": np.concatenate(
            [
                SEND_US + rng.integers(0, 18 * MINUTE_US, len(first)),
                SEND_US + delay.astype(np.int64),
                SEND_US + rng.integers(MINUTE_US, 5 * MINUTE_US, len(auto)),
                SEND_US + rng.integers(MINUTE_US, 20 * MINUTE_US, len(bounced)),
            ]
        ),
        "sender": np.concatenate(
            [np.full(len(first), NO_ID), repliers, auto, np.full(len(bounced), NO_ID)]
        ),
        "rcpt_first": np.concatenate([first, np.full(len(repliers) + len(auto), NO_ID), bounced]),
        "rcpt_count": np.concatenate(
            [
                np.minimum(500, n - first),
                1 + (manager[repliers] != NO_ID),
                np.ones(len(auto) + len(bounced), np.int64),
            ]
        ),
        "cc": np.concatenate(
            [
                np.full(len(first), NO_ID),
                manager[repliers],
                np.full(len(auto) + len(bounced), NO_ID),
            ]
        ),
        "size": np.concatenate(
            [
                np.full(len(first), 3000),
                rng.integers(1500, 6000, len(repliers)),
                np.full(len(auto), 1800),
                np.full(len(bounced), 2500),
            ]
        ),
    }
    order = np.argsort(parts["t"], kind="stable")
    kinds = np.array(parts["kind"])[order]
    m = len(order)
    cols = {
        "event_id": pa.array(np.arange(m, dtype=np.int64)),
        "t_intended": pa.array(parts["t"][order], pa.int64()).cast(pa.timestamp("us", tz="UTC")),
        "round": _dict(["r1"] * m),
        "kind": _dict(kinds),
        "sender_id": pa.array(parts["sender"][order], pa.int32()),
        "rcpt_first": pa.array(parts["rcpt_first"][order], pa.int32()),
        "rcpt_count": pa.array(parts["rcpt_count"][order], pa.int32()),
        "collection": _dict(np.where(kinds == "broadcast", "", "opm-hr")),
        "cc_id": pa.array(parts["cc"][order], pa.int32()),
        "agency": _dict(["OPM"] * m),
        "content": _dict(np.where(kinds == "reply", "bullets", kinds)),
        "violation": _dict([""] * m),
        "size_bytes": pa.array(parts["size"][order], pa.int32()),
    }
    return pa.Table.from_pydict(cols, schema=SCHEDULE)
