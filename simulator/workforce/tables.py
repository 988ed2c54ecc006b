"""Calibration tables: the public figures the workforce is drawn from, read from CSV files.

Theory of operation: every number from the world lives in a CSV file under
`simulator/data/` with a `source` column (publication and date). `load_tables` reads the files
once, checks every cell (a bad cell is an `InputError` naming the file, row and column),
and returns a frozen `CalibrationTables` holding plain tuples and numpy arrays. The
sha256 of the files' bytes goes into the workforce manifest, so a population can be
traced to the exact tables it came from.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from simulator.validation import InputError, Range

T = TypeVar("T")

DATA_DIR = Path(__file__).resolve().parent.parent / "data"

FILES = (
    "agencies.csv",
    "small_agencies.csv",
    "supervisors.csv",
    "pay_grades.csv",
    "pay_basis.csv",
    "timezones.csv",
    "duty_states.csv",
    "occupations.csv",
    "workforce_flags.csv",
)

SMALL = "SMALL"  # the department code whose headcount is split over the small agencies
DEFAULT_MIX = "*"  # occupations.csv: the mix for departments without rows of their own
REDACTED_STATE = "XX"
FLAG_NAMES = ("away", "stale", "contractor", "sensitive")
PAY_BASIS_NAMES = (
    "mean_pay",
    "median_pay",
    "compensation_per_worker",
    "hours_worked_per_year",
    "supervisor_share",
)


@dataclass(frozen=True)
class Agency:
    """A department (parent "") or one of its sub-agencies."""

    code: str
    parent: str
    name: str
    headcount: int
    domain: str


@dataclass(frozen=True)
class Zone:
    """A time zone's share of the workforce; `tz` is "" for the redacted share."""

    zone: str
    tz: str
    share: float


@dataclass(frozen=True)
class DutyState:
    state: str
    zone: str
    tz: str
    weight: float


@dataclass(frozen=True)
class GradeTable:
    """Grade shares and the pay band (uniform, low..high) inside each grade."""

    grade: npt.NDArray[np.int8]
    share: npt.NDArray[np.float64]
    pay_low: npt.NDArray[np.float64]
    pay_high: npt.NDArray[np.float64]


@dataclass(frozen=True)
class CalibrationTables:
    departments: tuple[Agency, ...]
    subagencies: tuple[Agency, ...]  # sub-agencies of departments, in file order
    small_agencies: tuple[Agency, ...]
    spans: dict[str, float]
    grades: GradeTable
    pay_basis: dict[str, float]
    zones: tuple[Zone, ...]
    states: tuple[DutyState, ...]
    occupations: dict[str, tuple[tuple[str, float], ...]]
    flags: dict[str, Range]
    sources: dict[str, str]  # file name -> first row's source, for the report
    digest: str  # sha256 over the files' bytes, in FILES order

    def state_shares(self) -> npt.NDArray[np.float64]:
        """Each duty state's share: its zone's share split by the states' weights."""
        zone_share = {z.zone: z.share for z in self.zones}
        zone_weight: dict[str, float] = {}
        for s in self.states:
            zone_weight[s.zone] = zone_weight.get(s.zone, 0.0) + s.weight
        shares = [zone_share[s.zone] * s.weight / zone_weight[s.zone] for s in self.states]
        out = np.asarray(shares, dtype=np.float64)
        normalised: npt.NDArray[np.float64] = out / out.sum()
        return normalised


# -- reading --------------------------------------------------------------------------


class _Rows:
    """The rows of one CSV file, with checked cell accessors."""

    def __init__(self, path: Path, columns: tuple[str, ...]) -> None:
        self.path = path
        if not path.is_file():
            raise InputError(str(path), "(file)", str(path), "calibration file is missing")
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            missing = [c for c in columns if c not in (reader.fieldnames or [])]
            if missing:
                raise InputError(
                    str(path), "(header)", reader.fieldnames, f"needs columns {', '.join(columns)}"
                )
            self.rows = list(reader)
        if not self.rows:
            raise InputError(str(path), "(rows)", 0, "needs at least one data row")

    def cell(self, i: int, column: str, convert: Callable[[str], T], allowed: str) -> T:
        raw = self.rows[i][column]
        try:
            return convert(raw)
        except (TypeError, ValueError):
            raise InputError(str(self.path), f"row {i + 2} column {column}", raw, allowed) from None

    def number(self, i: int, column: str, lo: float = 0.0, hi: float = float("inf")) -> float:
        value = self.cell(i, column, float, "must be a number")
        if not lo <= value <= hi:
            raise InputError(
                str(self.path), f"row {i + 2} column {column}", value, f"must be in {lo}..{hi}"
            )
        return value

    def text(self, i: int, column: str, required: bool = True) -> str:
        value = self.rows[i][column].strip()
        if required and not value:
            raise InputError(str(self.path), f"row {i + 2} column {column}", value, "is required")
        return value

    def fail(self, i: int, column: str, value: object, allowed: str) -> InputError:
        return InputError(str(self.path), f"row {i + 2} column {column}", value, allowed)


