"""`pulsecheck cost`: what a round and a year cost, with P10/P50/P90 ranges, and what it
takes to absorb the replies.

Theory of operation: this is the IO edge of `simulator.cost`. It loads the scenario (the
`[cost]` ranges), the workforce and the schedule (from Parquet files, or built in memory
by the workforce and schedule packages), reduces them to per-round counts, and hands
those to the pure core: Monte Carlo, tornado, provider table, capacity plan and mailbox
policy. With `--run` the capacity a replay run measured replaces the assumed capacity
per core. Output is a rich table on the terminal, JSON with `--json`, PNGs with
`--plots`.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from rich.console import Console
from rich.table import Table

from simulator.cli import EXIT_OK
from simulator.columns import SCHEDULE, WORKFORCE
from simulator.cost import capacity as cap
from simulator.cost.counts import RoundCounts, counts_by_round
from simulator.cost.montecarlo import DEFAULT_DRAWS, Estimate, Percentiles, estimate
from simulator.cost.runfile import read_run
from simulator.cost.terms import ASSUMPTIONS, TERMS, sending_by_provider
from simulator.cost.tornado import Swing, tornado
from simulator.parameters import cost_specs
from simulator.scenario import Scenario, load_scenario
from simulator.tables import read_table
from simulator.validation import InputError, Range

COST_COLUMNS = ("hourly_cost", "is_away", "is_stale")  # what the cost needs of a workforce
DEFAULT_SLO_P99_MS = 2000.0  # used when the scenario sets no p99_ms threshold
DEFAULT_WEEKS = 24  # weekly rounds from 28 Feb to 5 Aug 2025 (OPM)


def add_parser(sub: argparse._SubParsersAction[Any]) -> None:
    parser = sub.add_parser(
        "cost",
        help="Estimate the cost of a round and a year, with P10/P50/P90 ranges.",
        description="Estimate the cost of each round and of a year at the rounds' cadence "
        "(P10/P50/P90 per term, Monte Carlo over the scenario's [cost] ranges), show which "
        "assumption moves the total most, and size the collection systems.",
    )
    parser.add_argument("scenario", help="scenario TOML file")
    parser.add_argument("--workforce", type=Path, help="workforce Parquet (default: build it)")
    parser.add_argument("--schedule", type=Path, help="schedule Parquet (default: build it)")
    parser.add_argument("--draws", type=int, default=DEFAULT_DRAWS, help="Monte Carlo draws")
    parser.add_argument("--seed", type=int, default=0, help="seed of the Monte Carlo draws")
    parser.add_argument("--shape", choices=("pert", "triangular"), default="pert")
    parser.add_argument(
        "--scale-up",
        type=float,
        default=1.0,
        help="multiply counts by this factor (100 for a 1%% workforce) to cost the full size",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    parser.add_argument("--plots", type=Path, help="write the figures as PNG into this folder")
    parser.add_argument("--run", type=Path, help="replay run folder: size from its capacity")
    parser.add_argument(
        "--run-cores", type=float, default=1.0, help="cores the system under test had in --run"
    )
    parser.add_argument("--slo-p99-ms", type=float, help="SLO (default: scenario's p99_ms)")
    parser.add_argument("--cores-per-server", type=int, default=8)
    parser.add_argument(
        "--weeks", type=int, default=DEFAULT_WEEKS, help="weekly repeats of a once-round"
    )
    parser.set_defaults(func=run)


# -- inputs -----------------------------------------------------------------------------
def _check_flags(args: argparse.Namespace) -> None:
    checks = [
        ("--draws", args.draws, 1 <= args.draws <= 10_000_000, "must be 1..10,000,000"),
        ("--scale-up", args.scale_up, 0 < args.scale_up <= 1e6, "must be > 0 and <= 1e6"),
        ("--run-cores", args.run_cores, 0 < args.run_cores <= 1e5, "must be > 0"),
        ("--cores-per-server", args.cores_per_server, args.cores_per_server >= 1, "must be >= 1"),
        ("--weeks", args.weeks, 1 <= args.weeks <= 53, "must be 1..53"),
    ]
    if args.slo_p99_ms is not None:
        checks.append(("--slo-p99-ms", args.slo_p99_ms, args.slo_p99_ms > 0, "must be > 0"))
    for flag, value, ok, allowed in checks:
        if not ok:
            raise InputError("command line", flag, value, allowed)


def _stage_function(module: str, name: str) -> Any:
    """`module.name` when another stage's package provides it; None when it does not yet."""
    try:
        return getattr(importlib.import_module(module), name, None)
    except ImportError:
        return None


