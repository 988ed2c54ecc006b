"""The scenario's own clock for a run's figures and page: replay time mapped back.

Theory of operation: the replay sends each event `(t - t_first) / speedup` after it
starts (`traffic.pacer.intended_offsets_us`), so replay second `r` is the scenario's time
`t_first + r * speedup`. An `EventClock` holds `t_first` (UTC microseconds: the earliest
scheduled event the run replayed), the speedup and the scenario's IANA time zone. Figures
draw their x values through `dates` and `decorate` their axes with the scenario's local
time below and replay seconds on top; the page writes instants with `label`
("Sat 22 Feb 16:30 EST"). Pure: nothing here reads a clock or a file.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import matplotlib
import matplotlib.dates as mdates
import numpy as np

Array = np.ndarray[Any, Any]
DAY_S = 86_400.0


@dataclass(frozen=True)
class EventClock:
    first_us: int  # the earliest replayed event's scheduled time, UTC microseconds
    speedup: float
    timezone: str = "UTC"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def instant(self, replay_s: float) -> dt.datetime:
        """The scenario's local time at `replay_s` seconds into the replay."""
        seconds = self.first_us / 1e6 + replay_s * self.speedup
        return dt.datetime.fromtimestamp(seconds, tz=self.zone)

    def label(self, replay_s: float) -> str:
        """An instant as people say it: "Sat 22 Feb 2025 16:30 EST"."""
        return self.instant(replay_s).strftime("%a %d %b %Y %H:%M %Z")

    def zone_name(self) -> str:
        """The zone's abbreviation at the first event ("EST"), else its IANA name."""
        return self.instant(0.0).strftime("%Z") or self.timezone

    def _start(self) -> float:
        """The first event as a matplotlib date number (days since matplotlib's epoch)."""
        epoch = np.datetime64(str(matplotlib.rcParams["date.epoch"]), "us").astype(np.int64)
        return (self.first_us - int(epoch)) / 1e6 / DAY_S

    def dates(self, replay_s: Array) -> Array:
        """Replay seconds as matplotlib date numbers on the scenario's clock."""
        return self._start() + np.asarray(replay_s, dtype=float) * self.speedup / DAY_S

    def replay_s(self, dates: Array) -> Array:
        return (np.asarray(dates, dtype=float) - self._start()) * DAY_S / self.speedup

    def decorate(self, ax: Any) -> None:
        """Scenario time (local, with the weekday) below; replay seconds on top."""
        zone = self.zone
        locator = mdates.AutoDateLocator(tz=zone, minticks=3, maxticks=7)  # type: ignore[no-untyped-call]
        ax.xaxis.set_major_locator(locator)
        lo, hi = ax.get_xlim()
        short = (hi - lo) * DAY_S < 180  # under three minutes of scenario time
        pattern = "%H:%M:%S" if short else "%a %d %b\n%H:%M"
        formatter = mdates.DateFormatter(pattern, tz=zone)  # type: ignore[no-untyped-call]
        ax.xaxis.set_major_formatter(formatter)
        ax.set_xlabel(f"scenario time ({self.zone_name()}, {self.timezone})")
        top = ax.secondary_xaxis("top", functions=(self.replay_s, self.dates))
        top.set_xlabel("replay time (s)", fontsize="small")
        top.tick_params(labelsize="small")
