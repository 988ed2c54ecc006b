"""The arrival curve of a round: replies per hour, the peak hour, the last-24-hour share.

Theory of operation: a reduction of the schedule's reply times to hourly counts from
the send time, so a user sees at a glance when the storm peaks and how much of it the
deadline pulls into its last day (Alfi et al., Nature Physics 2007). It also counts the
replies after the round's own deadline (an extension's "another chance") and the
cumulative replies at the end of each day in the round's time zone. `arrival_curve` works
on plain arrays; `round_curves` is the adapter from a SCHEDULE table and a scenario.
`series_totals` adds the rounds of a weekly series up: replies, boilerplate, the share of
the first round's replies each later round keeps.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from simulator.scenario import Scenario

I64 = npt.NDArray[np.int64]
HOUR_US = 3_600_000_000
DAY_US = 24 * HOUR_US


@dataclass(frozen=True)
class ArrivalCurve:
    round: str
    send_time: dt.datetime
    deadline: dt.datetime
    per_hour: I64  # replies in each hour from the send time (hour 0 first)
    kinds: dict[str, int]  # events of each kind in the round
    share_last_24h: float  # of replies, the share in the 24 h before the deadline
    after_deadline: int = 0  # replies sent after the round's own deadline
    by_day: tuple[tuple[dt.date, int], ...] = ()  # cumulative replies at each day's end
    boilerplate: int = 0  # replies sent as generic text (form letter or boilerplate)

    @property
    def before_deadline(self) -> int:
        return self.replies - self.after_deadline

    @property
    def replies(self) -> int:
        return int(self.per_hour.sum())

    @property
    def peak_hour(self) -> int:
        return int(np.argmax(self.per_hour)) if len(self.per_hour) else 0

    @property
    def peak_count(self) -> int:
        return int(self.per_hour.max()) if len(self.per_hour) else 0

    @property
    def peak_start(self) -> dt.datetime:
        return self.send_time + dt.timedelta(hours=self.peak_hour)


def arrival_curve(
    round_id: str,
    reply_t_us: I64,
    send_time: dt.datetime,
    deadline: dt.datetime,
    kinds: dict[str, int],
) -> ArrivalCurve:
    """Hourly reply counts from the send time, and the share in the last 24 h."""
    send_us = int(send_time.timestamp() * 1e6)
    deadline_us = int(deadline.timestamp() * 1e6)
    hours = int(np.ceil((deadline_us - send_us) / HOUR_US))
    bins = np.clip((reply_t_us - send_us) // HOUR_US, 0, None)
    per_hour = np.bincount(bins, minlength=hours).astype(np.int64)
    late = np.count_nonzero(reply_t_us >= deadline_us - DAY_US)
    share = late / len(reply_t_us) if len(reply_t_us) else 0.0
    after = int(np.count_nonzero(reply_t_us > deadline_us))
    days = cumulative_by_day(reply_t_us, send_time)
    return ArrivalCurve(round_id, send_time, deadline, per_hour, kinds, share, after, days)


def cumulative_by_day(reply_t_us: I64, send_time: dt.datetime) -> tuple[tuple[dt.date, int], ...]:
    """Cumulative replies at the end of each local day (the send time's zone), from the
    send day to the day of the last reply."""
    if not len(reply_t_us):
        return ()
    tz = send_time.tzinfo or dt.UTC
    first = send_time.astimezone(tz).date()
    last = dt.datetime.fromtimestamp(int(reply_t_us.max()) / 1e6, tz).date()
    ends = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    end_us = np.array(
        [
            int(dt.datetime.combine(d + dt.timedelta(days=1), dt.time(), tz).timestamp() * 1e6)
            for d in ends
        ],
        dtype=np.int64,
    )
    counts = np.searchsorted(np.sort(reply_t_us), end_us, side="left")
    return tuple((d, int(c)) for d, c in zip(ends, counts, strict=True))


def _codes(schedule: pa.Table, name: str) -> tuple[I64, list[str]]:
    """A column's dictionary codes and names (a plain string column is encoded first)."""
    column = schedule.column(name)
    if not pa.types.is_dictionary(column.type):
        column = pc.dictionary_encode(column)
    column = pa.table({name: column}).unify_dictionaries().combine_chunks().column(name)
    if not column.num_chunks:
        return np.zeros(0, dtype=np.int64), []
    chunk = column.chunk(0)
    names = [str(v) for v in chunk.dictionary.to_pylist()]
    return chunk.indices.to_numpy(zero_copy_only=False).astype(np.int64), names


def _code(names: list[str], value: str) -> int:
    return names.index(value) if value in names else -1


def round_curves(schedule: pa.Table, scenario: Scenario) -> list[ArrivalCurve]:
    """One arrival curve per round of `scenario` present in the schedule (read by
    dictionary code, so tens of millions of events take about a second)."""
    rounds, round_names = _codes(schedule, "round")
    kind, kind_names = _codes(schedule, "kind")
    content, content_names = _codes(schedule, "content")
    t_us = schedule.column("t_intended").cast(pa.int64()).to_numpy()
    is_reply = kind == _code(kind_names, "reply")
    generic_reply = is_reply & (content == _code(content_names, "form_letter"))
    curves = []
    for rnd in scenario.rounds:
        mine = rounds == _code(round_names, rnd.id)
        if not mine.any():
            continue
        counts = np.bincount(kind[mine], minlength=len(kind_names))
        kinds = {kind_names[i]: int(counts[i]) for i in np.argsort(kind_names) if counts[i]}
        replies = t_us[mine & is_reply]
        curve = arrival_curve(rnd.id, replies, rnd.send_time, rnd.deadline, kinds)
        generic = int(np.count_nonzero(mine & generic_reply))
        curves.append(replace(curve, boilerplate=generic))
    return curves


@dataclass(frozen=True)
class SeriesTotals:
    rounds: int
    replies: int
    boilerplate: int
    first: dt.datetime
    last_deadline: dt.datetime

    @property
    def boilerplate_share(self) -> float:
        return self.boilerplate / self.replies if self.replies else 0.0


def series_totals(curves: list[ArrivalCurve]) -> SeriesTotals:
    """The rounds summed: replies and boilerplate over all of them."""
    return SeriesTotals(
        rounds=len(curves),
        replies=sum(c.replies for c in curves),
        boilerplate=sum(c.boilerplate for c in curves),
        first=min(c.send_time for c in curves),
        last_deadline=max(c.deadline for c in curves),
    )
