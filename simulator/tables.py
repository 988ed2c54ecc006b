"""Reading a stage's Parquet file at the boundary, with its columns checked.

Theory of operation: every stage table (the workforce, the schedule, a replay's results)
is read through `read_stage`, which knows each table's schema from `simulator.columns`.
It reads only the columns asked for (all of them by default), checks that each is there
with the stage schema's type (a dictionary column may arrive as plain strings) and casts
it to that type. A missing file, a directory, a file that is not Parquet, a missing
column or a wrong type is an `InputError` naming the file, the column and the value, so
every command reports a bad stage file the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

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


def read_stage(path: Path, stage: Stage, columns: Sequence[str] | None = None) -> pa.Table:
    """The `columns` of a stage's Parquet file (default: all), checked and cast."""
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
    try:
        table = pq.read_table(path, columns=names)
        want = pa.schema([schema.field(n) for n in names], metadata=table.schema.metadata)
        return table.cast(want)
    except (OSError, pa.ArrowInvalid, pa.ArrowNotImplementedError) as err:
        raise InputError(str(path), stage, str(path), f"cannot be read as {stage}: {err}") from None


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