def load_workforce(args: argparse.Namespace, scenario: Scenario) -> pa.Table:
    if args.workforce is not None:
        return read_table(args.workforce, WORKFORCE, COST_COLUMNS, "workforce")
    build_workforce = _stage_function("simulator.workforce", "build_workforce")
    load_tables = _stage_function("simulator.workforce", "load_tables")
    if build_workforce is None or load_tables is None:
        raise InputError("command line", "--workforce", None, "give a workforce Parquet file")
    spec = scenario.workforce
    tables = load_tables(None if spec.tables == "builtin" else Path(spec.tables))
    table: pa.Table = build_workforce(spec.scale, spec.seed, tables)
    return table


def load_schedule(args: argparse.Namespace, scenario: Scenario, workforce: pa.Table) -> pa.Table:
    if args.schedule is not None:
        return read_table(args.schedule, SCHEDULE, tuple(SCHEDULE.names), "schedule")
    build_schedule = _stage_function("simulator.schedule", "build_schedule")
    if build_schedule is None:
        raise InputError(
            "command line",
            "--schedule",
            None,
            "the schedule stage is not available to build one here; "
            "give a schedule Parquet file (pulsecheck schedule ... --out s.parquet)",
        )
    seed = scenario.workforce.seed
    parts = [build_schedule(scenario, r, workforce, seed) for r in scenario.rounds]
    return pa.concat_tables(parts)


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
    args: argparse.Namespace, scenario: Scenario, ranges: dict[str, Range]
) -> CapacityInputs:
    assumed = ranges["capacity_acks_per_core_s"]
    if args.run is None:
        return CapacityInputs(assumed, "assumed (cost_assumptions.csv)", None, None)
    slo = args.slo_p99_ms or next(
        (t.value for t in scenario.thresholds if t.metric == "p99_ms"), DEFAULT_SLO_P99_MS
    )
    run_measure = read_run(args.run, args.run_cores)
    measured = cap.measured_capacity(run_measure, slo)
    if not measured.slo_met or measured.per_core_per_s <= 0:
        return CapacityInputs(assumed, "assumed: the run missed its SLO", measured, run_measure)
    v = measured.per_core_per_s
    return CapacityInputs(Range(v, v, v), f"measured by {args.run}", measured, run_measure)


def capacity_report(
    scenario: Scenario,
    schedule: pa.Table,
    counts: dict[str, RoundCounts],
    ranges: dict[str, Range],
    inputs: CapacityInputs,
    args: argparse.Namespace,
) -> dict[str, Any]:
    """Cores/servers/mailboxes at the busiest round, and the central mailbox's fate."""
    busiest = max(counts, key=lambda r: counts[r].peak_per_s)
    t, _ = arrivals(schedule, busiest, None)
    factor = args.scale_up
    peak_hour = round(cap.peak_count(t, cap.HOUR_US) * factor)
    per_year = {r.id: r.rounds_per_year for r in scenario.rounds}
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
                cores_per_server=args.cores_per_server,
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
        "mailbox": mailbox_report(scenario, schedule, counts, args),
    }


def mailbox_report(
    scenario: Scenario, schedule: pa.Table, counts: dict[str, RoundCounts], args: argparse.Namespace
) -> dict[str, Any]:
    central = central_collection(scenario)
    out: dict[str, Any] = {"collection": central, "scale_up": args.scale_up, "rounds": {}}
    for rnd in scenario.rounds:
        if rnd.id not in counts:
            continue
        t, size = arrivals(schedule, rnd.id, central)
        t, size = _scaled_series(t, size, args.scale_up)
        weeks = rnd.rounds_per_year if rnd.cadence == "weekly" else args.weeks
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


