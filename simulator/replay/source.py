"""What a replay reads from disk: only the events it sends and the employees they name.

Theory of operation: `load` reads the schedule's `t_intended` column alone, lets
`pacer.send_order` pick the rows the run sends (the first `max_events`, the window, a
worker's positions) and their offsets, reads just those rows of the schedule
(`tables.read_rows`, row group by row group), then just the workforce rows they name
(`subset.referenced_rows`: senders, cc, broadcast and reply-all ranges, co-workers) and
only the columns `Payload` renders from, and renumbers the events onto those rows. The
result renders the same bytes, with the same event ids and routing, as the whole
schedule and workforce would; memory grows with the window, not with the round.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

from simulator.tables import Stage, read_rows, read_stage
from simulator.traffic.pacer import send_order
from simulator.traffic.subset import check_ids, referenced_rows, renumber
from simulator.validation import InputError

I64 = npt.NDArray[np.int64]
WORKFORCE_COLUMNS = ("email", "first_name", "last_name", "occupation", "subagency")


@dataclass(frozen=True)
class Loaded:
    """Events in send order (ids renumbered), the workforce rows they name, offsets."""

    events: pa.Table
    workforce: pa.Table
    offsets: I64
    rows: I64  # the schedule rows the events came from


def intended_times(schedule: Path) -> I64:
    """The schedule's `t_intended` column in file order, microseconds."""
    column = read_stage(schedule, "schedule", ["t_intended"]).column("t_intended")
    times: I64 = column.cast(pa.int64()).to_numpy()
    return times


def row_count(path: Path, stage: Stage) -> int:
    """Rows in a stage's Parquet file, from its footer."""
    try:
        return int(pq.read_metadata(path).num_rows)
    except (OSError, pa.ArrowInvalid) as err:
        why = f"not a readable Parquet file ({err})"
        raise InputError(str(path), stage, str(path), why) from None


def load(
    schedule: Path,
    workforce: Path,
    speedup: float,
    max_events: int | None = None,
    window: tuple[int, int] | None = None,
    positions: I64 | None = None,
    columns: Sequence[str] = WORKFORCE_COLUMNS,
) -> Loaded:
    """The rows a run sends, as `send_order` picks them, and the employees they name."""
    rows, offsets = send_order(intended_times(schedule), speedup, max_events, window, positions)
    return load_rows(schedule, workforce, rows, offsets, columns)


def load_rows(
    schedule: Path,
    workforce: Path,
    rows: I64,
    offsets: I64,
    columns: Sequence[str] = WORKFORCE_COLUMNS,
) -> Loaded:
    """Schedule rows `rows` (in that order) and the workforce rows they name."""
    events = read_rows(schedule, "schedule", rows)
    n_people = row_count(workforce, "workforce")
    check_ids(events, n_people, str(schedule))
    people = referenced_rows(events, n_people)
    staff = read_rows(workforce, "workforce", people, columns)
    return Loaded(renumber(events, people), staff, offsets, rows)
