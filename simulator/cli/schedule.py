"""`pulsecheck schedule`: turn a workforce and a scenario into the time-ordered events of a round.

Theory of operation: flags are checked first (scenario file, workforce file, round id,
seed, output paths) and bad ones raise `InputError` (exit 2). Then the workforce columns
the schedule needs are read, `simulator.schedule.build.build_schedule` does the pure
work with a rich progress display on stderr, and the Parquet file and its manifest are
written. `--summary` prints each round's arrival curve, its replies by and after the deadline,
the cumulative replies by day and the staff excluded per agency; `--plot PNG` also
draws the curve.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simulator.cli import EXIT_OK, HelpFormatter
from simulator.scenario import SERIES_DETAIL
from simulator.validation import InputError

if TYPE_CHECKING:  # the work's modules load on use, so `--help` stays light
    from rich.console import Console
    from rich.progress import Progress

    from simulator.app.stages import ScheduleRequest
    from simulator.schedule.summary import ArrivalCurve

CLI = "command line"
SPARK = " ▁▂▃▄▅▆▇█"

EXAMPLES = """\
examples:
  pulsecheck schedule scenarios/opm-round1.toml --workforce wf.parquet \\
      --out s.parquet
  pulsecheck schedule scenarios/opm-weekly.toml --workforce wf.parquet \\
      --out s.parquet --round r2 --seed 7 --summary --plot arrivals.png
"""


def add_parser(sub: argparse._SubParsersAction[Any]) -> None:
    parser = sub.add_parser(
        "schedule",
        help="Turn a workforce and a scenario into the time-ordered events of a round.",
        description="Turn a workforce and a scenario into the time-ordered events of a "
        "round: the broadcast transactions, the replies, out-of-office replies and bounces. "
        "Writes Parquet with a JSON manifest beside it (OUT.manifest.json).",
        epilog=EXAMPLES,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("scenario", type=Path, metavar="SCENARIO", help="scenario TOML file")
    parser.add_argument("--workforce", type=Path, required=True, help="workforce Parquet file")
    parser.add_argument("--out", type=Path, required=True, help="schedule Parquet file to write")
    parser.add_argument("--round", dest="round_id", help="only this round id (default: all)")
    parser.add_argument(
        "--seed", type=int, help="random seed (>= 0); default: the scenario's workforce seed"
    )
    parser.add_argument(
        "--summary",
        action="store_true",
        help="print the arrival curve, replies after the deadline, replies by day and "
        "the staff excluded per agency",
    )
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


def request_from(args: argparse.Namespace) -> ScheduleRequest:
    """The flags checked (files there, outputs writable, seed >= 0) as a request."""
    from simulator.app.stages import ScheduleRequest

    if args.seed is not None and args.seed < 0:
        raise InputError(CLI, "--seed", args.seed, "must be a whole number >= 0")
    if args.plot is not None:
        check_writable(args.plot, "--plot")
    return ScheduleRequest(
        scenario=check_file(args.scenario, "SCENARIO"),
        workforce=check_file(args.workforce, "--workforce"),
        out=check_writable(args.out, "--out"),
        round_ids=None if args.round_id is None else (args.round_id,),
        seed=args.seed,
    )


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from simulator.app.stages import schedule

    request = request_from(args)
    err = Console(stderr=True)
    started = time.perf_counter()
    with _progress(err) as bar:
        task = bar.add_task("reading workforce", total=None)
        result = schedule(request, lambda s: bar.update(task, description=s))
    elapsed = time.perf_counter() - started
    err.print(f"wrote {result.rows:,} events to {request.out} in {elapsed:.1f} s")
    curves = result.curves
    if args.summary:
        print_curves(curves if len(curves) <= SERIES_DETAIL else [], Console())
        if len(curves) > 1:
            print_rounds(curves, Console())
        print_exclusions(result.exclusions, Console())
    if args.plot is not None:
        from simulator.schedule.plot import plot_curves

        plot_curves(curves, args.plot)
        err.print(f"arrival curve plotted to {args.plot}")
    return EXIT_OK


def _progress(console: Console) -> Progress:
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )


def print_curves(curves: list[ArrivalCurve], console: Console) -> None:
    from rich.table import Table

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
        table.add_row(
            f"replies by the deadline {curve.deadline:%a %d %b %H:%M %Z}",
            f"{curve.before_deadline:,}",
        )
        table.add_row("replies after the deadline", f"{curve.after_deadline:,}")
        console.print(table)
        print_days(curve, console)
        console.print(f"replies per hour from {curve.send_time:%a %H:%M %Z}: {_spark(curve)}")


def print_rounds(curves: list[ArrivalCurve], console: Console) -> None:
    """One line per round and the series total (fits 80 columns)."""
    from rich.table import Table

    from simulator.schedule.summary import series_totals

    first = max(curves[0].replies, 1)
    table = Table(title="replies per round and in total")
    for name in ("round", "sent", "deadline", "replies", "of 1st", "generic", "peak hour"):
        table.add_column(name, justify="left" if name in ("round", "sent") else "right")
    for c in curves:
        table.add_row(
            c.round,
            f"{c.send_time:%a %d %b}",
            f"{c.deadline:%a %d %b}",
            f"{c.replies:,}",
            f"{c.replies / first:.0%}",
            f"{c.boilerplate / max(c.replies, 1):.0%}",
            f"{c.peak_start:%a %H:%M}",
        )
    total = series_totals(curves)
    table.add_section()
    table.add_row(
        f"{total.rounds} rounds",
        f"{total.first:%a %d %b}",
        f"{total.last_deadline:%a %d %b}",
        f"{total.replies:,}",
        "",
        f"{total.boilerplate_share:.0%}",
        "",
    )
    table.caption = "generic: form letter or boilerplate; counts at the workforce's scale"
    console.print(table)


def print_days(curve: ArrivalCurve, console: Console) -> None:
    """Cumulative replies at the end of each day, in the round's time zone."""
    from rich.table import Table

    table = Table(title=f"round {curve.round}: cumulative replies by day")
    table.add_column("day")
    table.add_column("that day", justify="right")
    table.add_column("cumulative", justify="right")
    previous = 0
    for day, total in curve.by_day:
        table.add_row(f"{day:%a %d %b}", f"{total - previous:,}", f"{total:,}")
        previous = total
    console.print(table)


def print_exclusions(reports: dict[str, list[dict[str, Any]]], console: Console) -> None:
    """Each round's exclusions report: staff excluded per agency, category and reason."""
    from rich.table import Table

    for round_id, rows in reports.items():
        table = Table(title=f"round {round_id}: staff excluded from replying (report to OPM)")
        for name in ("agency", "category", "reason"):
            table.add_column(name)
        table.add_column("staff", justify="right")
        for row in rows:
            table.add_row(row["agency"], row["category"], row["reason"], f"{row['count']:,}")
        table.add_row("all", "", "", f"{sum(r['count'] for r in rows):,}")
        console.print(table)


def _spark(curve: ArrivalCurve) -> str:
    top = max(curve.peak_count, 1)
    return "".join(SPARK[min(8, round(8 * c / top))] for c in curve.per_hour)
