"""A tiny hand-made workforce and schedule whose costs are easy to work out by hand.

Employees (id: hourly cost, state):
  0: $100, the manager of everyone else     3: $60, away (sends an out-of-office reply)
  1: $50, replies with 0 in cc              4: $30, stale address (the broadcast bounces)
  2: $40, replies with 0 in cc              5: $80, reads it and does not reply
  0 also replies, with nobody in cc.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from simulator.columns import NO_ID, SCHEDULE, WORKFORCE

T0_US = 1_740_245_400_000_000  # 2025-02-22 17:30 UTC
HOURLY = [100.0, 50.0, 40.0, 60.0, 30.0, 80.0]
AWAY = [False, False, False, True, False, False]
STALE = [False, False, False, False, True, False]

# kind, sender, rcpt_first, rcpt_count, cc, size_bytes, seconds after T0
EVENTS = [
    ("broadcast", NO_ID, 0, 6, NO_ID, 3000, -60),
    ("reply", 1, NO_ID, 2, 0, 2000, 0),
    ("bounce", NO_ID, 4, 1, NO_ID, 800, 5),
    ("reply", 2, NO_ID, 2, 0, 4000, 30),
    ("reply", 0, NO_ID, 1, NO_ID, 1000, 90),
    ("auto_reply", 3, NO_ID, 1, NO_ID, 500, 100),
]


def _dict(values: list[str]) -> pa.DictionaryArray:
    return pa.array(values).dictionary_encode().cast(pa.dictionary(pa.int16(), pa.string()))


def workforce() -> pa.Table:
    n = len(HOURLY)
    ids = np.arange(n, dtype=np.int32)
    cols = {
        "employee_id": pa.array(ids),
        "department": _dict(["OPM"] * n),
        "subagency": _dict(["OPM-HQ"] * n),
        "occupation": _dict(["admin"] * n),
        "grade": pa.array(np.full(n, 12, np.int8)),
        "pay": pa.array(np.full(n, 90000, np.float32)),
        "hourly_cost": pa.array(np.array(HOURLY, np.float32)),
        "is_supervisor": pa.array(ids == 0),
        "manager_id": pa.array(np.where(ids == 0, NO_ID, 0).astype(np.int32)),
        "depth": pa.array((ids != 0).astype(np.int8)),
        "duty_state": _dict(["DC"] * n),
        "tz": _dict(["America/New_York"] * n),
        "first_name": pa.array([f"First{i}" for i in range(n)]),
        "last_name": pa.array([f"Last{i}" for i in range(n)]),
        "email": pa.array([f"user{i}@opm.example" for i in range(n)]),
        "is_contractor": pa.array(np.zeros(n, bool)),
        "is_away": pa.array(AWAY),
        "is_stale": pa.array(STALE),
        "is_sensitive": pa.array(np.zeros(n, bool)),
    }
    return pa.Table.from_pydict(cols, schema=WORKFORCE)


def schedule(round_ids: tuple[str, ...] = ("r1",)) -> pa.Table:
    """The events above, once per round id, each round a week after the previous one."""
    rows = [
        (r, *e[:6], T0_US + (e[6] + k * 7 * 86400) * 1_000_000)
        for k, r in enumerate(round_ids)
        for e in EVENTS
    ]
    n = len(rows)
    cols = {
        "event_id": pa.array(np.arange(n, dtype=np.int64)),
        "t_intended": pa.array([r[7] for r in rows], pa.int64()).cast(pa.timestamp("us", tz="UTC")),
        "round": _dict([r[0] for r in rows]),
        "kind": _dict([r[1] for r in rows]),
        "sender_id": pa.array([r[2] for r in rows], pa.int32()),
        "rcpt_first": pa.array([r[3] for r in rows], pa.int32()),
        "rcpt_count": pa.array([r[4] for r in rows], pa.int32()),
        "collection": _dict(["opm-hr" if r[1] != "broadcast" else "" for r in rows]),
        "cc_id": pa.array([r[5] for r in rows], pa.int32()),
        "agency": _dict(["OPM"] * n),
        "content": _dict(["bullets" if r[1] == "reply" else r[1] for r in rows]),
        "violation": _dict([""] * n),
        "size_bytes": pa.array([r[6] for r in rows], pa.int32()),
    }
    return pa.Table.from_pydict(cols, schema=SCHEDULE)