# -- the command --------------------------------------------------------------------------
def run(args: argparse.Namespace) -> int:
    doc, est, swings, first = build_document(args)
    if args.plots is not None:
        doc["plots"] = write_plots(args.plots, est, swings, first)
    if args.json:
        json.dump(doc, sys.stdout, indent=2, default=str)
        print()
    else:
        show(doc, est, swings["year"])
    return EXIT_OK


def build_document(
    args: argparse.Namespace,
) -> tuple[dict[str, Any], Estimate, dict[str, list[Swing]], str]:
    """The whole estimate for the parsed flags: (document, estimate, swings, first round)."""
    _check_flags(args)
    scenario = load_scenario(args.scenario)
    workforce = load_workforce(args, scenario)
    schedule = load_schedule(args, scenario, workforce)
    counts = {r: c.scaled(args.scale_up) for r, c in counts_by_round(workforce, schedule).items()}
    known = {r.id for r in scenario.rounds}
    unknown = [r for r in counts if r not in known]
    if unknown or not counts:
        raise InputError(
            str(args.schedule), "round", unknown, f"rounds must be among {sorted(known)}"
        )
    ranges = dict(scenario.cost)
    inputs = capacity_inputs(args, scenario, ranges)
    ranges["capacity_acks_per_core_s"] = inputs.per_core
    per_year = {r.id: r.rounds_per_year for r in scenario.rounds if r.id in counts}
    est = estimate(counts, per_year, ranges, args.draws, args.seed, args.shape)
    first = next(iter(counts))
    swings = {
        "round": tornado({first: counts[first]}, ranges),
        "year": tornado(counts, ranges, per_year),
    }
    doc = document(scenario, args, workforce, schedule, counts, ranges, est, swings)
    doc["capacity"] = capacity_report(scenario, schedule, counts, ranges, inputs, args)
    return doc, est, swings, first


