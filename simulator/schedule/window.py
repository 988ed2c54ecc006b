"""Replay windows: the stretch of intended time a replay covers.

Theory of operation: a window is given as `busiest:DURATION` (the stretch of that length
holding the most events) or `FROM/TO`, two ISO times in the scenario's time zone. Both
resolve, from the schedule's `t_intended` column (microseconds, UTC) alone, to a
half-open interval [start, end) of intended time and to the contiguous run of positions
[first, stop) it covers in intended-time order, which is the order the replay engine
sends in. The busiest stretch is found with one `searchsorted` over the sorted times:
some busiest window starts at an event (sliding a window right to its first event loses
none), so the count for each event's start is `searchsorted(t + d) - i` and the
argmax wins; O(n log n) for the sort. Pure numpy: no clock, no disk.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from simulator.validation import InputError

I64 = npt.NDArray[np.int64]
US_PER_S = 1_000_000
FLAG = "--window"
DURATION = re.compile(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
FORMS = "busiest:DURATION (e.g. busiest:15m, busiest:2h30m) or FROM/TO (ISO times)"


@dataclass(frozen=True)
class Window:
    """A resolved window: intended times [start_us, end_us), positions [first, stop)."""

    spec: str
    start_us: int
    end_us: int
    first: int
    stop: int
    total: int  # events in the whole round

    @property
    def events(self) -> int:
        return self.stop - self.first

    def describe(self, timezone: str) -> dict[str, Any]:
        """What run.json, replay.json and the report say about the window."""
        zone = ZoneInfo(timezone)
        return {
            "spec": self.spec,
            "from": _iso(self.start_us, zone),
            "to": _iso(self.end_us, zone),
            "events": self.events,
            "round_events": self.total,
            "share": self.events / self.total if self.total else 0.0,
        }


def _iso(t_us: int, zone: ZoneInfo) -> str:
    return datetime.fromtimestamp(t_us / US_PER_S, zone).isoformat(timespec="seconds")


def parse_duration(text: str, source: str = "command line", field: str = FLAG) -> int:
    """`15m`, `1h`, `90s`, `2h30m` -> microseconds (> 0)."""
    match = DURATION.fullmatch(text.strip())
    if not text.strip() or match is None:
        raise InputError(source, field, text, "a duration like 15m, 1h, 90s or 2h30m")
    h, m, s = (int(g or 0) for g in match.groups())
    total_s = h * 3600 + m * 60 + s
    if total_s <= 0:
        raise InputError(source, field, text, "a duration > 0, like 15m, 1h, 90s or 2h30m")
    return total_s * US_PER_S


def check_spec(spec: str, timezone: str, source: str = "command line") -> None:
    """Refuse a window that cannot parse, before anything is built or sent."""
    if spec.startswith("busiest:"):
        parse_duration(spec.removeprefix("busiest:"), source)
    else:
        _bounds(spec, timezone, source)


def _bounds(spec: str, timezone: str, source: str) -> tuple[int, int]:
    parts = spec.split("/")
    if len(parts) != 2:
        raise InputError(source, FLAG, spec, FORMS)
    zone = ZoneInfo(timezone)
    ends = []
    for part in parts:
        try:
            when = datetime.fromisoformat(part.strip())
        except ValueError:
            raise InputError(source, FLAG, spec, FORMS) from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=zone)
        ends.append(
            int((when - datetime(1970, 1, 1, tzinfo=ZoneInfo("UTC"))) / timedelta(microseconds=1))
        )
    if ends[1] <= ends[0]:
        raise InputError(source, FLAG, spec, "TO must be after FROM")
    return ends[0], ends[1]


def busiest(sorted_us: I64, duration_us: int) -> tuple[int, int]:
    """The positions [first, stop) of the busiest stretch of `duration_us` (earliest on
    ties) in ascending intended times."""
    if len(sorted_us) == 0:
        return 0, 0
    stops = np.searchsorted(sorted_us, sorted_us + np.int64(duration_us), side="left")
    counts = stops - np.arange(len(sorted_us))
    first = int(np.argmax(counts))
    return first, int(stops[first])


def resolve(spec: str, t_intended_us: I64, timezone: str, source: str = "command line") -> Window:
    """The window `spec` names over a round's intended times (any order)."""
    t = np.sort(np.asarray(t_intended_us, dtype=np.int64))
    if len(t) == 0:
        raise InputError(source, FLAG, spec, "the schedule holds no events")
    if spec.startswith("busiest:"):
        duration = parse_duration(spec.removeprefix("busiest:"), source)
        first, stop = busiest(t, duration)
        start = int(t[first])
        return Window(spec, start, start + duration, first, stop, len(t))
    start, end = _bounds(spec, timezone, source)
    zone = ZoneInfo(timezone)
    if end <= int(t[0]) or start > int(t[-1]):
        raise InputError(
            source,
            FLAG,
            spec,
            f"is outside the round (its events run from {_iso(int(t[0]), zone)} "
            f"to {_iso(int(t[-1]), zone)})",
        )
    first = int(np.searchsorted(t, start, side="left"))
    stop = int(np.searchsorted(t, end, side="left"))
    if stop == first:
        raise InputError(source, FLAG, spec, "holds no events of the round")
    return Window(spec, start, end, first, stop, len(t))