def _agencies(rows: _Rows) -> list[Agency]:
    out = []
    for i in range(len(rows.rows)):
        domain = rows.text(i, "domain")
        if not (domain.endswith(".example") or domain.endswith(".test")):
            raise rows.fail(i, "domain", domain, "must be a reserved domain (.example or .test)")
        parent = rows.text(i, "parent", required=False) if "parent" in rows.rows[i] else SMALL
        out.append(
            Agency(
                code=rows.text(i, "code"),
                parent=parent,
                name=rows.text(i, "name"),
                headcount=int(rows.number(i, "headcount", 0, 1e7)),
                domain=domain.lower(),
            )
        )
    return out


def _check_agencies(path: Path, agencies: list[Agency], small: list[Agency]) -> None:
    departments = {a.code: a for a in agencies if not a.parent}
    if SMALL not in departments:
        raise InputError(str(path), "code", SMALL, "a SMALL row is required")
    for dept in departments.values():
        subs = sum(a.headcount for a in agencies if a.parent == dept.code)
        if dept.code == SMALL:
            subs = sum(a.headcount for a in small)
            if subs != dept.headcount:
                raise InputError(
                    "small_agencies.csv", "headcount", subs, f"must sum to {dept.headcount}"
                )
        if subs > dept.headcount:
            raise InputError(str(path), f"{dept.code}.headcount", dept.headcount, ">= sub-agencies")
    for a in agencies:
        if a.parent and a.parent not in departments:
            raise InputError(str(path), f"{a.code}.parent", a.parent, "must be a department code")


def _grades(rows: _Rows) -> GradeTable:
    n = len(rows.rows)
    grade = np.array([rows.number(i, "grade", 1, 16) for i in range(n)], dtype=np.int8)
    share = np.array([rows.number(i, "share", 0, 1) for i in range(n)])
    low = np.array([rows.number(i, "pay_low", 0, 1e7) for i in range(n)])
    high = np.array([rows.number(i, "pay_high", 0, 1e7) for i in range(n)])
    if np.any(low > high):
        raise InputError(str(rows.path), "pay_low", low.tolist(), "must be <= pay_high")
    if abs(share.sum() - 1.0) > 1e-3:
        raise InputError(str(rows.path), "share", share.sum(), "shares must sum to 1")
    return GradeTable(grade, share / share.sum(), low, high)


def _named_numbers(rows: _Rows, names: tuple[str, ...]) -> dict[str, float]:
    out = {rows.text(i, "name"): rows.number(i, "value") for i in range(len(rows.rows))}
    for name in names:
        if name not in out:
            raise InputError(str(rows.path), "name", name, "row is required")
    return out


def _zones(rows: _Rows) -> list[Zone]:
    zones = [
        Zone(rows.text(i, "zone"), rows.text(i, "tz", False), rows.number(i, "share", 0, 1))
        for i in range(len(rows.rows))
    ]
    total = sum(z.share for z in zones)
    if abs(total - 1.0) > 1e-3:
        raise InputError(str(rows.path), "share", total, "shares must sum to 1")
    return zones


def _states(rows: _Rows, zones: list[Zone]) -> list[DutyState]:
    known = {z.zone for z in zones}
    out = []
    for i in range(len(rows.rows)):
        zone = rows.text(i, "zone")
        if zone not in known:
            raise rows.fail(i, "zone", zone, f"must be one of {', '.join(sorted(known))}")
        tz = rows.text(i, "tz", required=False)
        out.append(DutyState(rows.text(i, "state"), zone, tz, rows.number(i, "weight", 0)))
    missing = known - {s.zone for s in out}
    if missing:
        raise InputError(str(rows.path), "zone", sorted(missing), "every zone needs a state")
    return out


