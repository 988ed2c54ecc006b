"""`pulsecheck schedule`: turn a workforce and a scenario into the time-ordered events of a round.

Theory of operation: flags are checked first (scenario file, workforce file, round id,
seed, output paths) and bad ones raise `InputError` (exit 2). Then the workforce columns
the schedule needs are read, `simulator.schedule.build.build_schedule` does the pure
work with a rich progress display on stderr, and the Parquet file and its manifest are
written. `--summary` prints each round's arrival curve; `--plot PNG` also draws it.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from simulator.app.inputs import schedule_manifest
from simulator.cli import EXIT_OK
from simulator.scenario import Scenario, load_scenario
from simulator.schedule.build import build_schedule
from simulator.schedule.io import read_workforce_columns, write_schedule
from simulator.schedule.summary import ArrivalCurve, round_curves
from simulator.validation import InputError

CLI = "command line"
SPARK = " ▁▂▃▄▅▆▇█"

EXAMPLES = """\
examples:
  pulsecheck schedule scenarios/opm-round1.toml --workforce wf.parquet --out s.parquet
  pulsecheck schedule scenarios/opm-weekly.toml --workforce wf.parquet --out s.parquet \\
      --round r2 --seed 7 --summary --plot arrivals.png
"""


def add_parser(sub: argparse._SubParsersAction[Any]) -> None:
    parser = sub.add_parser(
        "schedule",
        help="Turn a workforce and a scenario into the time-ordered events of a round.",
        description="Turn a workforce and a scenario into the time-ordered events of a "
        "round: the broadcast transactions, the replies, out-of-office replies and bounces. "
        "Writes Parquet with a JSON manifest beside it (OUT.manifest.json).",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("scenario", type=Path, metavar="SCENARIO", help="scenario TOML file")
    parser.add_argument("--workforce", type=Path, required=True, help="workforce Parquet file")
    parser.add_argument("--out", type=Path, required=True, help="schedule Parquet file to write")
    parser.add_argument("--round", dest="round_id", help="only this round id (default: all)")
    parser.add_argument(
        "--seed", type=int, help="random seed (>= 0); default: the scenario's workforce seed"
    )
    parser.add_argument("--summary", action="store_true", help="print the arrival curve")
    parser.add_argument("--plot", type=Path, metavar="PNG", help="save the arrival curve as PNG")
    parser.set_defaults(func=run)


def check_file(path: Path, flag: str) -> Path:
    if not path.is_file():
        raise InputError(CLI, flag, str(path), "no such file")
    return path


def check_writable(path: Path, flag: str) -> Path:
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise InputError(CLI, flag, str(path), "is a directory; name a file")
    if not parent.is_dir():
        raise InputError(CLI, flag, str(path), f"directory {parent} does not exist")
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise InputError(CLI, flag, str(path), "is not writable")
    return path


def check_round(scenario: Scenario, round_id: str | None) -> list[str] | None:
    ids = [r.id for r in scenario.rounds]
    if round_id is not None and round_id not in ids:
        raise InputError(CLI, "--round", round_id, f"must be one of: {', '.join(ids)}")
    return None if round_id is None else [round_id]


def check_seed(seed: int | None, scenario: Scenario) -> int:
    if seed is None:
        return scenario.workforce.seed
    if seed < 0:
        raise InputError(CLI, "--seed", seed, "must be a whole number >= 0")
    return seed


def run(args: argparse.Namespace) -> int:
    scenario = load_scenario(check_file(args.scenario, "SCENARIO"))
    rounds = check_round(scenario, args.round_id)
    seed = check_seed(args.seed, scenario)
    workforce_path = check_file(args.workforce, "--workforce")
    out = check_writable(args.out, "--out")
    if args.plot is not None:
        check_writable(args.plot, "--plot")
    err = Console(stderr=True)
    started = time.perf_counter()
    with _progress(err) as bar:
        task = bar.add_task("reading workforce", total=None)
        workforce = read_workforce_columns(workforce_path)
        table = build_schedule(
            scenario, workforce, seed, rounds, lambda s: bar.update(task, description=s)
        )
        bar.update(task, description=f"writing {out}")
        write_schedule(
            table, out, schedule_manifest(scenario, seed, workforce_path, workforce.num_rows)
        )
    elapsed = time.perf_counter() - started
    err.print(f"wrote {table.num_rows:,} events to {out} in {elapsed:.1f} s")
    curves = round_curves(table, scenario)
    if args.summary:
        print_curves(curves, Console())
    if args.plot is not None:
        from simulator.schedule.plot import plot_curves

        plot_curves(curves, args.plot)
        err.print(f"arrival curve plotted to {args.plot}")
    return EXIT_OK


def _progress(console: Console) -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )


def print_curves(curves: list[ArrivalCurve], console: Console) -> None:
    for curve in curves:
        table = Table(title=f"round {curve.round}: arrival curve")
        table.add_column("figure")
        table.add_column("value", justify="right")
        for kind, count in curve.kinds.items():
            table.add_row(f"{kind} events", f"{count:,}")
        table.add_row("replies", f"{curve.replies:,}")
        table.add_row("peak hour", f"{curve.peak_start:%a %d %b %H:%M %Z} (hour {curve.peak_hour})")
        table.add_row("replies in peak hour", f"{curve.peak_count:,}")
        table.add_row("share in last 24 h", f"{curve.share_last_24h:.1%}")
        console.print(table)
        console.print(f"replies per hour from {curve.send_time:%a %H:%M %Z}: {_spark(curve)}")


def _spark(curve: ArrivalCurve) -> str:
    top = max(curve.peak_count, 1)
    return "".join(SPARK[min(8, round(8 * c / top))] for c in curve.per_hour)
