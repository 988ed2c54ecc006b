"""Small WORKFORCE and SCHEDULE tables for the Locust storm tests (built directly)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from simulator.columns import NO_ID, SCHEDULE, WORKFORCE

T0_US = 1_740_240_000_000_000  # 2025-02-22 16:00 UTC
SECRET = b"0123456789abcdef0123456789abcdef"


def _dict(values: list[str]) -> pa.DictionaryArray:
    return pa.array(values).dictionary_encode().cast(pa.dictionary(pa.int16(), pa.string()))


def workforce(n: int) -> pa.Table:
    """`n` employees in DHS (even ids) and VA (odd ids); manager of i is i // 8."""
    ids = np.arange(n, dtype=np.int32)
    dept = ["DHS" if i % 2 == 0 else "VA" for i in range(n)]
    cols = {
        "employee_id": pa.array(ids),
        "department": _dict(dept),
        "subagency": _dict([f"{d}-HQ" for d in dept]),
        "occupation": _dict(["admin"] * n),
        "grade": pa.array(np.full(n, 12, np.int8)),
        "pay": pa.array(np.full(n, 90000, np.float32)),
        "hourly_cost": pa.array(np.full(n, 60, np.float32)),
        "is_supervisor": pa.array(ids < n // 8),
        "manager_id": pa.array(np.where(ids == 0, NO_ID, ids // 8).astype(np.int32)),
        "depth": pa.array(np.zeros(n, np.int8)),
        "duty_state": _dict(["VA"] * n),
        "tz": _dict(["America/New_York"] * n),
        "first_name": pa.array([f"First{i}" for i in range(n)]),
        "last_name": pa.array([f"Last{i}" for i in range(n)]),
        "email": pa.array([f"user{i}@{d.lower()}.example" for i, d in enumerate(dept)]),
        "is_contractor": pa.array(np.zeros(n, bool)),
        "is_away": pa.array(np.zeros(n, bool)),
        "is_stale": pa.array(np.zeros(n, bool)),
        "is_sensitive": pa.array(np.zeros(n, bool)),
    }
    return pa.Table.from_pydict(cols, schema=WORKFORCE)


def storm_schedule(replies: int, auto_replies: int, span_s: float, seed: int = 7) -> pa.Table:
    """A broadcast, then replies and auto-replies decaying over `span_s` real seconds.

    Replies come from employees 1..replies (one each), cc their manager, and go to the
    central collection ("opm-hr"); event ids are shuffled against time on purpose.
    """
    rng = np.random.default_rng(seed)
    n = 1 + replies + auto_replies
    offsets = np.sort(rng.exponential(span_s / 4, n - 1).clip(0, span_s))
    t = np.concatenate([[T0_US], T0_US + 1_000_000 + (offsets * 1e6).astype(np.int64)])
    later = ["reply"] * replies + ["auto_reply"] * auto_replies
    kinds = ["broadcast", *rng.permutation(later).tolist()]
    senders = [NO_ID, *range(1, n)]
    cc = [s // 8 if k == "reply" and s > 0 else NO_ID for s, k in zip(senders, kinds, strict=True)]
    is_reply = [k == "reply" for k in kinds]
    cols = {
        "event_id": pa.array(rng.permutation(n).astype(np.int64) + 1000),
        "t_intended": pa.array(t).cast(pa.timestamp("us", tz="UTC")),
        "round": _dict(["1"] * n),
        "kind": _dict(kinds),
        "sender_id": pa.array(senders, pa.int32()),
        "rcpt_first": pa.array([0] + [NO_ID] * (n - 1), pa.int32()),
        "rcpt_count": pa.array([replies] + [2 if r else 1 for r in is_reply[1:]], pa.int32()),
        "collection": _dict(["opm-hr" if r else "" for r in is_reply]),
        "cc_id": pa.array(cc, pa.int32()),
        "agency": _dict(["OPM"] + ["DHS" if s % 2 == 0 else "VA" for s in senders[1:]]),
        "content": _dict(["broadcast"] + ["bullets" if r else "auto_reply" for r in is_reply[1:]]),
        "violation": _dict([""] * n),
        "size_bytes": pa.array(np.full(n, 600, np.int32)),
    }
    table = pa.Table.from_pydict(cols, schema=SCHEDULE)
    return table.sort_by("event_id")  # stored out of time order: the plan must sort


def write_tables(directory: object, replies: int, auto_replies: int, span_s: float) -> tuple:
    """Write workforce.parquet, schedule.parquet and api.secret into `directory`."""
    from pathlib import Path

    d = Path(str(directory))
    wf, sched = d / "workforce.parquet", d / "schedule.parquet"
    pq.write_table(workforce(replies + auto_replies + 1), wf)
    pq.write_table(storm_schedule(replies, auto_replies, span_s), sched)
    secret = d / "api.secret"
    secret.write_bytes(SECRET + b"\n")
    return wf, sched, secret
