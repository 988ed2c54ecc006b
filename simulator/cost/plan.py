"""The cost and capacity plan of a scenario: one call from tables to the whole document.

Theory of operation: `plan_cost` takes the scenario (its rounds and `[cost]` ranges), a
workforce and a schedule (Arrow tables), and `CostOptions`. It reduces the tables to
per-round counts, scales them to the size being priced (by default the full workforce: a
1% workforce is priced x100, read from the workforce's own provenance), then runs the
Monte Carlo, the tornados, the provider table, the capacity plan (for the busiest round
overall and for each collection on its own) and the central mailbox's fate. The result
holds the JSON document every output is made from (terminal, `--json`, the run record,
the report) and the objects the figures draw. Nothing here
reads a file or parses a flag: the CLI and the application layer do that.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from simulator.cost import capacity as cap
from simulator.cost.counts import RoundCounts, counts_by_round
from simulator.cost.montecarlo import DEFAULT_DRAWS, Estimate, Percentiles, estimate
from simulator.cost.terms import ASSUMPTIONS, sending_by_provider
from simulator.cost.tornado import Swing, tornado
from simulator.parameters import cost_specs, read_data_file
from simulator.scenario import Scenario
from simulator.validation import Range

FULL_HEADCOUNT = 2_313_216  # OPM FedScope, September 2024: executive-branch civilians
DEFAULT_SLO_P99_MS = 2000.0  # used when the scenario sets no p99_ms threshold


@dataclass(frozen=True)
class CostOptions:
    """How to price: the draws, the size priced, the capacity source and the year."""

    draws: int = DEFAULT_DRAWS
    seed: int = 0
    shape: str = "pert"
    scale_up: float | None = None  # None: the full workforce (1 / the workforce's scale)
    run: cap.RunMeasure | None = None  # a replay's measured capacity, if any
    run_label: str = ""  # where `run` came from, for the document
    slo_p99_ms: float | None = None  # default: the scenario's p99_ms threshold
    cores_per_server: int = 8
    weeks: int | None = None  # None: each round's own cadence; N: every round N times


@dataclass(frozen=True)
class CostPlan:
    document: dict[str, Any]  # everything, as JSON-ready values
    estimate: Estimate
    swings: dict[str, list[Swing]]  # "round" (the first round) and "year"
    first_round: str


def workforce_scale(workforce: pa.Table) -> float:
    """The share of the full workforce a table holds: its stamped scale, else by rows."""
    meta = workforce.schema.metadata or {}
    raw = meta.get(b"pulsecheck.scale")
    if raw is not None:
        try:
            scale = float(raw)
        except ValueError:
            scale = 0.0
        if scale > 0:
            return scale
    return max(int(workforce.num_rows), 1) / FULL_HEADCOUNT


def priced_factor(workforce: pa.Table, options: CostOptions) -> float:
    return 1.0 / workforce_scale(workforce) if options.scale_up is None else options.scale_up


def rounds_per_year(scenario: Scenario, options: CostOptions) -> dict[str, int]:
    """How often each round repeats in the year priced."""
    if options.weeks is not None:
        return {r.id: options.weeks for r in scenario.rounds}
    return {r.id: r.rounds_per_year for r in scenario.rounds}


def plan_cost(
    scenario: Scenario,
    workforce: pa.Table,
    schedule: pa.Table,
    options: CostOptions,
    sources: Mapping[str, str] | None = None,
    prior: Sequence[PriorRound] = (),
) -> CostPlan:
    """The whole estimate: counts, Monte Carlo, tornados, providers and capacity.

    `prior` are rounds of another scenario that reached the same central mailbox first
    (`prior_central`); only the mailbox over the series plays them."""
    factor = priced_factor(workforce, options)
    counts = {r: c.scaled(factor) for r, c in counts_by_round(workforce, schedule).items()}
    known = {r.id for r in scenario.rounds}
    unknown = sorted(r for r in counts if r not in known)
    if unknown or not counts:
        raise ValueError(f"schedule rounds {unknown or '(none)'} are not among {sorted(known)}")
    ranges = dict(scenario.cost)
    inputs = capacity_inputs(scenario, ranges, options)
    ranges["capacity_acks_per_core_s"] = inputs.per_core
    per_year = {r: n for r, n in rounds_per_year(scenario, options).items() if r in counts}
    est = estimate(counts, per_year, ranges, options.draws, options.seed, options.shape)
    first = next(iter(counts))
    swings = {
        "round": tornado({first: counts[first]}, ranges),
        "year": tornado(counts, ranges, per_year),
    }
    doc = document(scenario, workforce, schedule, counts, ranges, est, swings)
    doc["inputs"].update(
        {
            **dict(sources or {}),
            "workforce_scale": workforce_scale(workforce),
            "scale_up": factor,
            "priced_scale": workforce_scale(workforce) * factor,
            "rounds_per_year": per_year,
        }
    )
    doc["capacity"] = capacity_report(scenario, schedule, counts, ranges, inputs, options, factor)
    doc["capacity"]["series_mailbox"] = series_mailbox_report(
        scenario, schedule, counts, factor, prior
    )
    return CostPlan(doc, est, swings, first)


# -- capacity and mailbox inputs -----------------------------------------------------------
def arrivals(schedule: pa.Table, round_id: str, collection: str | None) -> tuple[Any, Any]:
    """Intended times and sizes of a round's non-broadcast events (at one collection)."""
    rows = schedule.filter(
        pc.and_(
            pc.equal(pc.cast(schedule.column("round"), pa.string()), round_id),
            pc.not_equal(pc.cast(schedule.column("kind"), pa.string()), "broadcast"),
        )
    )
    if collection is not None:
        coll = pc.cast(rows.column("collection"), pa.string())
        rows = rows.filter(pc.or_(pc.equal(coll, collection), pc.equal(coll, "")))
    t = np.asarray(pc.cast(rows.column("t_intended"), pa.int64()).to_numpy(), np.int64)
    return t, np.asarray(rows.column("size_bytes").to_numpy(), np.int64)