def document(
    scenario: Scenario,
    args: argparse.Namespace,
    workforce: pa.Table,
    schedule: pa.Table,
    counts: dict[str, RoundCounts],
    ranges: dict[str, Range],
    est: Estimate,
    swings: dict[str, list[Swing]],
) -> dict[str, Any]:
    specs = cost_specs()
    return {
        "scenario": scenario.name,
        "inputs": {
            "workforce": str(args.workforce or "built in memory"),
            "workforce_rows": workforce.num_rows,
            "schedule": str(args.schedule or "built in memory"),
            "schedule_rows": schedule.num_rows,
            "scale_up": args.scale_up,
        },
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


def cost_figures(
    est: Estimate, swings: dict[str, list[Swing]], first: str
) -> dict[str, tuple[str, Any]]:
    """The cost figures by name: (caption, matplotlib Figure)."""
    from simulator.cost.plots import cost_breakdown, tornado_chart

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


def write_plots(
    folder: Path, est: Estimate, swings: dict[str, list[Swing]], first: str
) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, (_, fig) in cost_figures(est, swings, first).items():
        fig.savefig(folder / f"{name}.png", dpi=120)
        written.append(str(folder / f"{name}.png"))
    return written


# -- terminal output ----------------------------------------------------------------------
def _usd(v: float) -> str:
    return f"${v:,.0f}" if abs(v) >= 100 else f"${v:,.2f}"


def _pct_row(name: str, p: Percentiles, likely: float | None = None) -> list[str]:
    row = [name, _usd(p.p10), _usd(p.p50), _usd(p.p90)]
    return row + ([_usd(likely)] if likely is not None else [])


def show(
    doc: dict[str, Any], est: Estimate, swings: list[Swing], console: Console | None = None
) -> None:
    console = console or Console()
    inputs = doc["inputs"]
    console.print(
        f"[bold]{doc['scenario']}[/]: workforce {inputs['workforce']} "
        f"({inputs['workforce_rows']:,} rows), schedule {inputs['schedule']} "
        f"({inputs['schedule_rows']:,} rows), counts x{inputs['scale_up']:g}; "
        f"{est.draws:,} draws of {doc['distribution']}"
    )
    for r, terms in est.rounds.items():
        t = Table(title=f"Round {r} (x{est.rounds_per_year[r]} a year)")
        for col in ("term", "P10", "P50", "P90", "all likely"):
            t.add_column(col, justify="left" if col == "term" else "right")
        for name in [*TERMS, "total"]:
            t.add_row(*_pct_row(name, terms[name], est.likely[r][name]))
        low, high = est.envelope[r]
        t.caption = f"envelope over all low/high corners: {_usd(low)} – {_usd(high)}"
        console.print(t)
    y = Table(title="A year at the rounds' cadence")
    for col in ("term", "P10", "P50", "P90"):
        y.add_column(col, justify="left" if col == "term" else "right")
    for name in [*TERMS, "total"]:
        y.add_row(*_pct_row(name, est.year[name]))
    console.print(y)
    _show_providers(console, doc)
    _show_tornado(console, swings)
    _show_capacity(console, doc["capacity"])


def _show_providers(console: Console, doc: dict[str, Any]) -> None:
    t = Table(title="Sending the broadcast, by provider (low – high)")
    t.add_column("round")
    for p in ("ses", "mailgun", "self-hosted"):
        t.add_column(p, justify="right")
    for r, table in doc["providers"].items():
        t.add_row(r, *(f"{_usd(v['low'])} – {_usd(v['high'])}" for v in table.values()))
    console.print(t)


def _show_tornado(console: Console, swings: list[Swing]) -> None:
    t = Table(title="What moves the yearly total (one at a time, others at likely)")
    t.add_column("assumption", overflow="fold", min_width=20)
    for col in ("low – high", "total at low", "total at high", "swing"):
        t.add_column(col, justify="right")
    for s in swings[:8]:
        t.add_row(
            s.name,
            f"{s.low:g} – {s.high:g}",
            _usd(s.total_at_low),
            _usd(s.total_at_high),
            _usd(s.swing),
        )
    console.print(t)


def _show_capacity(console: Console, c: dict[str, Any]) -> None:
    likely = c["plans"]["likely"]
    console.print(
        f"[bold]Capacity[/] ({c['capacity_source']}): busiest round {c['busiest_round']}, "
        f"peak {likely['peak_per_s']:,.1f}/s (busiest minute), {likely['peak_per_hour']:,}/h "
        f"(busiest hour); headroom x{likely['headroom']:g}"
    )
    measured = c["measured"]
    if measured is not None:
        verdict = (
            "within the SLO"
            if measured["slo_met"]
            else "MISSED the SLO: " + "; ".join(measured["reasons"])
        )
        console.print(
            f"  run: {measured['per_core_per_s']:,.0f} durable acks per core per s, {verdict}"
        )
    for label, plan in c["plans"].items():
        console.print(
            f"  {label:>13}: {plan['per_core_per_s']:,.0f} acks/core/s -> {plan['cores']:,} cores, "
            f"{plan['servers']:,} servers of {plan['cores_per_server']}; mailboxes: "
            f"{plan['mailboxes_for_rate']:,} for the {plan['limit_per_hour']:,}/h limit, "
            f"{plan['mailboxes_for_quota']:,} for a year's bytes at 50 GB"
        )
    _show_mailbox(console, c["mailbox"])


def _show_mailbox(console: Console, m: dict[str, Any]) -> None:
    console.print(
        f"[bold]One central mailbox[/] ({m['collection']}): receiving limit 3,600/h, "
        "quota 50 or 100 GB (Exchange Online limits)"
    )
    for r, quotas in m["rounds"].items():
        for q, res in quotas.items():
            one, wk = res["one_round"], res["weekly"]
            when = (
                "never"
                if wk["quota_round"] is None
                else f"round {wk['quota_round']}, +{wk['quota_hit_hours_into_round']:.1f} h"
            )
            console.print(
                f"  {r} at {q}: {one['arrivals']:,} arrive; limit hit "
                f"{_hours(one['limit_hit_hours_after_first'])} after the first, "
                f"{one['rejected_by_limit']:,} rejected by it; quota hit "
                f"{_hours(one['quota_hit_hours_after_first'])}, {one['rejected_by_quota']:,} "
                f"rejected by it. Over {wk['rounds']} weekly rounds: quota hit {when}; "
                f"{wk['rejected_by_limit']:,} rejected by the limit, "
                f"{wk['rejected_by_quota']:,} by the quota"
            )


def _hours(h: float | None) -> str:
    return "never" if h is None else f"{h:.2f} h"
