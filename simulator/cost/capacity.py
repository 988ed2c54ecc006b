"""Capacity planning: cores, servers and mailboxes for a reply storm, and what an
Exchange-like mailbox policy does to it.

Theory of operation: everything here takes plain numbers and arrays (reading a replay
run's files is done by `simulator.cost.runfile`).

(a) Sizing. A replay run that kept its SLO (p99 latency from the intended send time, no
lost events) shows that `acks_per_s / cores` durable acknowledgements per core per second
are within reach. Since the run may have been offered less than it could take, that
figure is a lower bound of the true capacity, so sizing from it errs on the safe side.
The schedule's peak arrival rate (the busiest rolling minute) times a headroom factor,
divided by it, gives whole cores; cores over cores per server give servers. Mailboxes:
with a receiving limit per mailbox per hour, the busiest rolling hour over the limit
gives how many mailboxes the replies must be spread over (evenly); the stored bytes of a
year of rounds over the quota give how many mailboxes the data needs.

(b) Mailbox policy. One central mailbox with a receiving limit per rolling hour
(Exchange Online: 3,600 messages, enforced since April 2021) and a quota (50 or 100 GB) receives the
arrival series. The limit is applied over a rolling 60-minute window at one-minute
resolution, first come first served within a minute; messages over it are rejected
(a non-delivery report in Exchange). The quota is applied to accepted bytes in time
order: from the first message that does not fit, the mailbox is full and rejects every
later one. Nothing is deleted between rounds, so over weekly rounds the mailbox fills
round after round; each weekly round repeats the given round's arrival series.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]
US_PER_S = 1_000_000
MINUTE_US = 60 * US_PER_S
HOUR_US = 3600 * US_PER_S
WEEK_US = 7 * 24 * HOUR_US
EXCHANGE_LIMIT_PER_HOUR = 3600  # Exchange Online limit since April 2021
EXCHANGE_QUOTAS_GB = (50.0, 100.0)  # Exchange Online quotas (as of 2025)
BYTES_PER_GB = 1e9


# -- peak rates -----------------------------------------------------------------------
def peak_count(t_us: I64, window_us: int) -> int:
    """Most arrivals in any window [t, t + window) that starts at an arrival."""
    if len(t_us) == 0:
        return 0
    t = np.sort(t_us)
    ends = np.searchsorted(t, t + window_us, side="left")
    return int((ends - np.arange(len(t))).max())


def peak_rate_per_s(t_us: I64, window_s: float = 60.0) -> float:
    """Arrival rate of the busiest rolling window (a minute by default), per second."""
    return peak_count(t_us, int(window_s * US_PER_S)) / window_s


# -- (a) sizing -----------------------------------------------------------------------
@dataclass(frozen=True)
class RunMeasure:
    """What a replay run measured, as plain numbers."""

    acks_per_s: float  # acknowledged events per second over the run
    cores: float  # cores the system under test had
    p99_ms: float  # p99 latency from the intended send time
    lost: int  # events not acknowledged (errors, timeouts, drops)
    events: int
    target: str = ""


@dataclass(frozen=True)
class MeasuredCapacity:
    per_core_per_s: float
    slo_met: bool
    reasons: tuple[str, ...]  # why the SLO was not met; empty when it was


def measured_capacity(run: RunMeasure, slo_p99_ms: float, max_lost: int = 0) -> MeasuredCapacity:
    """Acks per core per second, and whether the run stayed within the SLO."""
    reasons = []
    if run.p99_ms > slo_p99_ms:
        reasons.append(f"p99 {run.p99_ms:g} ms > SLO {slo_p99_ms:g} ms")
    if run.lost > max_lost:
        reasons.append(f"{run.lost} events unanswered or not stored > {max_lost} allowed")
    if run.acks_per_s <= 0:
        reasons.append("no event was acknowledged")
    per_core = run.acks_per_s / run.cores if run.cores > 0 else 0.0
    return MeasuredCapacity(per_core, not reasons, tuple(reasons))


@dataclass(frozen=True)
class CapacityPlan:
    peak_per_s: float
    per_core_per_s: float
    headroom: float
    cores: int
    cores_per_server: int
    servers: int
    peak_per_hour: int
    limit_per_hour: int
    mailboxes_for_rate: int
    year_bytes: float
    quota_bytes: float
    mailboxes_for_quota: int

    @property
    def mailboxes(self) -> int:
        return max(self.mailboxes_for_rate, self.mailboxes_for_quota)


def plan_capacity(
    peak_per_s: float,
    per_core_per_s: float,
    peak_per_hour: int,
    year_bytes: float,
    headroom: float = 1.0,
    cores_per_server: int = 8,
    limit_per_hour: int = EXCHANGE_LIMIT_PER_HOUR,
    quota_bytes: float = EXCHANGE_QUOTAS_GB[0] * BYTES_PER_GB,
) -> CapacityPlan:
    """Cores, servers and mailboxes that carry the peak within the measured capacity."""
    if per_core_per_s <= 0:
        raise ValueError("per_core_per_s must be > 0")
    cores = math.ceil(peak_per_s * headroom / per_core_per_s) if peak_per_s > 0 else 0
    return CapacityPlan(
        peak_per_s=peak_per_s,
        per_core_per_s=per_core_per_s,
        headroom=headroom,
        cores=cores,
        cores_per_server=cores_per_server,
        servers=math.ceil(cores / cores_per_server),
        peak_per_hour=peak_per_hour,
        limit_per_hour=limit_per_hour,
        mailboxes_for_rate=math.ceil(peak_per_hour / limit_per_hour),
        year_bytes=year_bytes,
        quota_bytes=quota_bytes,
        mailboxes_for_quota=math.ceil(year_bytes / quota_bytes),
    )


# -- (b) mailbox policy ----------------------------------------------------------------
@dataclass(frozen=True)
class MailboxRound:
    """One round of arrivals at one mailbox under the policy."""

    arrivals: int
    accepted: int
    rejected_by_limit: int
    rejected_by_quota: int
    accepted_bytes: float
    first_limit_reject_us: int | None  # arrival time of the first message over the limit
    quota_full_us: int | None  # arrival time of the first message that did not fit

    @property
    def rejected(self) -> int:
        return self.rejected_by_limit + self.rejected_by_quota


def accepted_per_minute(arrivals: I64, limit_per_hour: int) -> I64:
    """Messages accepted in each minute under a rolling 60-minute receiving limit."""
    accepted = np.zeros(len(arrivals), dtype=np.int64)
    in_window = 0  # accepted in the previous 59 minutes
    for m, count in enumerate(arrivals.tolist()):
        take = min(count, limit_per_hour - in_window)
        accepted[m] = take
        in_window += take
        if m >= 59:
            in_window -= int(accepted[m - 59])
    return accepted


def limit_mask(t_sorted: I64, limit_per_hour: int) -> npt.NDArray[np.bool_]:
    """For arrivals in time order: True where the receiving limit lets the message in."""
    minute = (t_sorted - t_sorted[0]) // MINUTE_US
    arrivals = np.bincount(minute)
    allowed = accepted_per_minute(arrivals, limit_per_hour)
    first_of_minute = np.searchsorted(minute, minute, side="left")
    rank = np.arange(len(t_sorted)) - first_of_minute
    return np.asarray(rank < allowed[minute])


def mailbox_round(
    t_us: I64,
    size_bytes: I64,
    limit_per_hour: int = EXCHANGE_LIMIT_PER_HOUR,
    quota_bytes: float = EXCHANGE_QUOTAS_GB[0] * BYTES_PER_GB,
    stored_before: float = 0.0,
) -> MailboxRound:
    """Play one round's arrivals against the limit and the quota."""
    if len(t_us) == 0:
        return MailboxRound(0, 0, 0, 0, 0.0, None, None)
    order = np.argsort(t_us, kind="stable")
    t, size = t_us[order], size_bytes[order].astype(np.float64)
    ok = limit_mask(t, limit_per_hour)
    over_limit = np.flatnonzero(~ok)
    fits = stored_before + np.cumsum(np.where(ok, size, 0.0)) <= quota_bytes
    full = np.flatnonzero(ok & ~fits)
    quota_rejected = ok & (np.arange(len(t)) >= full[0]) if len(full) else np.zeros_like(ok)
    accepted = ok & ~quota_rejected
    return MailboxRound(
        arrivals=len(t),
        accepted=int(accepted.sum()),
        rejected_by_limit=len(over_limit),
        rejected_by_quota=int(quota_rejected.sum()),
        accepted_bytes=float(size[accepted].sum()),
        first_limit_reject_us=int(t[over_limit[0]]) if len(over_limit) else None,
        quota_full_us=int(t[full[0]]) if len(full) else None,
    )


