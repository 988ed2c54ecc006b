"""Interval reports as an engine child writes them, built from a `Recorder` by hand."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from simulator.traffic.frames import Report, report_of, rows_of
from simulator.traffic.outcomes import OK, Outcome
from simulator.traffic.record import Recorder

I64 = npt.NDArray[np.int64]


def answered_report(ids: I64, offsets: I64, late_after_ms: float = 10.0) -> Report:
    """Every event sent when due and answered 201 two milliseconds later."""
    rec = Recorder(ids.astype(np.int64), offsets.astype(np.int64))
    for j, due in enumerate(offsets.tolist()):
        rec.mark_sent(j, int(due))
        rec.finish(j, int(due) + 2000, Outcome(201, OK, 50), 0)
    return report_of(rows_of(rec, np.arange(len(ids)), int(late_after_ms * 1000)))
