"""`pulsecheck replyall`: simulate a reply-all storm on an open list and its defences.

`pulsecheck replyall SCENARIO` prints one seeded run's outcome, the same storm under
each defence side by side, and the P10/P50/P90 band of many seeded runs; `--out DIR`
writes JSON and PNG figures. `pulsecheck replyall calibrate` fits the model to Bedlam DL3
and Cisco 2013 and prints how close it comes.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simulator.cli import EXIT_OK
from simulator.validation import InputError

if TYPE_CHECKING:  # the model and rich load on use, so `--help` stays light
    from rich.console import Console
    from rich.table import Table

    from simulator.replyall.compare import CompareRow
    from simulator.replyall.section import StormModel
    from simulator.replyall.summary import Outcome

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"

EXAMPLES = """\
examples:
  pulsecheck replyall scenarios/replyall-1m.toml --runs 20
  pulsecheck replyall scenarios/replyall-cisco2013.toml --defence exchange --runs 20 --json
  pulsecheck replyall scenarios/replyall-bedlam1997.toml --runs 20 --out reports/bedlam
  pulsecheck replyall calibrate --runs 10

--defence takes one case of the comparison: none, a defence (or the start of its name,
such as exchange), "as written" (the scenario's own defences) or all.
"""


def add_parser(sub: argparse._SubParsersAction[Any]) -> None:
    parser = sub.add_parser(
        "replyall",
        help="Simulate a reply-all storm on an open distribution list and its defences.",
        description="Simulate a reply-all storm on an open distribution list and its "
        "defences. SCENARIO is a reply-all scenario file, or 'calibrate' to fit the model "
        "to Bedlam DL3 (1997) and Cisco (2013).",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("scenario", metavar="SCENARIO|calibrate")
    parser.add_argument("--runs", type=int, default=100, help="seeded runs in the band")
    parser.add_argument("--seed", type=int, default=None, help="seed (default: scenario's)")
    parser.add_argument("--defence", default="all", help="defence to compare, or 'all'")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    parser.add_argument("--out", type=Path, default=None, help="write JSON and PNGs here")
    parser.add_argument("--bedlam", type=Path, default=SCENARIOS / "replyall-bedlam1997.toml")
    parser.add_argument("--cisco", type=Path, default=SCENARIOS / "replyall-cisco2013.toml")
    parser.set_defaults(func=run)


def _check_args(args: argparse.Namespace) -> None:
    if not 1 <= args.runs <= 10_000:
        raise InputError("command line", "--runs", args.runs, "must be between 1 and 10000")
    if args.seed is not None and args.seed < 0:
        raise InputError("command line", "--seed", args.seed, "must be >= 0")


def run(args: argparse.Namespace) -> int:
    _check_args(args)
    if args.scenario == "calibrate":
        return _calibrate(args)
    return _storm(args)


# -- a storm -----------------------------------------------------------------------


def _fmt(value: float) -> str:
    if value >= 1e6:
        return f"{value:.3g}"
    return f"{value:,.0f}" if value >= 100 else f"{value:.2f}"


def _outcome_table(o: Outcome) -> Table:
    from rich.table import Table

    t = Table(title="One seeded run")
    t.add_column("figure")
    t.add_column("value", justify="right")
    row = o.row(0)
    for key, value in row.items():
        t.add_row(key, value if isinstance(value, str) else _fmt(float(value)))
    return t


def _compare_table(rows: list[CompareRow]) -> Table:
    from rich.table import Table

    from simulator.replyall.compare import COLUMNS

    t = Table(title="The same storm under each defence (medians)")
    t.add_column("case")
    for col in COLUMNS:
        t.add_column(col, justify="right")
    t.add_column("ended by")
    t.add_column("at h", justify="right")
    for r in rows:
        t.add_row(r.case, *(_fmt(r.medians[c]) for c in COLUMNS), r.ended_by, f"{r.ended_at_h:.2f}")
    return t


def _storm(args: argparse.Namespace) -> int:
    from rich.console import Console

    from simulator.app.stages import ReplyAllRequest, replyall

    defence = None if args.defence == "all" else args.defence
    request = ReplyAllRequest(Path(args.scenario), args.runs, args.seed, defence, args.out)
    m = replyall(request)
    if args.json:
        print(json.dumps(m.to_json(), indent=2, default=float))
    else:
        show_model(m, Console(width=None if sys.stdout.isatty() else 160))
    if args.out is not None:
        print(f"wrote {args.out}/replyall.json, report.html and 3 PNG figures", file=sys.stderr)
    return EXIT_OK


def show_model(m: StormModel, console: Console) -> None:
    """The model's tables for the terminal: one run, the defences, the band."""
    from rich.table import Table

    b = m.band
    console.print(_outcome_table(m.one))
    console.print(_compare_table(m.rows))
    band_t = Table(title=f"Band over {b.runs} seeded runs")
    for col in ("figure", "P10", "P50", "P90"):
        band_t.add_column(col, justify="right" if col != "figure" else "left")
    for key, (p10, p50, p90) in b.figures.items():
        band_t.add_row(key, _fmt(p10), _fmt(p50), _fmt(p90))
    console.print(band_t)
    console.print(f"ended by: {b.ended_by}")


# -- calibration -------------------------------------------------------------------


def _calibrate(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from simulator.replyall.calibrate import TOLERANCE, apply_fit, check_fit, fit_storms
    from simulator.replyall.data import storms_on_record
    from simulator.replyall.params import load_replyall

    bedlam, cisco = load_replyall(args.bedlam), load_replyall(args.cisco)
    records = storms_on_record()
    fit = fit_storms(bedlam, cisco, records)
    seed = 1 if args.seed is None else args.seed
    runs = min(args.runs, 40)
    checks = {
        name: check_fit(apply_fit(sc, fit, name), records[name], runs, seed)
        for name, sc in (("bedlam_dl3", bedlam), ("cisco_2013", cisco))
    }
    fitted = apply_fit(bedlam, fit, "bedlam_dl3").behaviour
    params = {
        "rate_scale": fit.rate_scale,
        "reaction_rate_per_copy": fitted.reaction_rate,
        "pool_share": fit.pool_share,
        "cisco_capacity_per_s": fit.cisco_capacity_per_s,
        "size_scale": fit.size_scale,
        "grid_loss": fit.loss,
    }
    if args.json:
        print(json.dumps({"fit": params, "checks": checks, "tolerance": TOLERANCE}, indent=2))
        return EXIT_OK
    console = Console(width=None if sys.stdout.isatty() else 160)
    console.print({k: v for k, v in params.items()})
    t = Table(title=f"Fit against the record (band of {runs} seeded runs)")
    for col in ("storm", "figure", "target", "P10", "P50", "P90", "error", "within tol."):
        t.add_column(col)
    for name, figs in checks.items():
        for key, f in figs.items():
            tgt = "-" if f["target"] is None else _fmt(f["target"])
            err = "-" if f["error"] is None else f"{f['error']:+.1%}"
            ok = "-" if f["ok"] is None else ("yes" if f["ok"] else "NO")
            t.add_row(name, key, tgt, _fmt(f["p10"]), _fmt(f["p50"]), _fmt(f["p90"]), err, ok)
    console.print(t)
    return EXIT_OK
