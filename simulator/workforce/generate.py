"""The pure workforce generator: calibration tables + scale + seed -> an Arrow table.

Theory of operation: every column is drawn whole with numpy, never row by row. The
layout fixes which id range belongs to which department and sub-agency; the tree gives
managers, depths and supervisors; then grade, pay, duty station, occupation, names and
flags are drawn, each from its own random stream (spawned from the seed by stage), so
the same seed and scale always give identical columns. No clock, disk or network.

Above scale 1 the workforce is a synthetic organisation of `scale` x the federal one:
`copies(scale)` = ceil(scale) copies of the calibrated layout, each at scale / copies
(so each is at most federal-sized; the schema metadata says how many), each with its
own random streams (spawned from the seed and the copy's number), its ids, manager ids
and email ids offset by the rows of the copies before it, so every id and email stays
unique and every manager lies in its employee's copy, under that copy's own department
heads. `build_workforce(..., part=Part(copy, copies, rows))` builds one copy; the
caller writes them one after another, so the whole table need never be in memory.
At scale <= 1 there is one copy, built whole.

Grades are drawn per department and then handed out by position: rows higher in the
tree (smaller depth, plus noise) get the higher grades, so supervisors tend to earn
more while each department's grade mix stays exactly as drawn. Pay is uniform within
the grade's band. The loaded hourly cost is pay x (CBO compensation per worker / mean
pay) / hours actually worked: $117.8k / 1,760 h = about $67/h at the mean salary.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import faker
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from simulator import __version__
from simulator.columns import NO_ID, WORKFORCE
from simulator.scenario import MAX_SCALE
from simulator.workforce.io import COPIES_KEY, stamp
from simulator.workforce.layout import Layout, build_layout
from simulator.workforce.names import sample_names
from simulator.workforce.tables import DEFAULT_MIX, CalibrationTables
from simulator.workforce.tree import Tree, build_tree, unit_of_rows

Progress = Callable[[str, float], None]

# Random streams, one per stage: adding a stage never changes another stage's draws.
STREAMS = ("grade", "pay", "duty", "occupation", "names", "flags")
GRADE_POSITION_NOISE = 1.5  # sd, in tree levels, of the depth key grades are handed out by
POSITION_STEPS_PER_LEVEL = 4  # the key is quantised to quarter levels for a fast radix sort
EMAIL_ID_DIGITS = 7  # the email id is zero-padded to at least this width (2.3M rows: 7)


@dataclass(frozen=True)
class FlagShares:
    """Shares of the workforce carrying each flag (see workforce_flags.csv)."""

    away: float
    stale: float
    contractor: float
    sensitive: float

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"flag share {name} = {value!r}: must be in 0..1")

    @classmethod
    def likely(cls, tables: CalibrationTables) -> FlagShares:
        f = tables.flags
        return cls(
            f["away"].likely, f["stale"].likely, f["contractor"].likely, f["sensitive"].likely
        )


@dataclass(frozen=True)
class Part:
    """One copy of the calibrated layout inside a workforce of several copies."""

    copy: int  # 0-based number of this copy
    copies: int  # copies in the whole workforce
    copy_rows: int  # rows in every copy (they are all laid out alike)

    @property
    def first_id(self) -> int:
        return self.copy * self.copy_rows

    @property
    def total_rows(self) -> int:
        return self.copies * self.copy_rows


COPY_SCALE = 1.0  # the largest copy: one federal workforce


def copies(scale: float, largest: float = COPY_SCALE) -> int:
    """How many copies of the calibrated layout a workforce at `scale` is built from:
    ceil(scale / largest), so no copy is bigger than `largest` (a test passes a small one)."""
    return max(1, int(np.ceil(scale / largest - 1e-12)))


def parts(scale: float, tables: CalibrationTables, largest: float = COPY_SCALE) -> list[Part]:
    """The copies a workforce at `scale` is built from, in row order (one: build it whole)."""
    k = copies(scale, largest)
    rows = build_layout(tables, scale / k).rows
    return [Part(c, k, rows) for c in range(k)]


def _streams(seed: int, copy: int | None = None) -> dict[str, np.random.Generator]:
    entropy = seed if copy is None else [seed, copy]
    children = np.random.SeedSequence(entropy).spawn(len(STREAMS))
    return {name: np.random.default_rng(s) for name, s in zip(STREAMS, children, strict=True)}


def _dictionary(indices: npt.NDArray[np.integer], values: list[str]) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(
        pa.array(indices.astype(np.int16), type=pa.int16()), pa.array(values, type=pa.string())
    )


def _grades(
    rng: np.random.Generator, tables: CalibrationTables, layout: Layout, depth: npt.NDArray[np.int8]
) -> npt.NDArray[np.int64]:
    """Grade-table index per row: drawn per department, higher grades to shallower rows."""
    dept_size = np.bincount(layout.dept_of_unit, weights=layout.units.size).astype(np.int64)
    g = tables.grades
    descending = np.arange(len(g.grade) - 1, -1, -1)
    counts = [rng.multinomial(int(n), g.share)[descending] for n in dept_size]
    by_rank = np.concatenate([np.repeat(descending, c) for c in counts])
    dept_of_row = np.repeat(layout.dept_of_unit, layout.units.size)
    noisy = depth + rng.normal(0.0, GRADE_POSITION_NOISE, len(depth))
    level = np.clip(np.rint(noisy * POSITION_STEPS_PER_LEVEL) + 16, 0, 127).astype(np.int16)
    # One small-integer key, sorted stably (a radix sort): department, then position level.
    order = np.argsort(dept_of_row.astype(np.int16) * 128 + level, kind="stable")
    out = np.empty(len(depth), dtype=np.int64)
    out[order] = by_rank
    return out


def _pay(
    rng: np.random.Generator, tables: CalibrationTables, grade_idx: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    g = tables.grades
    low, high = g.pay_low[grade_idx], g.pay_high[grade_idx]
    pay = low + rng.random(len(grade_idx)) * (high - low)
    basis = tables.pay_basis
    per_dollar = basis["compensation_per_worker"] / basis["mean_pay"]
    hourly = pay * per_dollar / basis["hours_worked_per_year"]
    return pay.astype(np.float32), hourly.astype(np.float32)


def _duty(
    rng: np.random.Generator, tables: CalibrationTables, n: int
) -> tuple[pa.DictionaryArray, pa.DictionaryArray]:
    """Duty state by the state shares; a redacted state (no tz) gets a zone by zone share."""
    states = tables.states
    state_idx = rng.choice(len(states), size=n, p=tables.state_shares())
    zones = [z for z in tables.zones if z.tz]
    tz_names = sorted({s.tz for s in states if s.tz} | {z.tz for z in zones})
    state_tz = np.array([tz_names.index(s.tz) if s.tz else -1 for s in states])
    tz_idx = state_tz[state_idx]
    redacted = np.flatnonzero(tz_idx < 0)
    zone_p = np.array([z.share for z in zones])
    zone_tz = np.array([tz_names.index(z.tz) for z in zones])
    tz_idx[redacted] = zone_tz[rng.choice(len(zones), size=len(redacted), p=zone_p / zone_p.sum())]
    state_names = [s.state for s in states]
    return _dictionary(state_idx, state_names), _dictionary(tz_idx, tz_names)


def _occupations(
    rng: np.random.Generator, tables: CalibrationTables, layout: Layout
) -> pa.DictionaryArray:
    names: list[str] = []
    for mix in tables.occupations.values():
        names += [o for o, _ in mix if o not in names]
    dept_size = np.bincount(layout.dept_of_unit, weights=layout.units.size).astype(np.int64)
    parts = []
    for dept, n in zip(layout.departments, dept_size, strict=True):
        mix = tables.occupations.get(dept, tables.occupations[DEFAULT_MIX])
        codes = np.array([names.index(o) for o, _ in mix])
        parts.append(codes[rng.choice(len(mix), size=int(n), p=[s for _, s in mix])])
    return _dictionary(np.concatenate(parts), names)


def _id_digits(n: int, first: int = 0, total: int | None = None) -> pa.Array:
    """The ids first..first+n-1 as zero-padded decimal strings (as wide as the largest id
    of a workforce of `total` rows, default n), built as one fixed-width byte block."""
    width = max(EMAIL_ID_DIGITS, len(str(max((n if total is None else total) - 1, 0))))
    digits = np.empty((n, width), dtype=np.uint8)
    rest = np.arange(first, first + n, dtype=np.int64)
    for k in range(width - 1, -1, -1):
        digits[:, k] = ord("0") + rest % 10
        rest //= 10
    offsets = np.arange(0, width * (n + 1), width, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(digits))


def _emails(
    layout: Layout, first_ascii: pa.Array, last_ascii: pa.Array, part: Part | None = None
) -> pa.Array:
    """first.last.<zero-padded employee id>@<agency domain>: unique because ids are."""
    digits = (
        _id_digits(layout.rows)
        if part is None
        else _id_digits(layout.rows, part.first_id, part.total_rows)
    )
    local = pc.binary_join_element_wise(first_ascii, last_ascii, digits, ".")
    domains = pa.array([s.domain for s in layout.specs], type=pa.string())
    unit = pa.array(unit_of_rows(layout.units).astype(np.int32), type=pa.int32())
    return pc.binary_join_element_wise(local, domains.take(unit), "@")


def _flags(
    rng: np.random.Generator, shares: FlagShares, is_supervisor: npt.NDArray[np.bool_]
) -> dict[str, npt.NDArray[np.bool_]]:
    """Independent flags; contractors only among non-supervisors, at the same overall share."""
    n = len(is_supervisor)
    draws = rng.random((4, n))
    non_supervisor = max(1.0 - float(is_supervisor.mean()) if n else 1.0, 1e-9)
    return {
        "is_contractor": (draws[0] < min(shares.contractor / non_supervisor, 1.0)) & ~is_supervisor,
        "is_away": draws[1] < shares.away,
        "is_stale": draws[2] < shares.stale,
        "is_sensitive": draws[3] < shares.sensitive,
    }


def _structure_columns(layout: Layout, tree: Tree, first_id: int = 0) -> dict[str, pa.Array]:
    unit = unit_of_rows(layout.units)
    manager = tree.manager_id
    if first_id:
        manager = np.where(manager == NO_ID, manager, manager + np.int32(first_id))
    return {
        "employee_id": pa.array(np.arange(first_id, first_id + layout.rows, dtype=np.int32)),
        "department": _dictionary(layout.dept_of_unit[unit], list(layout.departments)),
        "subagency": _dictionary(unit, [s.code for s in layout.specs]),
        "is_supervisor": pa.array(tree.is_supervisor),
        "manager_id": pa.array(manager),
        "depth": pa.array(tree.depth),
    }


def build_workforce(
    scale: float,
    seed: int,
    tables: CalibrationTables,
    flags: FlagShares | None = None,
    progress: Progress | None = None,
    part: Part | None = None,
) -> pa.Table:
    """One row per employee, matching `simulator.columns.WORKFORCE`. Pure and deterministic.

    Above scale 1, `part` says which copy to build (see `parts`); each call returns that
    copy's rows only, with ids, manager ids and emails already offset.
    """
    if not 0 < scale <= MAX_SCALE:
        raise ValueError(f"scale = {scale!r}: must be > 0 and <= {MAX_SCALE:g}")
    if scale > COPY_SCALE and part is None:
        raise ValueError(f"scale = {scale!r}: above {COPY_SCALE:g}, build it copy by copy")
    report = progress or (lambda stage, done: None)
    rng = _streams(seed, None if part is None else part.copy)
    shares = flags or FlagShares.likely(tables)
    report("layout and manager tree", 0.0)
    layout = build_layout(tables, scale if part is None else scale / part.copies)
    tree = build_tree(layout.units)
    cols = _structure_columns(layout, tree, 0 if part is None else part.first_id)
    report("grades and pay", 0.2)
    grade_idx = _grades(rng["grade"], tables, layout, tree.depth)
    pay, hourly = _pay(rng["pay"], tables, grade_idx)
    cols |= {"grade": pa.array(tables.grades.grade[grade_idx]), "pay": pa.array(pay)}
    cols["hourly_cost"] = pa.array(hourly)
    report("duty stations and occupations", 0.4)
    cols["duty_state"], cols["tz"] = _duty(rng["duty"], tables, layout.rows)
    cols["occupation"] = _occupations(rng["occupation"], tables, layout)
    report("names and emails", 0.6)
    names = sample_names(rng["names"], layout.rows)
    cols |= {"first_name": names.first, "last_name": names.last}
    cols["email"] = _emails(layout, names.first_ascii, names.last_ascii, part)
    report("flags", 0.9)
    cols |= {k: pa.array(v) for k, v in _flags(rng["flags"], shares, tree.is_supervisor).items()}
    report("done", 1.0)
    table = pa.Table.from_arrays([cols[f.name] for f in WORKFORCE], schema=WORKFORCE)
    table = stamp(table, _provenance(scale, seed, tables))
    return table if part is None else stamp(table, {COPIES_KEY: part.copies})


def _provenance(scale: float, seed: int, tables: CalibrationTables) -> dict[str, object]:
    return {
        "seed": seed,
        "scale": scale,
        "version": __version__,
        "tables_sha256": tables.digest,
        "faker_version": faker.VERSION,
    }
