"""`pulsecheck cost`: what a round and a year cost, with P10/P50/P90 ranges, and what it
takes to absorb the replies.

Theory of operation: flags become a `CostRequest` (checked here, at the boundary), the
application layer (`simulator.app.costing`) reads or builds the workforce and schedule
and prices them with `simulator.cost.plan`, and this module prints the result: rich
tables on the terminal (narrow enough for 80 columns), JSON with `--json`, PNGs with
`--plots`, and the planner's page (tables, sentences and figures in one HTML file) with
`--html`. Costs are for the full
workforce unless `--scale-up` says otherwise, and every output says which size it priced.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simulator.cli import EXIT_OK, HelpFormatter
from simulator.report.money import usd
from simulator.scenario import SERIES_DETAIL
from simulator.validation import InputError, finite_float

if TYPE_CHECKING:
    from rich.console import Console

    from simulator.cost.montecarlo import Estimate, Percentiles
    from simulator.cost.plan import CostPlan
    from simulator.cost.tornado import Swing

EPILOG = """\
examples:
  pulsecheck cost scenarios/opm-round1.toml
  pulsecheck cost scenarios/opm-weekly.toml --weeks 52 --json
  pulsecheck cost scenarios/opm-weekly.toml --html reports/opm-weekly-cost.html
  pulsecheck cost scenarios/opm-weekly.toml --after scenarios/opm-round1.toml
  pulsecheck cost scenarios/opm-round1.toml --workforce wf.parquet \\
      --schedule s.parquet --run reports/opm-round1 --plots figures/