def central_collection(scenario: Scenario) -> str:
    central = [c.id for c in scenario.collections if c.kind == "central"]
    return central[0] if central else scenario.rounds[0].collection


@dataclass(frozen=True)
class CapacityInputs:
    per_core: Range  # acks per core per second: measured (a point) or assumed (a range)
    source: str
    measured: cap.MeasuredCapacity | None
    run: cap.RunMeasure | None


def capacity_inputs(
    scenario: Scenario, ranges: Mapping[str, Range], options: CostOptions
) -> CapacityInputs:
    assumed = ranges["capacity_acks_per_core_s"]
    if options.run is None:
        return CapacityInputs(assumed, "assumed (cost_assumptions.csv)", None, None)
    slo = options.slo_p99_ms or next(
        (t.value for t in scenario.thresholds if t.metric == "p99_ms"), DEFAULT_SLO_P99_MS
    )
    measured = cap.measured_capacity(options.run, slo)
    if not measured.slo_met or measured.per_core_per_s <= 0:
        return CapacityInputs(assumed, "assumed: the run missed its SLO", measured, options.run)
    v = measured.per_core_per_s
    return CapacityInputs(Range(v, v, v), f"measured by {options.run_label}", measured, options.run)


def capacity_report(
    scenario: Scenario,
    schedule: pa.Table,
    counts: dict[str, RoundCounts],
    ranges: Mapping[str, Range],
    inputs: CapacityInputs,
    options: CostOptions,
    factor: float,
) -> dict[str, Any]:
    """Cores/servers/mailboxes at the busiest round, and the central mailbox's fate."""
    busiest = max(counts, key=lambda r: counts[r].peak_per_s)
    t, _ = arrivals(schedule, busiest, None)
    peak_hour = round(cap.peak_count(t, cap.HOUR_US) * factor)
    per_year = rounds_per_year(scenario, options)
    year_bytes = (
        sum(float(arrivals(schedule, r, None)[1].sum()) * per_year[r] for r in counts) * factor
    )
    plans = {
        label: asdict(
            cap.plan_capacity(
                counts[busiest].peak_per_s,
                per_core,
                peak_hour,
                year_bytes,
                headroom=ranges["infra_headroom"].likely,
                cores_per_server=options.cores_per_server,
            )
        )
        for label, per_core in (
            ("low_capacity", inputs.per_core.low),
            ("likely", inputs.per_core.likely),
            ("high_capacity", inputs.per_core.high),
        )
    }
    return {
        "busiest_round": busiest,
        "capacity_source": inputs.source,
        "run": asdict(inputs.run) if inputs.run else None,
        "measured": asdict(inputs.measured) if inputs.measured else None,
        "plans": plans,
        "mailbox": mailbox_report(scenario, schedule, counts, per_year, factor),
        "collections": collections_report(
            scenario, schedule, counts, ranges, inputs, options, per_year, factor
        ),
    }