def _occupations(rows: _Rows) -> dict[str, tuple[tuple[str, float], ...]]:
    mixes: dict[str, list[tuple[str, float]]] = {}
    for i in range(len(rows.rows)):
        dept = rows.text(i, "department")
        mixes.setdefault(dept, []).append(
            (rows.text(i, "occupation"), rows.number(i, "share", 0, 1))
        )
    if DEFAULT_MIX not in mixes:
        raise InputError(str(rows.path), "department", DEFAULT_MIX, "a default mix is required")
    out = {}
    for dept, mix in mixes.items():
        total = sum(s for _, s in mix)
        if total <= 0:
            raise InputError(str(rows.path), f"{dept}.share", total, "must sum to more than 0")
        out[dept] = tuple((o, s / total) for o, s in mix)
    return out


def _flags(rows: _Rows) -> dict[str, Range]:
    out = {}
    for i in range(len(rows.rows)):
        name = rows.text(i, "flag")
        low, likely, high = (rows.number(i, c, 0, 1) for c in ("low", "likely", "high"))
        if not low <= likely <= high:
            raise rows.fail(i, "likely", likely, "must satisfy low <= likely <= high")
        out[name] = Range(low=low, high=high, likely=likely)
    for name in FLAG_NAMES:
        if name not in out:
            raise InputError(str(rows.path), "flag", name, "row is required")
    return out


def load_tables(path: Path | None = None) -> CalibrationTables:
    """Read and check the calibration CSV files in `path` (None: the built-in files)."""
    base = DATA_DIR if path is None else Path(path)
    if not base.is_dir():
        raise InputError(str(base), "--tables", str(base), "must be a directory of CSV files")
    read = {
        "agencies.csv": ("code", "parent", "name", "headcount", "domain", "source"),
        "small_agencies.csv": ("code", "name", "headcount", "domain", "source"),
        "supervisors.csv": ("department", "span", "source"),
        "pay_grades.csv": ("grade", "share", "pay_low", "pay_high", "source"),
        "pay_basis.csv": ("name", "value", "source"),
        "timezones.csv": ("zone", "tz", "share", "source"),
        "duty_states.csv": ("state", "zone", "tz", "weight", "source"),
        "occupations.csv": ("department", "occupation", "share", "source"),
        "workforce_flags.csv": ("flag", "low", "likely", "high", "source"),
    }
    rows = {name: _Rows(base / name, cols) for name, cols in read.items()}
    agencies = _agencies(rows["agencies.csv"])
    small = _agencies(rows["small_agencies.csv"])
    _check_agencies(base / "agencies.csv", agencies, small)
    departments = tuple(a for a in agencies if not a.parent)
    spans = _spans(rows["supervisors.csv"], departments)
    zones = _zones(rows["timezones.csv"])
    return CalibrationTables(
        departments=departments,
        subagencies=tuple(a for a in agencies if a.parent),
        small_agencies=tuple(small),
        spans=spans,
        grades=_grades(rows["pay_grades.csv"]),
        pay_basis=_named_numbers(rows["pay_basis.csv"], PAY_BASIS_NAMES),
        zones=tuple(zones),
        states=tuple(_states(rows["duty_states.csv"], zones)),
        occupations=_occupations(rows["occupations.csv"]),
        flags=_flags(rows["workforce_flags.csv"]),
        sources={name: r.rows[0].get("source", "") for name, r in rows.items()},
        digest=_digest(base),
    )


def _spans(rows: _Rows, departments: tuple[Agency, ...]) -> dict[str, float]:
    spans = {
        rows.text(i, "department"): rows.number(i, "span", 1.5, 100) for i in range(len(rows.rows))
    }
    for dept in departments:
        if dept.code not in spans:
            raise InputError(
                str(rows.path), "department", dept.code, "every department needs a span"
            )
    return spans


def _digest(base: Path) -> str:
    h = hashlib.sha256()
    for name in FILES:
        h.update(name.encode())
        h.update((base / name).read_bytes())
    return h.hexdigest()
