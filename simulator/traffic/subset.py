"""The employees a run of events names, and those events renumbered onto just them.

Theory of operation: a schedule names people by workforce row (`sender_id`, `cc_id`, and
for a broadcast or a reply-all the contiguous range [rcpt_first, rcpt_first+rcpt_count)).
A replay of a window needs only the rows its events name, so `referenced_rows` lists
them (row 0 always, plus the co-worker a "coworker_name" reply names, which
`writing.coworker_ids` finds from the sender's neighbour rows) and `renumber` maps each
id to its position in that sorted list. The map is monotonic, so a range stays a range
(every row of it is listed, so none falls between), a neighbour stays a neighbour, and
`Payload` over the renumbered events and the listed rows renders exactly the bytes it
renders over the whole workforce. Pure numpy and Arrow: no disk.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from simulator.behaviour.writing import coworker_ids
from simulator.columns import NO_ID
from simulator.validation import InputError

I64 = npt.NDArray[np.int64]
ID_COLUMNS = ("sender_id", "cc_id", "rcpt_first")


def _ids(events: pa.Table, name: str) -> I64:
    ids: I64 = events.column(name).to_numpy().astype(np.int64)
    return ids


def check_ids(events: pa.Table, n_people: int, source: str) -> None:
    """Every employee id the events name must be a row of the workforce."""
    ends = {
        "sender_id": _ids(events, "sender_id"),
        "cc_id": _ids(events, "cc_id"),
        "rcpt_first + rcpt_count - 1": _ids(events, "rcpt_first") + _ids(events, "rcpt_count") - 1,
    }
    for name, ids in ends.items():
        if len(ids) and int(ids.max()) >= n_people:
            raise InputError(source, name, int(ids.max()), f"must be < {n_people} (workforce rows)")


def referenced_rows(events: pa.Table, n_people: int) -> I64:
    """Sorted workforce rows that rendering `events` reads (ids checked < n_people)."""
    sender, cc = _ids(events, "sender_id"), _ids(events, "cc_id")
    kind = events.column("kind").cast(pa.string())
    content = events.column("content").cast(pa.string())
    fans = pc.or_(pc.equal(kind, "broadcast"), pc.equal(content, "reply_all"))
    fans_np = fans.to_numpy(zero_copy_only=False)
    first = _ids(events, "rcpt_first")[fans_np]
    count = _ids(events, "rcpt_count")[fans_np]
    named = pc.equal(events.column("violation").cast(pa.string()), "coworker_name")
    named_np = named.to_numpy(zero_copy_only=False)
    coworkers = coworker_ids(sender[named_np], cc[named_np], n_people)
    marks = np.zeros(n_people + 1, dtype=np.int32)  # +1 at a range's first row, -1 past it
    keep = count > 0
    np.add.at(marks, first[keep], 1)
    np.add.at(marks, first[keep] + count[keep], -1)
    covered = np.cumsum(marks[:n_people]) > 0
    for ids in (sender, cc, coworkers, np.zeros(1, np.int64)):
        ids = ids[(ids != NO_ID) & (ids < n_people)]
        covered[ids] = True
    return np.flatnonzero(covered).astype(np.int64)


def renumber(events: pa.Table, rows: I64) -> pa.Table:
    """`events` with every employee id replaced by its position in `rows` (sorted, and
    holding every id the events name); NO_ID stays NO_ID."""
    for name in ID_COLUMNS:
        ids = _ids(events, name)
        known = ids != NO_ID
        out = np.full(len(ids), NO_ID, dtype=np.int32)
        out[known] = np.searchsorted(rows, ids[known]).astype(np.int32)
        at = events.schema.get_field_index(name)
        events = events.set_column(at, events.schema.field(name), pa.array(out, pa.int32()))
    return events
