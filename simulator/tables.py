"""Reading a stage's Parquet file at the boundary, with its columns checked.

Theory of operation: every stage table (the workforce, the schedule, a replay's results)
is read through `read_stage`, which knows each table's schema from `simulator.columns`.
It reads only the columns asked for (all of them by default), checks that each is there
with the stage schema's type (a dictionary column may arrive as plain strings) and casts
it to that type. A missing file, a directory, a file that is not Parquet, a missing
column or a wrong type is an `InputError` naming the file, the column and the value, so
every command reports a bad stage file the same way.

`read_rows` reads only some rows of a stage file (a replay's window of the schedule, the
employees its events name), in the order asked: it skips the row groups that hold none
of them and decodes the others a batch at a time, keeping only the rows wanted, so the
memory it needs is the rows it returns plus one batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

from simulator.columns import RESULTS, SCHEDULE, WORKFORCE
from simulator.validation import InputError

Stage = Literal["workforce", "schedule", "results"]
SCHEMAS: dict[Stage, pa.Schema] = {
    "workforce": WORKFORCE,
    "schedule": SCHEDULE,
    "results": RESULTS,
}


BATCH_ROWS = 65_536  # rows `read_rows` decodes at a time


def read_stage(path: Path, stage: Stage, columns: Sequence[str] | None = None) -> pa.Table:
    """The `columns` of a stage's Parquet file (default: all), checked and cast."""
    names = _checked(path, stage, columns)
    try:
        table = pq.read_table(path, columns=names)
        return _cast(table, stage, names)
    except (OSError, pa.ArrowInvalid, pa.ArrowNotImplementedError) as err:
        raise InputError(str(path), stage, str(path), f"cannot be read as {stage}: {err}") from None


def read_rows(
    path: Path, stage: Stage, rows: npt.NDArray[np.int64], columns: Sequence[str] | None = None
) -> pa.Table:
    """Rows `rows` (distinct row numbers, in the order wanted) of a stage's Parquet file:
    `read_stage(path, stage, columns).take(rows)`, without reading the rest."""
    names = _checked(path, stage, columns)
    rows = np.asarray(rows, dtype=np.int64)
    order = np.argsort(rows, kind="stable")
    wanted = rows[order]
    try:
        file = pq.ParquetFile(path)
        if len(wanted) and (wanted[0] < 0 or wanted[-1] >= file.metadata.num_rows):
            raise IndexError(f"row {int(wanted[-1])} of {file.metadata.num_rows}")
        pieces = []
        base = 0
        for group in range(file.metadata.num_row_groups):
            end = base + file.metadata.row_group(group).num_rows
            lo, hi = np.searchsorted(wanted, [base, end])
            if hi > lo:
                batches = file.iter_batches(BATCH_ROWS, row_groups=[group], columns=names)
                for batch in batches:
                    stop = base + batch.num_rows
                    a, b = np.searchsorted(wanted, [base, stop])
                    if b - a == batch.num_rows:  # distinct rows: every one is wanted
                        pieces.append(batch)
                    elif b > a:
                        pieces.append(batch.take(pa.array(wanted[a:b] - base)))
                    base = stop
            base = end
        schema = file.schema_arrow
        empty = pa.Table.from_pylist([], pa.schema([schema.field(n) for n in names]))
        table = pa.Table.from_batches(pieces) if pieces else empty
        table = _cast(table, stage, names)
        if np.all(order[1:] > order[:-1]):  # asked for in file order already
            return table
        inverse = np.empty_like(order)
        inverse[order] = np.arange(len(order))
        return table.take(pa.array(inverse))
    except (OSError, IndexError, pa.ArrowInvalid, pa.ArrowNotImplementedError) as err:
        raise InputError(str(path), stage, str(path), f"cannot be read as {stage}: {err}") from None


def _cast(table: pa.Table, stage: Stage, names: Sequence[str]) -> pa.Table:
    schema = SCHEMAS[stage]
    want = pa.schema([schema.field(n) for n in names], metadata=table.schema.metadata)
    return table.cast(want)


def _checked(path: Path, stage: Stage, columns: Sequence[str] | None) -> list[str]:
    """The column names to read, once the file is found to hold each with its type."""
    schema = SCHEMAS[stage]
    names = list(schema.names if columns is None else columns)
    path = Path(path)
    if not path.is_file():
        raise InputError(str(path), stage, str(path), "no such file")
    try:
        present = pq.read_schema(path)
    except (OSError, pa.ArrowInvalid) as err:
        raise InputError(
            str(path), stage, str(path), f"not a readable Parquet file ({err})"
        ) from None
    for name in names:
        if name not in present.names:
            raise InputError(
                str(path), name, "(missing)", f"column required: a {stage} table needs {name}"
            )
        want, got = schema.field(name).type, present.field(name).type
        if got != want and not _same_strings(want, got):
            raise InputError(str(path), name, str(got), f"column must be of type {want}")
    return names


def _same_strings(want: pa.DataType, got: pa.DataType) -> bool:
    """A dictionary column may arrive as plain strings or with other index widths."""
    if not pa.types.is_dictionary(want):
        return False
    return bool(
        got == want.value_type
        or (pa.types.is_dictionary(got) and got.value_type == want.value_type)
    )


def manifest_path(path: Path) -> Path:
    """The JSON manifest beside a stage file: `<file>.manifest.json`."""
    return path.with_name(path.name + ".manifest.json")