Counts are scaled to the full workforce (a 1% workforce is priced x100, from the
workforce's own provenance); --scale-up F prices F times the tables instead.
"""


def add_parser(sub: argparse._SubParsersAction[Any]) -> None:
    parser = sub.add_parser(
        "cost",
        help="Estimate the cost of a round and a year, with P10/P50/P90 ranges.",
        description="Estimate the cost of each round and of a year at the rounds' cadence "
        "(P10/P50/P90 per term, Monte Carlo over the scenario's [cost] ranges), show which "
        "assumption moves the total most, and size the collection systems.",
        epilog=EPILOG,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("scenario", type=Path, help="scenario TOML file")
    parser.add_argument("--workforce", type=Path, help="workforce Parquet (default: build it)")
    parser.add_argument("--schedule", type=Path, help="schedule Parquet (default: build it)")
    parser.add_argument("--draws", type=int, help="Monte Carlo draws (default 100,000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the Monte Carlo draws")
    parser.add_argument("--shape", choices=("pert", "triangular"), default="pert")
    parser.add_argument(
        "--scale-up",
        type=finite_float,
        default=None,
        help="multiply counts by this factor instead of pricing the full workforce "
        "(1 prices the tables as they are)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    parser.add_argument("--plots", type=Path, help="write the figures as PNG into this folder")
    parser.add_argument(
        "--html",
        type=Path,
        metavar="PAGE",
        help="also write the planner's page (cost, tornado, providers, capacity of every "
        "collection) as one self-contained HTML file",
    )
    parser.add_argument(
        "--after",
        type=Path,
        metavar="SCENARIO",
        help="a scenario whose rounds reached the same central mailbox first (round 1 "
        "before the weekly series): the mailbox over the series starts with them",
    )
    parser.add_argument("--run", type=Path, help="replay run folder: size from its capacity")
    parser.add_argument(
        "--run-cores",
        type=finite_float,
        default=1.0,
        help="cores the system under test had in --run",
    )
    parser.add_argument("--slo-p99-ms", type=finite_float, help="SLO (default: scenario's p99_ms)")
    parser.add_argument("--cores-per-server", type=int, default=8)
    parser.add_argument(
        "--weeks",
        type=int,
        default=None,
        help="price a year in which every round repeats weekly this many times "
        "(default: each round's own cadence; a 'once' round once)",
    )
    parser.set_defaults(func=run)


def _check_flags(args: argparse.Namespace) -> None:
    checks = [
        ("--run-cores", args.run_cores, 0 < args.run_cores <= 1e5, "must be > 0"),
        ("--cores-per-server", args.cores_per_server, args.cores_per_server >= 1, "must be >= 1"),
    ]
    if args.draws is not None:
        ok = 1 <= args.draws <= 10_000_000
        checks.append(("--draws", args.draws, ok, "must be 1..10,000,000"))
    if args.scale_up is not None:
        ok = 0 < args.scale_up <= 1e6
        checks.append(("--scale-up", args.scale_up, ok, "must be > 0 and <= 1e6"))
    if args.weeks is not None:
        checks.append(("--weeks", args.weeks, 1 <= args.weeks <= 53, "must be 1..53"))
    if args.slo_p99_ms is not None:
        checks.append(("--slo-p99-ms", args.slo_p99_ms, args.slo_p99_ms > 0, "must be > 0"))
    if args.after is not None:
        checks.append(("--after", str(args.after), args.after.is_file(), "must be a file"))
    for flag, value, ok, allowed in checks:
        if not ok:
            raise InputError("command line", flag, value, allowed)


def plan_from(args: argparse.Namespace) -> CostPlan:
    from simulator.app.costing import CostRequest, cost
    from simulator.cost.montecarlo import DEFAULT_DRAWS
    from simulator.cost.plan import CostOptions

    _check_flags(args)
    options = CostOptions(
        draws=DEFAULT_DRAWS if args.draws is None else args.draws,
        seed=args.seed,
        shape=args.shape,
        scale_up=args.scale_up,
        slo_p99_ms=args.slo_p99_ms,
        cores_per_server=args.cores_per_server,
        weeks=args.weeks,
    )
    request = CostRequest(
        args.scenario, args.workforce, args.schedule, args.run, args.run_cores, options, args.after
    )
    return cost(request)


def run(args: argparse.Namespace) -> int:
    plan = plan_from(args)
    doc = plan.document
    if args.plots is not None:
        doc["plots"] = write_plots(args.plots, plan)
    if args.html is not None:
        from simulator.app.costing import write_cost_page

        doc["html"] = str(write_cost_page(args.html, plan))
    if args.json:
        json.dump(doc, sys.stdout, indent=2, default=str)
        print()
    else:
        show(doc, plan.estimate, plan.swings["year"])
    if args.html is not None and not args.json:
        print(f"wrote {args.html}")
    return EXIT_OK


def write_plots(folder: Path, plan: CostPlan) -> list[str]:
    from simulator.cost.plan import cost_figures

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, (_, fig) in cost_figures(plan).items():
        fig.savefig(folder / f"{name}.png", dpi=120)
        written.append(str(folder / f"{name}.png"))
    return written


# -- terminal output ----------------------------------------------------------------------
def _pct_row(name: str, p: Percentiles, likely: float | None = None) -> list[str]:
    row = [name, usd(p.p10), usd(p.p50), usd(p.p90)]
    return row + ([usd(likely)] if likely is not None else [])


def show(
    doc: dict[str, Any], est: Estimate, swings: list[Swing], console: Console | None = None
) -> None:
    from rich.console import Console
    from rich.table import Table

    from simulator.cost.terms import TERMS
    from simulator.report.cost_section import headline, is_once, priced_scale, year_title

    console = console or Console()
    inputs = doc["inputs"]
    console.print(
        f"[bold]{doc['scenario']}[/]: workforce {inputs['workforce']}, schedule "
        f"{inputs['schedule']} ({inputs['schedule_rows']:,} rows); "
        f"{est.draws:,} draws of {doc['distribution']}"
    )
    console.print(priced_scale(doc))
    console.print(f"[bold]{headline(doc)}[/]")
    series = len(est.rounds) > SERIES_DETAIL
    if series:
        _show_rounds(console, est)
    for r, terms in ({} if series else est.rounds).items():
        t = Table(title=f"Round {r} (x{est.rounds_per_year[r]} a year)")
        for col in ("term", "P10", "P50", "P90", "all likely"):
            t.add_column(col, justify="left" if col == "term" else "right")
        for name in [*TERMS, "total"]:
            t.add_row(*_pct_row(name, terms[name], est.likely[r][name]))
        low, high = est.envelope[r]
        t.caption = f"envelope over all low/high corners: {usd(low)} – {usd(high)}"
        console.print(t)
    if is_once(doc["estimate"]):
        console.print("The round happens once: a year of rounds costs the same as the round.")
    else:
        y = Table(title=year_title(doc["estimate"]))
        for col in ("term", "P10", "P50", "P90"):
            y.add_column(col, justify="left" if col == "term" else "right")
        for name in [*TERMS, "total"]:
            y.add_row(*_pct_row(name, est.year[name]))
        console.print(y)
    _show_providers(console, doc)
    _show_tornado(console, swings)
    _show_capacity(console, doc["capacity"])


def _show_providers(console: Console, doc: dict[str, Any]) -> None:
    from rich.table import Table

    t = Table(title="Sending the broadcast, by provider (low – high)")
    t.add_column("round")
    for p in ("ses", "mailgun", "self-hosted"):
        t.add_column(p, justify="right")
    rows = list(doc["providers"].items())
    if len(rows) > SERIES_DETAIL:
        rows = [rows[0], rows[-1]]
        t.caption = f"first and last of {len(doc['providers'])} rounds"
    for r, table in rows:
        t.add_row(r, *(f"{usd(v['low'])} – {usd(v['high'])}" for v in table.values()))
    console.print(t)


def _show_rounds(console: Console, est: Estimate) -> None:
    """Each round's total, one line each, and the series' sum (the year's total)."""
    from rich.table import Table

    t = Table(title="Each round's total cost and the sum")
    for col in ("round", "x/year", "P10", "P50", "P90", "all likely"):
        t.add_column(col, justify="left" if col == "round" else "right")
    for r, terms in est.rounds.items():
        p = terms["total"]
        t.add_row(
            r,
            f"{est.rounds_per_year[r]}",
            usd(p.p10),
            usd(p.p50),
            usd(p.p90),
            usd(est.likely[r]["total"]),
        )
    y = est.year["total"]
    likely = sum(est.likely[r]["total"] * n for r, n in est.rounds_per_year.items())
    t.add_section()
    t.add_row("sum", "", usd(y.p10), usd(y.p50), usd(y.p90), usd(likely))
    t.caption = "sum: P10-P90 of the sum over the draws, not a sum of percentiles"
    console.print(t)


def _show_tornado(console: Console, swings: list[Swing]) -> None:
    from rich.table import Table

    from simulator.report.money import usd_short

    t = Table(title="What moves the yearly total (one at a time, others at likely)")
    t.add_column("assumption", overflow="fold", ratio=1)
    t.add_column("low – high", justify="right", no_wrap=True)
    t.add_column("total at low – high", justify="right", no_wrap=True)
    t.add_column("swing", justify="right", no_wrap=True)
    for s in swings[:8]:
        t.add_row(
            s.name,
            f"{s.low:g} – {s.high:g}",
            f"{usd_short(s.total_at_low)} – {usd_short(s.total_at_high)}",
            usd_short(s.swing),
        )
    console.print(t)


def _show_capacity(console: Console, c: dict[str, Any]) -> None:
    from rich.table import Table

    from simulator.report.cost_section import capacity_rows

    likely = c["plans"]["likely"]
    console.print(
        f"[bold]Capacity[/], {c['capacity_source']}: busiest round {c['busiest_round']}, "
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
    t = Table(title="Cores, servers and mailboxes for the busiest round")
    t.add_column("case")
    for col in ("acks/core/s", "cores", "servers", "mailboxes: rate", "quota"):
        t.add_column(col, justify="right")
    for row in capacity_rows(c):
        t.add_row(*row)
    t.caption = (
        f"mailboxes: for the {likely['limit_per_hour']:,}/h receiving limit, and for a "
        "year's bytes at 50 GB"
    )
    console.print(t)
    _show_collections(console, c.get("collections") or [])
    if len(c["mailbox"]["rounds"]) <= SERIES_DETAIL:
        _show_mailbox(console, c["mailbox"])
    if c.get("series_mailbox") and c["series_mailbox"]["rounds"]:
        _show_series_mailbox(console, c["series_mailbox"])


def _show_collections(console: Console, collections: list[dict[str, Any]]) -> None:
    from rich.table import Table

    if not collections:
        return
    t = Table(title="Each collection at its busiest round (likely capacity)")
    t.add_column("collection", overflow="fold", min_width=18, ratio=1)
    for col in ("replies", "peak/s", "cores", "mailboxes", "refused"):
        t.add_column(col, justify="right", no_wrap=True)
    for k in collections:
        likely = k["plans"]["likely"]
        t.add_row(
            k["collection"],
            f"{k['arrivals']:,}",
            f"{likely['peak_per_s']:,.0f}",
            f"{likely['cores']:,}",
            f"{likely['mailboxes_for_rate']:,}",
            f"{k['one_mailbox']['rejected_by_limit']:,}",
        )
    t.caption = "refused: by one mailbox at the hourly receiving limit"
    console.print(t)


def _show_mailbox(console: Console, m: dict[str, Any]) -> None:
    from rich.table import Table

    t = Table(
        title=f"One central mailbox ({m['collection']}): 3,600/h receiving limit, "
        "50 or 100 GB quota (Exchange Online)"
    )
    for col in ("round", "quota", "arrive", "limit hit", "refused", "year: quota hit"):
        t.add_column(col, justify="left" if col in ("round", "year: quota hit") else "right")
    t.add_column("year: refused", justify="right")
    for r, quotas in m["rounds"].items():
        for q, res in quotas.items():
            one, wk = res["one_round"], res["weekly"]
            when = (
                "never"
                if wk["quota_round"] is None
                else f"round {wk['quota_round']}, +{wk['quota_hit_hours_into_round']:.1f} h"
            )
            t.add_row(
                r,
                q.replace("GB", " GB"),
                f"{one['arrivals']:,}",
                _hours(one["limit_hit_hours_after_first"]),
                f"{one['rejected']:,}",
                when,
                f"{wk['rejected']:,}",
            )
    t.caption = (
        "limit hit: hours after the first reply; year: the round repeated at its cadence "
        "into a mailbox that is never emptied"
    )
    console.print(t)


def _show_series_mailbox(console: Console, m: dict[str, Any]) -> None:
    """The central mailbox over the whole series, with and without the hourly limit."""
    from rich.table import Table

    from simulator.report.cost_section import (
        SERIES_COLUMNS,
        series_mailbox_rows,
        series_span,
        series_verdict,
    )

    t = Table(title=f"The central mailbox ({m['collection']}) {series_span(m)}, never emptied")
    for col in SERIES_COLUMNS:
        t.add_column(col, justify="left" if col in ("limit", "quota fills") else "right")
    for row in series_mailbox_rows(m):
        t.add_row(*row)
    t.caption = (
        "the rest of what arrives is refused; quota fills: the day (UTC) and round of "
        "the first reply that no longer fits"
    )
    console.print(t)
    console.print(series_verdict(m))


def _hours(h: float | None) -> str:
    return "never" if h is None else f"{h:.2f} h"