def _collection_arrivals(
    schedule: pa.Table, round_id: str, collection: str, central: bool
) -> tuple[Any, Any]:
    """A round's replies at exactly this collection (unrouted ones count as central)."""
    rows = schedule.filter(
        pc.and_(
            pc.equal(pc.cast(schedule.column("round"), pa.string()), round_id),
            pc.not_equal(pc.cast(schedule.column("kind"), pa.string()), "broadcast"),
        )
    )
    coll = pc.cast(rows.column("collection"), pa.string())
    here = pc.equal(coll, collection)
    rows = rows.filter(pc.or_(here, pc.equal(coll, "")) if central else here)
    t = np.asarray(pc.cast(rows.column("t_intended"), pa.int64()).to_numpy(), np.int64)
    return t, np.asarray(rows.column("size_bytes").to_numpy(), np.int64)


def collections_report(
    scenario: Scenario,
    schedule: pa.Table,
    counts: Mapping[str, RoundCounts],
    ranges: Mapping[str, Range],
    inputs: CapacityInputs,
    options: CostOptions,
    per_year: Mapping[str, int],
    factor: float,
) -> list[dict[str, Any]]:
    """Each collection sized on its own, at its busiest round, priced at `factor`."""
    central = central_collection(scenario)
    headroom = ranges["infra_headroom"].likely
    out = []
    for coll in scenario.collections:
        series = {r: _collection_arrivals(schedule, r, coll.id, coll.id == central) for r in counts}
        busiest = max(series, key=lambda r: cap.peak_count(series[r][0], cap.MINUTE_US))
        t, size = series[busiest]
        year_bytes = sum(float(series[r][1].sum()) * per_year[r] for r in series) * factor
        peak_s = cap.peak_rate_per_s(t) * factor
        peak_h = round(cap.peak_count(t, cap.HOUR_US) * factor)
        plans = {
            label: cap.plan_capacity(
                peak_s,
                per_core,
                peak_h,
                year_bytes,
                headroom=headroom,
                cores_per_server=options.cores_per_server,
            )
            for label, per_core in (
                ("low_capacity", inputs.per_core.low),
                ("likely", inputs.per_core.likely),
                ("high_capacity", inputs.per_core.high),
            )
        }
        st, ssize = _scaled_series(t, size, factor)
        one = cap.mailbox_round(st, ssize, quota_bytes=cap.EXCHANGE_QUOTAS_GB[0] * 1e9)
        span = (int(t.max()) - int(t.min())) / cap.HOUR_US if len(t) else 0.0
        out.append(
            {
                "collection": coll.id,
                "kind": coll.kind,
                "address": coll.address,
                "busiest_round": busiest,
                "arrivals": round(len(t) * factor),
                "bytes": float(size.sum()) * factor,
                "span_hours": span,
                "year_bytes": year_bytes,
                "plans": {k: asdict(v) for k, v in plans.items()},
                "one_mailbox": _mailbox_round_json(one, st),
            }
        )
    return out


def mailbox_report(
    scenario: Scenario,
    schedule: pa.Table,
    counts: Mapping[str, RoundCounts],
    per_year: Mapping[str, int],
    factor: float,
) -> dict[str, Any]:
    central = central_collection(scenario)
    out: dict[str, Any] = {"collection": central, "scale_up": factor, "rounds": {}}
    for rnd in scenario.rounds:
        if rnd.id not in counts:
            continue
        t, size = arrivals(schedule, rnd.id, central)
        t, size = _scaled_series(t, size, factor)
        weeks = per_year[rnd.id]
        out["rounds"][rnd.id] = {
            f"{gb:g}GB": {
                "one_round": _mailbox_round_json(
                    cap.mailbox_round(t, size, quota_bytes=gb * 1e9), t
                ),
                "weekly": _mailbox_weekly_json(
                    cap.mailbox_weekly(t, size, weeks, quota_bytes=gb * 1e9), t
                ),
            }
            for gb in cap.EXCHANGE_QUOTAS_GB
        }
    return out