@dataclass(frozen=True)
class MailboxRounds:
    """The same round repeated weekly into one mailbox that is never emptied."""

    rounds: int
    per_round: MailboxRound  # a round while the mailbox still has room
    quota_round: int | None  # 1-based round in which the quota is hit; None if never
    quota_round_result: MailboxRound | None
    rejected_by_limit: int
    rejected_by_quota: int
    accepted: int

    @property
    def rejected(self) -> int:
        return self.rejected_by_limit + self.rejected_by_quota


def mailbox_weekly(
    t_us: I64,
    size_bytes: I64,
    rounds: int,
    limit_per_hour: int = EXCHANGE_LIMIT_PER_HOUR,
    quota_bytes: float = EXCHANGE_QUOTAS_GB[0] * BYTES_PER_GB,
) -> MailboxRounds:
    """`rounds` weekly repeats of one round's arrivals into one mailbox."""
    first = mailbox_round(t_us, size_bytes, limit_per_hour, math.inf)
    per_round_bytes = first.accepted_bytes
    full_before = int(quota_bytes // per_round_bytes) if per_round_bytes > 0 else rounds
    if full_before >= rounds:  # the quota is never reached
        return MailboxRounds(
            rounds, first, None, None, first.rejected_by_limit * rounds, 0, first.accepted * rounds
        )
    hit = mailbox_round(
        t_us, size_bytes, limit_per_hour, quota_bytes, stored_before=full_before * per_round_bytes
    )
    after = rounds - full_before - 1  # rounds that find the mailbox full from the start
    return MailboxRounds(
        rounds=rounds,
        per_round=first,
        quota_round=full_before + 1,
        quota_round_result=hit,
        rejected_by_limit=first.rejected_by_limit
        * rounds,  # the limit does not depend on the quota
        rejected_by_quota=hit.rejected_by_quota + first.accepted * after,
        accepted=first.accepted * full_before + hit.accepted,
    )


# -- (c) a series of rounds into one mailbox ------------------------------------------------
@dataclass(frozen=True)
class MailboxSeries:
    """Every round's arrivals, in time order, into one mailbox that is never emptied."""

    arrivals: int
    accepted: int
    rejected_by_limit: int
    rejected_by_quota: int
    accepted_bytes: float
    quota_full_us: int | None  # arrival time of the first message that did not fit
    accepted_by_round: tuple[int, ...]  # in the order of the `round` codes


def mailbox_series(
    t_us: I64,
    size_bytes: I64,
    weight: int,
    round_code: I64,
    n_rounds: int,
    limit_per_hour: int | None,
    quota_bytes: float,
) -> MailboxSeries:
    """Play arrivals, each standing for `weight` messages of its size (a 1% schedule
    priced at full scale: weight 100), against a receiving limit (None: no limit) and a
    quota. Within a minute the limit lets the earliest in; from the first message that
    does not fit the quota the mailbox refuses everything."""
    if len(t_us) == 0:
        return MailboxSeries(0, 0, 0, 0, 0.0, None, (0,) * n_rounds)
    order = np.argsort(t_us, kind="stable")
    t, size, rc = t_us[order], size_bytes[order].astype(np.float64), round_code[order]
    w = np.full(len(t), weight, dtype=np.int64)
    if limit_per_hour is None:
        ok = w
    else:
        minute = (t - t[0]) // MINUTE_US
        allowed = accepted_per_minute(
            np.bincount(minute, weights=w).astype(np.int64), limit_per_hour
        )
        before = np.cumsum(w) - w  # messages earlier in the series
        first = np.searchsorted(minute, minute, side="left")
        within = before - before[first]  # earlier ones in the same minute
        ok = np.clip(allowed[minute] - within, 0, w)
    stored = np.cumsum(ok * size)
    over = np.flatnonzero(stored > quota_bytes)
    kept = ok.copy()
    full_us = None
    if len(over):
        i = int(over[0])
        room = quota_bytes - (float(stored[i - 1]) if i else 0.0)
        kept[i] = min(int(ok[i]), int(room // size[i])) if size[i] > 0 else ok[i]
        kept[i + 1 :] = 0
        full_us = int(t[i])
    by_round = np.bincount(rc, weights=kept, minlength=n_rounds).astype(np.int64)
    return MailboxSeries(
        arrivals=int(w.sum()),
        accepted=int(kept.sum()),
        rejected_by_limit=int((w - ok).sum()),
        rejected_by_quota=int((ok - kept).sum()),
        accepted_bytes=float((kept * size).sum()),
        quota_full_us=full_us,
        accepted_by_round=tuple(int(x) for x in by_round),
    )
