"""Interval reports of a running replay: finished rows and histograms, framed for a pipe.

Theory of operation: a replay that runs somewhere else (a Locust worker's engine child,
`simulator.app.storm_share`) hands what finished since its last report to whoever
collects the run. A report is a plain dict: the finished `columns.RESULTS` rows as Arrow
IPC bytes (`rows`), the row count (`count`), and flags (`final`, `interrupted`,
`refused`). `rows_of` builds the rows from a `Recorder`'s finished positions with the
same late marking as a finished run, so merging the reports' rows gives the figures the
run itself would. No histogram travels: building one costs the engine about half a
millisecond per report on its event loop, and whoever merges the rows builds them once
(`record.build_histograms`).

On a byte stream (the child's stdout), a frame is two big-endian u32 lengths, a JSON
header (every field but `rows`) and the rows' bytes. `encode_frame` writes one;
`read_frame(read)` reads one with any `read(n) -> bytes` (a gevent pipe, a file), None at
the end of the stream. Nothing here touches a clock, a socket or a file.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from simulator.traffic.record import Recorder, results_table

I64 = npt.NDArray[np.int64]
Report = dict[str, Any]

HEAD = struct.Struct(">II")  # header length, rows length
MAX_HEADER_BYTES = 16 << 20  # a frame header larger than this is a corrupt stream


def table_to_ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def table_from_ipc(data: bytes) -> pa.Table:
    return pa.ipc.open_stream(pa.py_buffer(data)).read_all()


def rows_of(rec: Recorder, positions: I64, late_after_us: int) -> pa.Table:
    """RESULTS rows of the given finished positions of a recorder."""
    names = rec.error_names()
    return results_table(
        rec.event_ids[positions], rec.intended[positions], rec.sent[positions],
        rec.done_at[positions], rec.status[positions], rec.outcome[positions],
        rec.retries[positions], rec.nbytes[positions], rec.error[positions], names,
        late_after_us,
    )  # fmt: skip


def report_of(rows: pa.Table, **flags: Any) -> Report:
    """A report of these finished rows: their IPC bytes and count, and the flags."""
    return {"rows": table_to_ipc(rows), "count": rows.num_rows, **flags}


def encode_frame(report: Report) -> bytes:
    """One report as a frame: lengths, JSON header, rows."""
    rows = bytes(report.get("rows", b""))
    header = {k: _plain(v) for k, v in report.items() if k != "rows"}
    head = json.dumps(header, separators=(",", ":")).encode()
    return HEAD.pack(len(head), len(rows)) + head + rows


def read_frame(read: Callable[[int], bytes]) -> Report | None:
    """The next report of a stream of frames; None at its end (a cut-off frame too)."""
    head = _exactly(read, HEAD.size)
    if head is None:
        return None
    head_len, rows_len = HEAD.unpack(head)
    if head_len > MAX_HEADER_BYTES:
        raise ValueError(f"frame header of {head_len} bytes: not a report stream")
    header = _exactly(read, head_len)
    rows = _exactly(read, rows_len)
    if header is None or rows is None:
        return None
    report: Report = json.loads(header)
    report["rows"] = rows
    return report


def _exactly(read: Callable[[int], bytes], n: int) -> bytes | None:
    parts, left = [], n
    while left > 0:
        chunk = read(left)
        if not chunk:
            return None
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def _plain(value: Any) -> Any:
    return value.decode("ascii") if isinstance(value, bytes) else value
