"""Reading a stage's Parquet file at the boundary, with its columns checked.

Theory of operation: a command that takes a table from the user (a schedule, a
workforce) checks once, on reading, that the columns it uses are there with the types of
the stage schema in `simulator.columns`; a missing file, a file that is not Parquet, a
missing column or a wrong type is an `InputError` naming the file and the column.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from simulator.validation import InputError


def read_table(path: Path, schema: pa.Schema, needed: tuple[str, ...], what: str) -> pa.Table:
    """Read a Parquet file, checking that the columns the replay uses are there."""
    if not path.is_file():
        raise InputError(str(path), what, str(path), "no such file")
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowInvalid) as err:
        raise InputError(
            str(path), what, str(path), f"not a readable Parquet file ({err})"
        ) from None
    for name in needed:
        if name not in table.column_names:
            raise InputError(
                str(path), name, "(missing)", f"column required: a {what} table needs {name}"
            )
        want = schema.field(name).type
        got = table.schema.field(name).type
        if got != want and not (pa.types.is_dictionary(want) and got == pa.string()):
            raise InputError(str(path), name, str(got), f"column must be of type {want}")
    return table
