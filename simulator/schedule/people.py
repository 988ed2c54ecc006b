"""The workforce columns a schedule needs, as numpy arrays and dictionary codes.

Theory of operation: the workforce table stores departments, sub-agencies, occupations
and time zones as Arrow dictionaries; the builder works on their integer codes and looks
names up once per code. Employee ids are row numbers, so an array index is an id.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa

I64 = npt.NDArray[np.int64]
BOOL = npt.NDArray[np.bool_]

NEEDED = (
    "department",
    "subagency",
    "occupation",
    "manager_id",
    "tz",
    "first_name",
    "last_name",
    "is_contractor",
    "is_away",
    "is_stale",
    "is_sensitive",
)


@dataclass(frozen=True)
class Coded:
    """A dictionary column: integer codes and the names they stand for."""

    codes: I64
    names: list[str]


@dataclass(frozen=True)
class People:
    department: Coded
    subagency: Coded
    occupation: Coded
    tz: Coded
    manager: I64
    contractor: BOOL
    away: BOOL
    stale: BOOL
    sensitive: BOOL
    first_name: pa.Array
    last_name: pa.Array

    def __len__(self) -> int:
        return len(self.manager)


def _coded(column: pa.Array) -> Coded:
    if not pa.types.is_dictionary(column.type):
        column = column.dictionary_encode()
    codes = column.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    return Coded(codes, [str(v) for v in column.dictionary.to_pylist()])


def _bools(column: pa.Array) -> BOOL:
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.bool_)


def people_from_table(table: pa.Table) -> People:
    """Columns of a WORKFORCE-shaped table (extra columns are ignored)."""
    t = table.select(list(NEEDED)).unify_dictionaries().combine_chunks()
    col = {
        name: t.column(name).chunk(0)
        if t.column(name).num_chunks
        else pa.array([], type=t.schema.field(name).type)
        for name in NEEDED
    }
    return People(
        department=_coded(col["department"]),
        subagency=_coded(col["subagency"]),
        occupation=_coded(col["occupation"]),
        tz=_coded(col["tz"]),
        manager=col["manager_id"].to_numpy(zero_copy_only=False).astype(np.int64),
        contractor=_bools(col["is_contractor"]),
        away=_bools(col["is_away"]),
        stale=_bools(col["is_stale"]),
        sensitive=_bools(col["is_sensitive"]),
        first_name=col["first_name"],
        last_name=col["last_name"],
    )
