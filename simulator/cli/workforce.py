"""`pulsecheck workforce`: build the synthetic federal workforce, or report its calibration.

Theory of operation: two actions share one subcommand. Without an action it builds
(`--scale`, `--seed`, `--out`, `--tables`) and writes Parquet + manifest, drawing the
generator's progress callback as a rich progress bar on stderr for large runs. The
`calibrate PATH` action reads a workforce file and prints each published marginal beside
the generated one (`--json` for machines). Flags are checked here, before any work, and
bad ones raise `InputError` (exit 2).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path
from typing import Any

from simulator.cli import EXIT_OK, HelpFormatter
from simulator.scenario import MAX_SCALE  # 23M rows; above 1, built copy by copy
from simulator.validation import InputError, finite_float

PROGRESS_FROM_ROWS = 200_000  # draw a progress bar for runs at least this big (scale ~0.09)
FULL_HEADCOUNT = 2_313_216  # FedScope Sep 2024, for the size estimate only

BUILD_EXAMPLES = """\
examples:
  pulsecheck workforce --scale 0.01 --seed 1 --out wf.parquet
  pulsecheck workforce --scale 0.1 --out big.parquet --tables simulator/data
  pulsecheck workforce --scale 10 --out org10.parquet
  pulsecheck workforce calibrate wf.parquet
  pulsecheck workforce calibrate wf.parquet --json

--tables takes a directory holding the calibration CSV files of simulator/data
(agencies.csv, pay_grades.csv, ...) with your own numbers.
"""

CALIBRATE_EXAMPLES = """\
examples:
  pulsecheck workforce calibrate wf.parquet
  pulsecheck workforce calibrate wf.parquet --json --tables simulator/data
"""


def add_parser(sub: argparse._SubParsersAction[Any]) -> None:
    parser = sub.add_parser(
        "workforce",
        help="Build the synthetic federal workforce (Parquet + manifest), or check calibration.",
        description="Build one row per federal employee, calibrated to OPM FedScope Sep 2024, "
        "and write it as Parquet with a JSON manifest beside it (PATH.manifest.json).",
        epilog=BUILD_EXAMPLES,
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "--scale",
        type=finite_float,
        default=1.0,
        help="multiple of the 2.31M workforce (0 < S <= 10); above 1, a synthetic "
        "organisation of ceil(S) copies of the federal layout, built in parallel",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (>= 0); default 0")
    parser.add_argument("--out", type=Path, help="Parquet file to write (required to build)")
    parser.add_argument(
        "--tables", type=Path, help="directory of calibration CSV files (default: built-in)"
    )
    actions = parser.add_subparsers(dest="workforce_action", metavar="ACTION")
    calibrate = actions.add_parser(
        "calibrate",
        help="print each published marginal beside the generated one, with scores",
        description="Read a workforce Parquet file and compare it with the calibration "
        "tables: total variation for categories, Kolmogorov-Smirnov for pay, relative gap "
        "for single figures. The worst gaps are listed last.",
        epilog=CALIBRATE_EXAMPLES,
        formatter_class=HelpFormatter,
    )
    calibrate.add_argument("path", type=Path, metavar="PATH", help="workforce Parquet file")
    calibrate.add_argument("--json", action="store_true", help="print the report as JSON")
    calibrate.add_argument(
        "--tables",
        type=Path,
        default=argparse.SUPPRESS,  # keep a --tables given before the action
        help="calibration CSV directory to compare with (default: built-in)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.workforce_action == "calibrate":
        return run_calibrate(args)
    return run_build(args)


# -- build ------------------------------------------------------------------------------


def check_scale(scale: float) -> float:
    if not (math.isfinite(scale) and 0 < scale <= MAX_SCALE):
        raise InputError("command line", "--scale", scale, f"must be > 0 and <= {MAX_SCALE:g}")
    return scale


def check_seed(seed: int) -> int:
    if seed < 0:
        raise InputError("command line", "--seed", seed, "must be a whole number >= 0")
    return seed


def check_out(out: Path | None) -> Path:
    """The output path must name a file in an existing, writable directory."""
    if out is None:
        raise InputError("command line", "--out", None, "is required: a .parquet file to write")
    parent = out.parent if str(out.parent) else Path(".")
    if out.is_dir():
        raise InputError("command line", "--out", str(out), "is a directory; name a file")
    if not parent.is_dir():
        raise InputError("command line", "--out", str(out), f"directory {parent} does not exist")
    if not os.access(parent, os.W_OK) or (out.exists() and not os.access(out, os.W_OK)):
        raise InputError("command line", "--out", str(out), "is not writable")
    return out


def run_build(args: argparse.Namespace) -> int:
    from rich.console import Console  # the work loads on use, so `--help` stays light
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from simulator.app.stages import WorkforceRequest, workforce

    scale, seed, out = check_scale(args.scale), check_seed(args.seed), check_out(args.out)
    request = WorkforceRequest(scale, seed, out, args.tables)
    if FULL_HEADCOUNT * scale >= PROGRESS_FROM_ROWS:
        columns = (TextColumn("{task.description:<32}"), BarColumn(), TimeElapsedColumn())
        with Progress(*columns, console=Console(stderr=True), transient=False) as bar:
            task = bar.add_task("workforce", total=1.0)

            def show(stage: str, done: float) -> None:
                bar.update(task, description=stage, completed=done)

            result = workforce(request, show)
    else:
        result = workforce(request)
    print(f"wrote {result.rows:,} employees to {out} (manifest {result.manifest})")
    return EXIT_OK


# -- calibrate --------------------------------------------------------------------------


def run_calibrate(args: argparse.Namespace) -> int:
    from simulator.workforce import calibration_report, load_tables, read_workforce

    if not args.path.is_file():
        raise InputError("command line", "PATH", str(args.path), "must be a workforce file")
    report = calibration_report(read_workforce(args.path), load_tables(args.tables))
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        print()
    else:
        _print_report(report)
    return EXIT_OK


def _shown(value: Any) -> str:
    if isinstance(value, dict):
        top = sorted(value.items(), key=lambda kv: -kv[1])[:3]
        more = f" +{len(value) - 3}" if len(value) > 3 else ""
        return ", ".join(f"{k} {v:.3f}" for k, v in top) + more
    if isinstance(value, float):
        return f"{value:,.4g}"
    return str(value)


def _print_report(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    prov = report["provenance"]
    console.print(
        f"[bold]Calibration of {report['rows']:,} employees[/] "
        f"(seed {prov['seed']}, scale {prov['scale']})"
    )
    table = Table("marginal", "metric", "score", "published", "generated")
    for m in report["marginals"]:
        pub, gen = _shown(m["published"]), _shown(m["generated"])
        table.add_row(m["name"], m["metric"], f"{m['score']:.4f}", pub, gen)
    console.print(table)
    console.print("[bold]Worst gaps:[/]")
    for m in report["worst"]:
        console.print(f"  {m['name']}: {m['metric']} {m['score']:.4f}")
