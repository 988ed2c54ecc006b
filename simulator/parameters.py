"""Named model parameters with sourced defaults, read from `simulator/data/*.csv`.

Theory of operation: every number a scenario may tune (reply propensities, timing,
content rates, cost assumptions) has one row in a data file with its default, its
allowed bounds, its unit and its source. A scenario table overrides rows by name; a name
that is not in the file is a misspelling and is rejected with the list of known names.

One behaviour setting is a choice, not a number: `[behaviour] timing_model` picks the
reply-delay model by name (`TIMING_MODELS`). It travels in the same flat table as the
numbers, under `TIMING_MODEL`, as its index in `TIMING_MODELS`.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from functools import cache
from importlib import resources

from simulator.validation import Fields, Range

TIMING_MODELS = ("lognormal-mixture", "power-law")  # the first is the default
TIMING_MODEL = "timing.model"  # key of the chosen model's index in a behaviour table


@dataclass(frozen=True)
class ParameterSpec:
    """One row of a parameter file: a default with the bounds a user may set."""

    name: str
    default: Range
    min: float
    max: float
    unit: str
    source: str
    meaning: str


def read_data_file(name: str) -> list[dict[str, str]]:
    """Rows of a CSV shipped in `simulator/data/`."""
    text = resources.files("simulator.data").joinpath(name).read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


@cache
def behaviour_specs() -> dict[str, ParameterSpec]:
    """Behaviour parameters: single values (`value` column)."""
    specs = {}
    for row in read_data_file("behaviour.csv"):
        value = float(row["value"])
        specs[row["name"]] = _spec(row, Range(value, value, value))
    return specs


@cache
def cost_specs() -> dict[str, ParameterSpec]:
    """Cost assumptions: ranges (`low`, `likely`, `high` columns)."""
    specs = {}
    for row in read_data_file("cost_assumptions.csv"):
        default = Range(float(row["low"]), float(row["high"]), float(row["likely"]))
        specs[row["name"]] = _spec(row, default)
    return specs


@cache
def series_specs() -> dict[str, ParameterSpec]:
    """Weekly-series parameters (`series.csv`): ranges, like the cost assumptions."""
    specs = {}
    for row in read_data_file("series.csv"):
        default = Range(float(row["low"]), float(row["high"]), float(row["likely"]))
        specs[row["name"]] = _spec(row, default)
    return specs


@dataclass(frozen=True)
class ExclusionDefault:
    """A category of staff an agency may exclude: its share (a range) and stated reason."""

    category: str
    share: Range
    reason: str
    source: str


@cache
def exclusion_categories() -> dict[str, ExclusionDefault]:
    """Exclusion categories from `exclusions.csv`, in file order."""
    return {
        row["category"]: ExclusionDefault(
            row["category"],
            Range(float(row["low"]), float(row["high"]), float(row["likely"])),
            row["reason"],
            row["source"],
        )
        for row in read_data_file("exclusions.csv")
    }


def _spec(row: dict[str, str], default: Range) -> ParameterSpec:
    return ParameterSpec(
        name=row["name"],
        default=default,
        min=float(row["min"]),
        max=float(row["max"]),
        unit=row["unit"],
        source=row["source"],
        meaning=row["meaning"],
    )


def read_behaviour(fields: Fields) -> dict[str, float]:
    """`[behaviour]` with sub-tables (`[behaviour.timing]`...) into flat dotted names."""
    specs = behaviour_specs()
    values = {name: spec.default.likely for name, spec in specs.items()}
    values[TIMING_MODEL] = 0.0
    groups = sorted({name.split(".")[0] for name in specs if "." in name})
    for key in fields.keys():
        if key == "timing_model":
            model = fields.str(key, choices=TIMING_MODELS)
            values[TIMING_MODEL] = float(TIMING_MODELS.index(model))
        elif key in groups:
            sub = fields.table(key)
            for inner in sub.keys():
                values[_checked_name(sub, inner, f"{key}.{inner}", specs)] = _read_value(
                    sub, inner, specs[f"{key}.{inner}"]
                )
            sub.done()
        elif key in specs:
            values[key] = _read_value(fields, key, specs[key])
    fields.done()
    return values


def read_cost(fields: Fields) -> dict[str, Range]:
    """`[cost]`: each assumption as a number or a `[low, high]` / `[low, likely, high]` range."""
    specs = cost_specs()
    values = {name: spec.default for name, spec in specs.items()}
    for key in fields.keys():
        if key in specs:
            spec = specs[key]
            values[key] = fields.range(key, lo=spec.min, hi=spec.max)
    fields.done()
    return values


def _checked_name(fields: Fields, key: str, name: str, specs: dict[str, ParameterSpec]) -> str:
    if name not in specs:
        known = sorted(n.split(".", 1)[1] for n in specs if n.startswith(name.split(".")[0] + "."))
        raise fields.fail(key, fields.peek(key), f"unknown field; known fields: {', '.join(known)}")
    return name


def _read_value(fields: Fields, key: str, spec: ParameterSpec) -> float:
    value: float = fields.float(key, lo=spec.min, hi=spec.max)
    return value