SERIES_CASES = (("limit", cap.EXCHANGE_LIMIT_PER_HOUR), ("no_limit", None))


def recorded_central() -> dict[str, Any]:
    """What the record says one central inbox received (weekly_series.csv, round 1)."""
    row = next(r for r in read_data_file("weekly_series.csv") if r["count"])
    return {"replies": int(row["count"]), "hours": float(row["hours"]), "source": row["source"]}


@dataclass(frozen=True)
class PriorRound:
    """A round that reached the central mailbox before the scenario's own rounds."""

    id: str
    send_time_us: int
    t_us: Any
    size_bytes: Any


def prior_central(scenario: Scenario, schedule: pa.Table) -> tuple[PriorRound, ...]:
    """The central mailbox's arrivals of each round of an earlier scenario."""
    central = central_collection(scenario)
    return tuple(
        PriorRound(r.id, int(r.send_time.timestamp() * 1e6), *arrivals(schedule, r.id, central))
        for r in scenario.rounds
    )


def series_mailbox_report(
    scenario: Scenario,
    schedule: pa.Table,
    counts: Mapping[str, RoundCounts],
    factor: float,
    prior: Sequence[PriorRound] = (),
) -> dict[str, Any]:
    """The central mailbox over every round of the schedule (after the `prior` ones), in
    time order, never emptied: as one Exchange-like mailbox (3,600/h) and without the
    limit, at each quota; when the quota fills; and which case the record supports."""
    central = central_collection(scenario)
    own = [r for r in scenario.rounds if r.id in counts]
    rounds = [
        *((p.id, p.send_time_us) for p in prior),
        *((r.id, int(r.send_time.timestamp() * 1e6)) for r in own),
    ]
    series = [(p.t_us, p.size_bytes) for p in prior] + [
        arrivals(schedule, r.id, central) for r in own
    ]
    t = np.concatenate([s[0] for s in series]) if series else np.zeros(0, np.int64)
    size = np.concatenate([s[1] for s in series]) if series else np.zeros(0, np.int64)
    code = np.concatenate([np.full(len(s[0]), i, np.int64) for i, s in enumerate(series)])
    weight = max(1, round(factor))
    record = recorded_central()
    limit_max = round(cap.EXCHANGE_LIMIT_PER_HOUR * record["hours"])
    cases: dict[str, Any] = {}
    for name, limit in SERIES_CASES:
        for gb in cap.EXCHANGE_QUOTAS_GB:
            res = cap.mailbox_series(t, size, weight, code, len(rounds), limit, gb * 1e9)
            full_round = None
            if res.quota_full_us is not None:
                full = res.quota_full_us
                full_round = next((i for i, sent in reversed(rounds) if sent <= full), None)
            cases[f"{name}_{gb:g}GB"] = {
                "limit_per_hour": limit,
                "quota_gb": gb,
                **{k: v for k, v in asdict(res).items() if k != "accepted_by_round"},
                "accepted_by_round": dict(
                    zip([i for i, _ in rounds], res.accepted_by_round, strict=True)
                ),
                "quota_full_round": full_round,
            }
    return {
        "collection": central,
        "rounds": [i for i, _ in rounds],
        "prior_rounds": [p.id for p in prior],
        "scale_up": weight,
        "cases": cases,
        "record": {**record, "limit_admits_at_most": limit_max},
        "supported": "no_limit" if record["replies"] > limit_max else "limit",
    }


def _scaled_series(t: Any, size: Any, factor: float) -> tuple[Any, Any]:
    """A series `factor` times denser: each arrival repeated (whole factors only)."""
    k = max(1, round(factor))
    if k == 1:
        return t, size
    return np.repeat(t, k), np.repeat(size, k)


def _hours_after(t_us: int | None, t: Any) -> float | None:
    return None if t_us is None or len(t) == 0 else (t_us - int(t.min())) / cap.HOUR_US


def _mailbox_round_json(r: cap.MailboxRound, t: Any) -> dict[str, Any]:
    return {
        **asdict(r),
        "rejected": r.rejected,
        "limit_hit_hours_after_first": _hours_after(r.first_limit_reject_us, t),
        "quota_hit_hours_after_first": _hours_after(r.quota_full_us, t),
    }


