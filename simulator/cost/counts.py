"""The few counts and sums per round that the cost terms need, taken from the tables.

Theory of operation: the cost of a round is linear in a handful of sufficient statistics
(how many recipients, how many replies, the summed hourly cost of those who wrote, of
those who read and stayed silent, of the managers in cc, the stored bytes and the peak
arrival rate). `round_counts` computes them from plain numpy columns, so tests can feed
hand-made arrays; `counts_by_round` is the thin adapter from the Arrow tables of
`simulator.columns` (WORKFORCE, SCHEDULE), split by the schedule's `round` column.

Who counts as what:
- recipients: the broadcast's deliveries (the rcpt ranges of "broadcast" rows);
- writers: senders of "reply" rows (auto-replies and bounces cost no staff time);
- silent readers: recipients who are neither away nor on a stale address and sent no reply;
- managers: the `cc_id` of "reply" rows, each cc'd reply read once by that manager;
- inbound messages: every non-broadcast row arrives once at a collection system;
- stored bytes: `size_bytes * rcpt_count` of non-broadcast rows (the cc copy is stored too);
- peak rate: the busiest minute of non-broadcast arrivals, per second.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from simulator.columns import NO_ID
from simulator.cost.capacity import peak_rate_per_s

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
BOOL = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class RoundCounts:
    """What one round puts in motion; every cost term is a function of these."""

    recipients: int  # broadcast deliveries
    replies: int  # "reply" rows
    inbound_messages: int  # non-broadcast rows arriving at collection systems
    stored_bytes: float  # bytes stored by collection systems and cc'd mailboxes
    writer_hourly_sum: float  # sum of hourly_cost over reply senders, USD per hour
    silent: int  # recipients who read it and did not reply
    silent_hourly_sum: float  # sum of their hourly_cost, USD per hour
    cc_replies: int  # replies with a manager in cc
    cc_hourly_sum: float  # sum of the cc'd manager's hourly_cost per cc'd reply
    peak_per_s: float  # busiest minute of arrivals, events per second

    def scaled(self, factor: float) -> RoundCounts:
        """The counts of a workforce `factor` times larger (a 1% sample: factor 100).
        Every count and sum grows linearly; the peak rate too, to first order."""
        return replace(
            self,
            recipients=round(self.recipients * factor),
            replies=round(self.replies * factor),
            inbound_messages=round(self.inbound_messages * factor),
            stored_bytes=self.stored_bytes * factor,
            writer_hourly_sum=self.writer_hourly_sum * factor,
            silent=round(self.silent * factor),
            silent_hourly_sum=self.silent_hourly_sum * factor,
            cc_replies=round(self.cc_replies * factor),
            cc_hourly_sum=self.cc_hourly_sum * factor,
            peak_per_s=self.peak_per_s * factor,
        )


@dataclass(frozen=True)
class RoundEvents:
    """The schedule columns of one round, as numpy arrays of equal length."""

    is_broadcast: BOOL
    is_reply: BOOL
    sender_id: I64
    rcpt_first: I64
    rcpt_count: I64
    cc_id: I64
    size_bytes: I64
    t_us: I64  # intended time, microseconds (any origin)


def recipient_mask(n_employees: int, first: I64, count: I64) -> BOOL:
    """Employees covered by the id ranges [first, first + count)."""
    delta = np.zeros(n_employees + 1, dtype=np.int64)
    np.add.at(delta, first, 1)
    np.add.at(delta, first + count, -1)
    return np.cumsum(delta[:-1]) > 0


def round_counts(hourly_cost: F64, is_away: BOOL, is_stale: BOOL, ev: RoundEvents) -> RoundCounts:
    """Sufficient statistics of one round from workforce and schedule columns."""
    n = len(hourly_cost)
    bc, rp, other = ev.is_broadcast, ev.is_reply, ~ev.is_broadcast
    recipients = recipient_mask(n, ev.rcpt_first[bc], ev.rcpt_count[bc])
    replied = np.zeros(n, dtype=np.bool_)
    replied[ev.sender_id[rp]] = True
    silent = recipients & ~is_away & ~is_stale & ~replied
    cc = ev.cc_id[rp]
    cc = cc[cc != NO_ID]
    return RoundCounts(
        recipients=int(ev.rcpt_count[bc].sum()),
        replies=int(rp.sum()),
        inbound_messages=int(other.sum()),
        stored_bytes=float((ev.size_bytes[other] * ev.rcpt_count[other]).sum()),
        writer_hourly_sum=float(hourly_cost[ev.sender_id[rp]].sum()),
        silent=int(silent.sum()),
        silent_hourly_sum=float(hourly_cost[silent].sum()),
        cc_replies=len(cc),
        cc_hourly_sum=float(hourly_cost[cc].sum()),
        peak_per_s=peak_rate_per_s(ev.t_us[other]),
    )


def counts_by_round(workforce: pa.Table, schedule: pa.Table) -> dict[str, RoundCounts]:
    """`RoundCounts` for every round id in a SCHEDULE table, in order of first event."""
    hourly = workforce.column("hourly_cost").to_numpy().astype(np.float64)
    away = _bools(workforce, "is_away")
    stale = _bools(workforce, "is_stale")
    rounds = pc.cast(schedule.column("round"), pa.string())
    order = list(dict.fromkeys(rounds.to_pylist()))
    return {
        str(r): round_counts(hourly, away, stale, events_of(schedule.filter(pc.equal(rounds, r))))
        for r in order
    }


def events_of(schedule: pa.Table) -> RoundEvents:
    """Numpy columns of a SCHEDULE table (or a slice of one)."""
    kind = pc.cast(schedule.column("kind"), pa.string())
    return RoundEvents(
        is_broadcast=_mask(pc.equal(kind, "broadcast")),
        is_reply=_mask(pc.equal(kind, "reply")),
        sender_id=_ints(schedule, "sender_id"),
        rcpt_first=_ints(schedule, "rcpt_first"),
        rcpt_count=_ints(schedule, "rcpt_count"),
        cc_id=_ints(schedule, "cc_id"),
        size_bytes=_ints(schedule, "size_bytes"),
        t_us=np.asarray(pc.cast(schedule.column("t_intended"), pa.int64()).to_numpy(), np.int64),
    )


def _ints(table: pa.Table, name: str) -> I64:
    return np.asarray(table.column(name).to_numpy(), dtype=np.int64)


def _bools(table: pa.Table, name: str) -> BOOL:
    return np.asarray(table.column(name).to_numpy(zero_copy_only=False), dtype=np.bool_)


def _mask(values: pa.ChunkedArray) -> BOOL:
    return np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.bool_)
