"""The storms on record and the defence defaults, read from the bundled CSV files.

Theory of operation: numbers from the world live in `simulator/data/replyall_*.csv` with a
source column naming the publication and its date. This module is the only place that
reads them; everything else takes the parsed records as plain values.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from simulator.validation import Range


@dataclass(frozen=True)
class StormOnRecord:
    """One storm with published totals; `None` where a figure was not published."""

    storm: str
    year: int
    list_size: int  # members; the lower end where the source gives a range
    list_size_high: int  # the upper end (equal to `list_size` when one figure)
    posts: float | None  # reply-alls, where published
    first_posts: float | None  # reply-alls to the original itself, before the storm
    deliveries: float
    bytes: float | None
    peak_posts_per_s: float | None
    ended_by: str
    calibrate: bool  # fitted by `pulsecheck replyall calibrate`, or kept as a check
    source: str

    def posts_or_derived(self, size: int | None = None) -> float:
        """Published reply-alls, else deliveries per member (at `size`, by default the
        geometric mean of the list's range): the reply-alls that were delivered."""
        if self.posts is not None:
            return self.posts
        n = size if size is not None else (self.list_size * self.list_size_high) ** 0.5
        return float(self.deliveries / n)


def _rows(name: str) -> list[dict[str, str]]:
    text = resources.files("simulator").joinpath("data", name).read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


def _opt(value: str) -> float | None:
    return float(value) if value.strip() else None


@lru_cache(maxsize=1)
def storms_on_record() -> dict[str, StormOnRecord]:
    """The storms in `replyall_storms.csv`, keyed by short name."""
    out: dict[str, StormOnRecord] = {}
    for row in _rows("replyall_storms.csv"):
        out[row["storm"]] = StormOnRecord(
            storm=row["storm"],
            year=int(row["year"]),
            list_size=int(row["list_size"]),
            list_size_high=int(row["list_size_high"]),
            posts=_opt(row["posts"]),
            first_posts=_opt(row["first_posts"]),
            deliveries=float(row["deliveries"]),
            bytes=_opt(row["bytes"]),
            peak_posts_per_s=_opt(row["peak_posts_per_s"]),
            ended_by=row["ended_by"],
            calibrate=row["calibrate"] == "yes",
            source=row["source"],
        )
    return out


@lru_cache(maxsize=1)
def defence_defaults() -> dict[str, Range]:
    """Defence figures from `replyall_defences.csv` as ranges (low, likely, high)."""
    return {
        row["name"]: Range(
            low=float(row["low"]), likely=float(row["likely"]), high=float(row["high"])
        )
        for row in _rows("replyall_defences.csv")
    }