def _mailbox_weekly_json(w: cap.MailboxRounds, t: Any) -> dict[str, Any]:
    hit = w.quota_round_result
    return {
        "rounds": w.rounds,
        "quota_round": w.quota_round,
        "quota_hit_hours_into_round": _hours_after(hit.quota_full_us, t) if hit else None,
        "accepted": w.accepted,
        "rejected_by_limit": w.rejected_by_limit,
        "rejected_by_quota": w.rejected_by_quota,
        "rejected": w.rejected,
    }


def document(
    scenario: Scenario,
    workforce: pa.Table,
    schedule: pa.Table,
    counts: dict[str, RoundCounts],
    ranges: Mapping[str, Range],
    est: Estimate,
    swings: dict[str, list[Swing]],
) -> dict[str, Any]:
    specs = cost_specs()
    return {
        "scenario": scenario.name,
        "inputs": {"workforce_rows": workforce.num_rows, "schedule_rows": schedule.num_rows},
        "distribution": f"{est.shape}(low, likely, high), independent assumptions",
        "draws": est.draws,
        "seed": est.seed,
        "counts": {r: asdict(c) for r, c in counts.items()},
        "estimate": est.to_dict(),
        "providers": {
            r: {p: asdict(v) for p, v in sending_by_provider(c, ranges).items()}
            for r, c in counts.items()
        },
        "tornado": {k: [{**asdict(s), "swing": s.swing} for s in v] for k, v in swings.items()},
        "assumptions": {
            n: {**asdict(ranges[n]), "unit": specs[n].unit, "source": specs[n].source}
            for n in ASSUMPTIONS
        },
    }


# -- the document back into the objects the figures draw ----------------------------------
def swings_of(doc: Mapping[str, Any]) -> dict[str, list[Swing]]:
    """The tornado rows a document holds, as `Swing`s."""
    names = set(Swing.__dataclass_fields__)
    return {
        k: [Swing(**{f: v for f, v in row.items() if f in names}) for row in rows]
        for k, rows in doc["tornado"].items()
    }


def estimate_of(doc: Mapping[str, Any]) -> Estimate:
    """The estimate a document holds, as an `Estimate`."""
    e = doc["estimate"]

    def terms(table: Mapping[str, Mapping[str, float]]) -> dict[str, Percentiles]:
        return {name: Percentiles(**p) for name, p in table.items()}

    return Estimate(
        draws=int(e["draws"]),
        seed=int(e["seed"]),
        shape=str(e["shape"]),
        rounds_per_year={k: int(v) for k, v in e["rounds_per_year"].items()},
        rounds={r: terms(t) for r, t in e["rounds"].items()},
        year=terms(e["year"]),
        likely={r: dict(v) for r, v in e["likely"].items()},
        envelope={r: (float(v[0]), float(v[1])) for r, v in e["envelope"].items()},
    )


def cost_figures(plan: CostPlan) -> dict[str, tuple[str, Any]]:
    """The cost figures by name: (caption, matplotlib Figure)."""
    from simulator.cost.plots import cost_breakdown, tornado_chart

    est, swings, first = plan.estimate, plan.swings, plan.first_round
    return {
        f"cost_round_{first}": (
            f"Round {first}: cost per term, P10-P90",
            cost_breakdown(est.rounds[first], f"Round {first}: cost per term"),
        ),
        "cost_year": (
            "A year at the rounds' cadence: cost per term, P10-P90",
            cost_breakdown(est.year, "A year at the rounds' cadence: cost per term"),
        ),
        f"tornado_round_{first}": (
            f"Round {first}: which assumption moves the total most",
            tornado_chart(swings["round"], f"Round {first}: what moves the total"),
        ),
        "tornado_year": (
            "A year: which assumption moves the total most",
            tornado_chart(swings["year"], "A year: what moves the total"),
        ),
    }


def plan_of(doc: Mapping[str, Any]) -> CostPlan:
    """A plan rebuilt from its document (as a run record keeps it)."""
    est = estimate_of(doc)
    return CostPlan(dict(doc), est, swings_of(doc), next(iter(est.rounds)))
