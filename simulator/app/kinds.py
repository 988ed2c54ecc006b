"""The scenario kinds a run knows: what each adds to the run and to its page.

Theory of operation: a run is the same for every kind (prepare, replay against a
collection system, check the store, record, report); a kind supplies the parts that
differ, behind a small interface. `execute` does the kind's work for a checked plan and
returns what the record keeps; `report_parts` turns a record and the run directory's
files back into the kind's figures and sections. `pulsecheck report` finds the kind by
the name the record carries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa
from matplotlib.figure import Figure

from simulator.app.record import RunRecord, StoreCheck

Say = Callable[[str], None]
Figures = dict[str, tuple[str, Figure]]
Sections = list[tuple[str, str]]


@dataclass(frozen=True)
class Executed:
    """What a kind's run measured, for the record."""

    target: str
    protocol: str
    store_check: StoreCheck | None
    agencies: dict[str, dict[str, int]] | None = None
    cost: dict[str, Any] | None = None
    replyall: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)  # lines for the terminal summary
    speedup: float | None = None  # the speedup replayed at, when the run chose it
    speedup_auto: dict[str, Any] | None = None  # the probe and the choice (--speedup auto)
    window: dict[str, Any] | None = None  # the replayed window (replay.json's), if any


class Kind(Protocol):
    name: str

    def report_parts(
        self, run_dir: Path, record: RunRecord, results: pa.Table
    ) -> tuple[Figures, Sections]: ...


def kind_named(name: str) -> Kind:
    from simulator.app import mass_reply, reply_all

    kinds: dict[str, Kind] = {"mass-reply": mass_reply.KIND, "reply-all": reply_all.KIND}
    return kinds[name]
