"""Small WORKFORCE and SCHEDULE tables for replay tests (built directly, no generator)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from simulator.columns import NO_ID, SCHEDULE, WORKFORCE


def _dict(values: list[str]) -> pa.DictionaryArray:
    return pa.array(values).dictionary_encode().cast(pa.dictionary(pa.int16(), pa.string()))


def workforce(n: int) -> pa.Table:
    ids = np.arange(n, dtype=np.int32)
    managers = np.where(ids == 0, NO_ID, (ids - 1) // 4).astype(np.int32)
    cols = {
        "employee_id": pa.array(ids),
        "department": _dict(["DHS"] * n),
        "subagency": _dict(["TSA"] * n),
        "occupation": _dict(["admin"] * n),
        "grade": pa.array(np.full(n, 12, np.int8)),
        "pay": pa.array(np.full(n, 90000, np.float32)),
        "hourly_cost": pa.array(np.full(n, 60, np.float32)),
        "is_supervisor": pa.array(np.zeros(n, bool)),
        "manager_id": pa.array(managers),
        "depth": pa.array(np.zeros(n, np.int8)),
        "duty_state": _dict(["VA"] * n),
        "tz": _dict(["America/New_York"] * n),
        "first_name": pa.array([f"First{i}" for i in range(n)]),
        "last_name": pa.array([f"Last{i}" for i in range(n)]),
        "email": pa.array([f"user{i}@dhs.example" for i in range(n)]),
        "is_contractor": pa.array(np.zeros(n, bool)),
        "is_away": pa.array(np.zeros(n, bool)),
        "is_stale": pa.array(np.zeros(n, bool)),
        "is_sensitive": pa.array(np.zeros(n, bool)),
    }
    return pa.Table.from_pydict(cols, schema=WORKFORCE)


def schedule(
    kinds: list[str],
    gap_us: int = 1000,
    sender: list[int] | None = None,
    rcpt_first: list[int] | None = None,
    rcpt_count: list[int] | None = None,
    cc: list[int] | None = None,
    collection: str = "opm",
    size: int = 600,
) -> pa.Table:
    """One event per kind, `gap_us` apart (real time), replies from employees 1.."""
    n = len(kinds)
    t0 = 1_740_240_000_000_000  # 2025-02-22 16:00 UTC in microseconds
    is_bcast = [k == "broadcast" for k in kinds]
    sender = sender or [NO_ID if b else i + 1 for i, b in enumerate(is_bcast)]
    rcpt_first = rcpt_first or [0 if b else NO_ID for b in is_bcast]
    rcpt_count = rcpt_count or [1 if k != "reply" else 2 for k in kinds]
    cc = cc or [0 if k == "reply" else NO_ID for k in kinds]
    cols = {
        "event_id": pa.array(np.arange(n, dtype=np.int64)),
        "t_intended": pa.array(t0 + np.arange(n, dtype=np.int64) * gap_us).cast(
            pa.timestamp("us", tz="UTC")
        ),
        "round": _dict(["1"] * n),
        "kind": _dict(kinds),
        "sender_id": pa.array(sender, pa.int32()),
        "rcpt_first": pa.array(rcpt_first, pa.int32()),
        "rcpt_count": pa.array(rcpt_count, pa.int32()),
        "collection": _dict([collection if k == "reply" else "" for k in kinds]),
        "cc_id": pa.array(cc, pa.int32()),
        "agency": _dict(["DHS"] * n),
        "content": _dict(["bullets" if k == "reply" else "broadcast" for k in kinds]),
        "violation": _dict([""] * n),
        "size_bytes": pa.array(np.full(n, size, np.int32)),
    }
    return pa.Table.from_pydict(cols, schema=SCHEDULE)
