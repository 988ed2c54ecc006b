"""The calibration report: each published marginal beside the generated one, with a score.

Theory of operation: a marginal is one published distribution (department shares, time
zones, grades, pay, flags ...) and the same distribution measured on a generated table.
Categories are scored by total variation distance (half the L1 gap between the share
vectors, 0 = identical, 1 = disjoint); continuous values by the Kolmogorov-Smirnov
statistic against the calibration model's CDF; single published figures (mean pay,
median pay, hourly cost) by their relative gap. The report lists every marginal and the
worst gaps first. Pure: it reads only the table and the calibration tables.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from simulator.workforce.io import provenance
from simulator.workforce.layout import unit_specs
from simulator.workforce.tables import DEFAULT_MIX, REDACTED_STATE, CalibrationTables

WORST_SHOWN = 5
Shares = dict[str, float]


def total_variation(published: Mapping[str, float], generated: Mapping[str, float]) -> float:
    """Half the L1 distance between two share vectors over the union of categories."""
    keys = set(published) | set(generated)
    return 0.5 * sum(abs(published.get(k, 0.0) - generated.get(k, 0.0)) for k in keys)


def ks_statistic(values: npt.NDArray[np.float64], cdf: npt.NDArray[np.float64]) -> float:
    """KS distance of sorted `values` whose model CDF at each value is `cdf`."""
    n = len(values)
    if n == 0:
        return 1.0
    upper = np.arange(1, n + 1) / n - cdf
    lower = cdf - np.arange(0, n) / n
    return float(max(upper.max(), lower.max()))


def _counts(column: pa.Array) -> Shares:
    dense = column.dictionary_decode() if pa.types.is_dictionary(column.type) else column
    counts = dense.value_counts()
    total = max(len(column), 1)
    return {
        str(v): c / total
        for v, c in zip(
            counts.field("values").to_pylist(), counts.field("counts").to_pylist(), strict=True
        )
    }


def _normalise(weights: Mapping[str, float]) -> Shares:
    total = sum(weights.values())
    return {k: v / total for k, v in weights.items()}


def _category(name: str, published: Shares, generated: Shares, source: str) -> dict[str, Any]:
    score = total_variation(published, generated)
    return _entry(name, "category", "total variation", score, published, generated, source)


def _entry(
    name: str, kind: str, metric: str, score: float, published: Any, generated: Any, source: str
) -> dict[str, Any]:
    return {
        "name": name,
        "kind": kind,
        "metric": metric,
        "score": round(float(score), 6),
        "published": published,
        "generated": generated,
        "source": source,
    }


def _yes_share(flag: npt.NDArray[np.bool_]) -> float:
    return float(flag.mean()) if len(flag) else 0.0


def _column(table: pa.Table, name: str) -> pa.Array:
    return table.column(name).combine_chunks()


def _agency_marginals(table: pa.Table, tables: CalibrationTables) -> list[dict[str, Any]]:
    src = tables.sources["agencies.csv"]
    depts = _normalise({d.code: d.headcount for d in tables.departments})
    units = _normalise({u.code: u.headcount for u in unit_specs(tables)})
    return [
        _category("department", depts, _counts(_column(table, "department")), src),
        _category("sub-agency", units, _counts(_column(table, "subagency")), src),
    ]


def _zone_marginals(table: pa.Table, tables: CalibrationTables) -> list[dict[str, Any]]:
    zone_of_tz = {z.tz: z.zone for z in tables.zones if z.tz}
    zone_of_tz |= {s.tz: s.zone for s in tables.states if s.tz}
    states = _column(table, "duty_state").dictionary_decode().to_numpy(zero_copy_only=False)
    tz = _column(table, "tz").dictionary_decode().to_numpy(zero_copy_only=False)
    zones = np.where(states == REDACTED_STATE, "Redacted", [zone_of_tz.get(t, t) for t in tz])
    values, counts = np.unique(zones, return_counts=True)
    generated = {str(v): c / max(len(zones), 1) for v, c in zip(values, counts, strict=True)}
    published = {z.zone: z.share for z in tables.zones}
    state_published = dict(
        zip([s.state for s in tables.states], tables.state_shares().tolist(), strict=True)
    )
    return [
        _category("time zone", published, generated, tables.sources["timezones.csv"]),
        _category(
            "duty state",
            state_published,
            _counts(_column(table, "duty_state")),
            tables.sources["duty_states.csv"],
        ),
    ]


def _occupation_marginal(table: pa.Table, tables: CalibrationTables) -> dict[str, Any]:
    weights: dict[str, float] = {}
    for dept in tables.departments:
        mix = tables.occupations.get(dept.code, tables.occupations[DEFAULT_MIX])
        for occupation, share in mix:
            weights[occupation] = weights.get(occupation, 0.0) + share * dept.headcount
    generated = _counts(_column(table, "occupation"))
    return _category(
        "occupation", _normalise(weights), generated, tables.sources["occupations.csv"]
    )


def _pay_marginals(table: pa.Table, tables: CalibrationTables) -> list[dict[str, Any]]:
    g = tables.grades
    pay = np.sort(_column(table, "pay").to_numpy().astype(np.float64))
    width = np.maximum(g.pay_high - g.pay_low, 1e-9)
    cdf = np.zeros(len(pay))
    for share, low, w in zip(g.share, g.pay_low, width, strict=True):
        cdf += share * np.clip((pay - low) / w, 0.0, 1.0)
    basis, src = tables.pay_basis, tables.sources["pay_basis.csv"]
    mean = float(pay.mean()) if len(pay) else 0.0
    median = float(np.median(pay)) if len(pay) else 0.0
    hourly = float(_column(table, "hourly_cost").to_numpy().astype(np.float64).mean())
    hourly_published = basis["compensation_per_worker"] / basis["hours_worked_per_year"]
    grades = {str(int(k)): float(s) for k, s in zip(g.grade, g.share, strict=True)}
    return [
        _category("grade", grades, _counts(_column(table, "grade")), src),
        _entry(
            "pay distribution",
            "continuous",
            "Kolmogorov-Smirnov",
            ks_statistic(pay, cdf),
            "grade bands of pay_grades.csv",
            "generated pay",
            tables.sources["pay_grades.csv"],
        ),
        _relative("pay mean", basis["mean_pay"], mean, src),
        _relative("pay median", basis["median_pay"], median, src),
        _relative("hourly cost mean", hourly_published, hourly, src),
    ]


def _relative(name: str, published: float, generated: float, source: str) -> dict[str, Any]:
    gap = abs(generated - published) / published if published else abs(generated)
    return _entry(
        name, "figure", "relative gap", gap, round(published, 2), round(generated, 2), source
    )


def _two_way(name: str, published: float, generated: float, source: str) -> dict[str, Any]:
    pub = {"yes": published, "no": 1.0 - published}
    gen = {"yes": generated, "no": 1.0 - generated}
    entry = _category(name, pub, gen, source)
    entry["published"], entry["generated"] = round(published, 6), round(generated, 6)
    return entry


def _people_marginals(table: pa.Table, tables: CalibrationTables) -> list[dict[str, Any]]:
    supervisors = _yes_share(_column(table, "is_supervisor").to_numpy(zero_copy_only=False))
    out = [
        _two_way(
            "supervisor share",
            tables.pay_basis["supervisor_share"],
            supervisors,
            tables.sources["pay_basis.csv"],
        )
    ]
    src = tables.sources["workforce_flags.csv"]
    for flag in ("away", "stale", "contractor", "sensitive"):
        share = _yes_share(_column(table, f"is_{flag}").to_numpy(zero_copy_only=False))
        entry = _two_way(f"{flag} share (likely)", tables.flags[flag].likely, share, src)
        rng = tables.flags[flag]
        entry["range"] = [rng.low, rng.likely, rng.high]
        out.append(entry)
    return out


def calibration_report(table: pa.Table, tables: CalibrationTables) -> dict[str, Any]:
    """Every published marginal beside the generated one, scored, worst gaps first."""
    marginals = [
        *_agency_marginals(table, tables),
        *_zone_marginals(table, tables),
        _occupation_marginal(table, tables),
        *_pay_marginals(table, tables),
        *_people_marginals(table, tables),
    ]
    worst = sorted(marginals, key=lambda m: -float(m["score"]))[:WORST_SHOWN]
    return {
        "rows": table.num_rows,
        "provenance": provenance(table),
        "tables_sha256": tables.digest,
        "marginals": marginals,
        "worst": [{"name": m["name"], "metric": m["metric"], "score": m["score"]} for m in worst],
    }
