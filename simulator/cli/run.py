"""`pulsecheck run SCENARIO`: every stage end to end, then the report and the verdict."""

from __future__ import annotations

import argparse
import html
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from simulator.cli import EXIT_FAILED
from simulator.cli.report import report_verdict
from simulator.scenario import Scenario, load_any
from simulator.validation import Fields, finite_float

if TYPE_CHECKING:
    from simulator.runner import RunPlan

EPILOG = """\
examples:
  pulsecheck run scenarios/opm-round1.toml --out reports/opm-round1
  pulsecheck run scenarios/opm-round1.toml --scale 1 --speedup 200 --out reports/full
  pulsecheck run scenarios/ci-smoke.toml --protocol http --out /tmp/smoke
  pulsecheck run scenarios/replyall-1m.toml --out reports/replyall-1m

A reply-all scenario runs the storm model on the full list (each defence side by side,
a band of 100 seeded runs), then replays a scaled-down storm ([replyall.replay]) against
the reference SMTP mailbox and reports both.

The run directory holds every stage's file: workforce.parquet, schedule.parquet,
store.db, results.parquet, latency histograms, run.json, summary.json and report.html.
Exit codes: 0 all thresholds passed, 1 the run failed, 2 bad input, 99 a threshold failed.
"""


def add_parser(sub: argparse._SubParsersAction[Any]) -> None:
    parser = sub.add_parser(
        "run",
        help="Run every stage end to end against the embedded collection systems.",
        description="Build the workforce and the schedule, start the reference collection "
        "system the scenario routes to, replay the broadcast and the reply storm open-loop, "
        "check that every acknowledged message is stored, estimate the cost, and write the "
        "report. Scale and speedup default to the scenario's.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("scenario", metavar="SCENARIO", help="scenario TOML file")
    parser.add_argument(
        "--scale", type=finite_float, help="share of the 2.3M workforce (0 < S <= 1)"
    )
    parser.add_argument("--speedup", type=finite_float, help="time compression of the replay (> 0)")
    parser.add_argument("--out", type=Path, help="run directory (default reports/<scenario>)")
    parser.add_argument(
        "--protocol", choices=("smtp", "http"), help="embedded system: SMTP mailbox or HTTP API"
    )
    parser.set_defaults(func=run)


def _checked(args: argparse.Namespace, scenario: Scenario) -> RunPlan:
    from simulator.runner import RunPlan

    flags = Fields({k: v for k, v in vars(args).items() if v is not None}, "command line")
    scale = flags.float("scale", scenario.workforce.scale, lo=0.0, hi=1.0, lo_open=True)
    speedup = flags.float("speedup", scenario.replay.speedup, lo=0.0, hi=1e7, lo_open=True)
    if scenario.target.kind != "embedded":
        raise flags.fail(
            "scenario",
            scenario.target.kind,
            "run needs [target] kind = 'embedded'; use `pulsecheck replay` for an outside target",
        )
    return RunPlan(
        scenario=scenario,
        scale=scale,
        speedup=speedup,
        out=args.out or Path("reports") / scenario.name,
        protocol=args.protocol or scenario.target.protocol,
    )


def run(args: argparse.Namespace) -> int:
    # The stages load on use, so `pulsecheck --help` stays fast.
    from simulator.report.build import build_report
    from simulator.runner import (
        agency_counts,
        build_inputs,
        check_store,
        cost_report,
        embedded_server,
        replay_options,
        run_replay,
        write_meta,
    )
    from simulator.traffic.record import read_results

    scenario = load_any(args.scenario)
    if not isinstance(scenario, Scenario):
        from simulator.cli.run_storm import run_storm

        return run_storm(args, scenario)
    plan = _checked(args, scenario)
    console = Console(stderr=True)
    say = console.print
    plan.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    say(
        f"[bold]pulsecheck run[/] {plan.scenario.name}: "
        f"scale {plan.scale:g}, speedup {plan.speedup:g}"
    )
    workforce, schedule = build_inputs(plan, say)
    (plan.out / "store.db").unlink(missing_ok=True)
    with embedded_server(plan, say) as url:
        replay_summary = run_replay(plan.out, url, workforce, schedule, replay_options(plan))
    say(
        f"replay: {replay_summary['acknowledged']:,} acknowledged, "
        f"p99 {replay_summary['latency_corrected_ms']['p99']:.1f} ms from intended time"
    )
    check = check_store(read_results(plan.out), plan.out / "store.db")
    say(
        f"store: {check.stored:,} of {check.acknowledged:,} acknowledged events stored, "
        f"{check.missing} lost, {check.extra_rows} rows unaccounted for"
    )
    meta = {
        "scenario_name": plan.scenario.name,
        "run": {
            "scenario": plan.scenario.path,
            "scale": plan.scale,
            "speedup": plan.speedup,
            "protocol": plan.protocol,
            "wall_s": round(time.perf_counter() - started, 1),
        },
        "stored": check.stored,
        "store_check": check.__dict__,
        "thresholds": [t.__dict__ for t in plan.scenario.thresholds],
        "agencies": agency_counts(workforce, schedule),
    }
    doc, cost_figs, cost_text = cost_report(plan)
    total = doc["estimate"]["rounds"][plan.scenario.rounds[0].id]["total"]
    say(
        f"cost of round {plan.scenario.rounds[0].id} at full scale: P10 ${total['p10']:,.0f}, "
        f"P50 ${total['p50']:,.0f}, P90 ${total['p90']:,.0f}"
    )
    meta["cost"] = {
        "estimate": doc["estimate"],
        "assumptions": doc["assumptions"],
        "scale_up": doc["inputs"]["scale_up"],
    }
    meta["capacity"] = doc["capacity"]
    write_meta(plan.out, meta)
    section = ("Cost and capacity (full scale)", f"<pre>{html.escape(cost_text)}</pre>")
    summary = build_report(plan.out, cost_figs, [section])
    say(f"report: {plan.out / 'report.html'} ({time.perf_counter() - started:.0f} s in all)")
    if check.missing:
        say(f"[red]{check.missing} acknowledged events are not in the store[/]")
        return EXIT_FAILED
    return report_verdict(summary)
