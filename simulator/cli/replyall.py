"""`pulsecheck replyall`: simulate a reply-all storm on an open list and its defences.

`pulsecheck replyall SCENARIO` prints one seeded run's outcome, the same storm under
each defence side by side, and the P10/P50/P90 band of many seeded runs; `--out DIR`
writes JSON and PNG figures. `pulsecheck replyall calibrate` fits the model to Bedlam DL3,
DHS 2007 and Cisco 2013, prints how close it comes, and predicts each storm from a fit on
the other two (leave one out). Every table fits 80 columns: the defence
comparison is three narrow tables (size, speed, who is hit and how it ends) rather than
one wide one, counts print as whole numbers with thousands separators, and the console
takes its width from the terminal or `COLUMNS` (80 when neither says).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simulator.cli import EXIT_OK, HelpFormatter
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
  pulsecheck replyall scenarios/replyall-cisco2013.toml --defence exchange \\
      --runs 20 --json
  pulsecheck replyall scenarios/replyall-bedlam1997.toml --runs 20 \\
      --out reports/bedlam
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
        "to Bedlam DL3 (1997), DHS (2007) and Cisco (2013) and print leave-one-out errors.",
        epilog=EXAMPLES,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("scenario", metavar="SCENARIO|calibrate")
    parser.add_argument("--runs", type=int, default=100, help="seeded runs in the band")
    parser.add_argument("--seed", type=int, default=None, help="seed (default: scenario's)")
    parser.add_argument("--defence", default="all", help="defence to compare, or 'all'")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    parser.add_argument("--out", type=Path, default=None, help="write JSON and PNGs here")
    parser.add_argument("--bedlam", type=Path, default=SCENARIOS / "replyall-bedlam1997.toml")
    parser.add_argument("--cisco", type=Path, default=SCENARIOS / "replyall-cisco2013.toml")
    parser.add_argument("--dhs", type=Path, default=SCENARIOS / "replyall-dhs2007.toml")
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


COUNTS = frozenset(
    {
        "posts",
        "list_posts",
        "rejected_posts",
        "recalls",
        "deliveries",
        "list_deliveries",
        "single_deliveries",
        "max_backlog",
        "mailbox_rejected",
        "per_poster",
    }
)
COMPARE_TABLES = (  # title, columns
    ("how big", ("posts", "list_posts", "deliveries", "gigabytes")),
    ("how fast", ("peak_posts_per_s", "peak_deliveries_per_s", "max_backlog", "drain_h")),
    ("who is hit, how it ends", ("per_member", "per_poster", "ended_by", "ended_at_h")),
)
HEADERS = {
    "list_posts": "list posts",
    "gigabytes": "GB",
    "peak_posts_per_s": "peak posts/s",
    "peak_deliveries_per_s": "peak deliv./s",
    "max_backlog": "max backlog",
    "drain_h": "drain h",
    "per_member": "per member",
    "per_poster": "per poster",
    "ended_by": "ended by",
    "ended_at_h": "at h",
}


def fmt_figure(name: str, value: Any) -> str:
    """A figure for reading: counts whole with separators, hours and rates short."""
    if isinstance(value, str):
        return value.replace("_", " ")
    if isinstance(value, bool):
        return "yes" if value else "no"
    v = float(value)
    if name in COUNTS:
        return f"{round(v):,}"
    if name == "bytes":
        return f"{v / 1e9:,.1f} GB"
    if name.endswith("_h"):
        return f"{v:,.2f}"
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:,.1f}"


def _outcome_table(o: Outcome) -> Table:
    from rich.table import Table

    t = Table(title="One seeded run")
    t.add_column("figure")
    t.add_column("value", justify="right")
    for key, value in o.row(0).items():
        t.add_row(key, fmt_figure(key, value))
    return t


def compare_tables(rows: list[CompareRow]) -> list[Table]:
    """The same storm under each defence, as three tables narrow enough for 80 columns."""
    from rich.table import Table

    out = []
    for title, columns in COMPARE_TABLES:
        t = Table(title=f"The same storm under each defence: {title} (medians)")
        t.add_column("case", ratio=1, min_width=14)
        for col in columns:
            wraps = col == "ended_by"
            t.add_column(
                HEADERS.get(col, col), justify="left" if wraps else "right", no_wrap=not wraps
            )
        for r in rows:
            cells = {**r.medians, "ended_by": r.ended_by, "ended_at_h": r.ended_at_h}
            t.add_row(r.case.replace("_", " "), *(fmt_figure(c, cells[c]) for c in columns))
        out.append(t)
    return out


def ended_by_words(ended_by: dict[str, int], runs: int) -> str:
    """`{'exchange_protection': 5}` -> `ended by: exchange protection in 5 of 5 runs`."""
    parts = [
        f"{name.replace('_', ' ')} in {n:,} of {runs:,} run{'s' if runs != 1 else ''}"
        for name, n in sorted(ended_by.items(), key=lambda kv: -kv[1])
    ]
    return "ended by: " + ("; ".join(parts) or "nothing")


def _storm(args: argparse.Namespace) -> int:
    from rich.console import Console

    from simulator.app.stages import ReplyAllRequest, replyall

    defence = None if args.defence == "all" else args.defence
    request = ReplyAllRequest(Path(args.scenario), args.runs, args.seed, defence, args.out)
    m = replyall(request)
    if args.json:
        print(json.dumps(m.to_json(), indent=2, default=float))
    else:
        show_model(m, Console())
    if args.out is not None:
        print(f"wrote {args.out}/replyall.json, report.html and 3 PNG figures", file=sys.stderr)
    return EXIT_OK


def show_model(m: StormModel, console: Console) -> None:
    """The model's tables for the terminal: one run, the defences, the band."""
    from rich.table import Table

    b = m.band
    console.print(_outcome_table(m.one))
    for table in compare_tables(m.rows):
        console.print(table)
    band_t = Table(title=f"Band over {b.runs} seeded runs")
    for col in ("figure", "P10", "P50", "P90"):
        band_t.add_column(col, justify="right" if col != "figure" else "left")
    for key, (p10, p50, p90) in b.figures.items():
        band_t.add_row(key, *(fmt_figure(key, v) for v in (p10, p50, p90)))
    console.print(band_t)
    console.print(ended_by_words(b.ended_by, b.runs))


# -- calibration -------------------------------------------------------------------


def _calibrate(args: argparse.Namespace) -> int:
    from rich.console import Console

    from simulator.replyall.calibrate import (
        TOLERANCE,
        apply_fit,
        check_fit,
        fit_storms,
        leave_one_out,
    )
    from simulator.replyall.data import storms_on_record
    from simulator.replyall.params import load_replyall

    paths = {"bedlam_dl3": args.bedlam, "dhs_2007": args.dhs, "cisco_2013": args.cisco}
    scenarios = {name: load_replyall(path) for name, path in paths.items()}
    records = storms_on_record()
    fit = fit_storms(scenarios, records)
    seed = 1 if args.seed is None else args.seed
    runs = min(args.runs, 40)
    checks = {
        name: check_fit(apply_fit(sc, fit, name), records[name], runs, seed)
        for name, sc in scenarios.items()
    }
    loo = leave_one_out(scenarios, records, runs, seed)
    fitted = apply_fit(scenarios["bedlam_dl3"], fit, "bedlam_dl3").behaviour
    params = {
        "rate_scale": fit.rate_scale,
        "reaction_rate_per_copy": fitted.reaction_rate,
        "pool_share": fit.pool_share,
        "responsibility_exponent": fit.exponent,
        "capacity_per_s": fit.capacity_per_s,
        "list_size": fit.list_size,
        "size_scale": fit.size_scale,
        "grid_loss": fit.loss,
    }
    loo_rows = [
        {
            "left_out": r.storm,
            "list_size": r.list_size,
            "fit": {
                "rate_scale": r.fit.rate_scale,
                "pool_share": r.fit.pool_share,
                "exponent": r.fit.exponent,
            },
            "figures": {
                k: {"record": r.record[k], "predicted": r.predicted[k], "error": r.error(k)}
                for k in r.predicted
            },
        }
        for r in loo
    ]
    if args.json:
        doc = {"fit": params, "checks": checks, "leave_one_out": loo_rows, "tolerance": TOLERANCE}
        print(json.dumps(doc, indent=2))
        return EXIT_OK
    console = Console()
    for table in calibration_tables(params, checks, runs):
        console.print(table)
    console.print(leave_one_out_table(loo_rows, runs))
    return EXIT_OK


PARAM_WORDS = {
    "rate_scale": "reaction rates x",
    "reaction_rate_per_copy": "replies per copy seen (10k list)",
    "pool_share": "share who would reply (10k list)",
    "responsibility_exponent": "propensity x (N/10k)^-this",
    "capacity_per_s": "mail system, messages/s",
    "list_size": "members, within the record's range",
    "size_scale": "message size x",
    "grid_loss": "fit's remaining loss",
}
SHORT = {"bedlam_dl3": "Bedlam DL3", "dhs_2007": "DHS 2007", "cisco_2013": "Cisco 2013"}


def calibration_tables(
    params: dict[str, Any], checks: dict[str, dict[str, dict[str, Any]]], runs: int
) -> list[Table]:
    """The fitted parameters and, per storm, the fit against the record."""
    from rich.table import Table

    fit = Table(title="Fitted parameters")
    for col in ("parameter", "value", "meaning"):
        fit.add_column(col, justify="right" if col == "value" else "left")
    for key, value in params.items():
        values = value.items() if isinstance(value, dict) else [("", value)]
        for sub, v in values:
            name = f"{key} ({SHORT.get(sub, sub)})" if sub else key
            text = f"{int(v):,}" if key == "list_size" else f"{float(v):,.4g}"
            fit.add_row(name, text, PARAM_WORDS.get(key, ""))
    out = [fit]
    for storm, figs in checks.items():
        t = Table(
            title=f"{SHORT.get(storm, storm)}: fit against the record (band of {runs} seeded runs)",
            show_edge=False,
        )
        t.add_column("figure", no_wrap=True)
        for col in ("record", "P10", "P50", "P90", "error", "ok"):
            t.add_column(col, justify="right", no_wrap=True)
        for key, f in figs.items():
            tgt = "-" if f["target"] is None else fmt_figure(key, f["target"])
            err = "-" if f["error"] is None else f"{f['error']:+.0%}"
            ok = "-" if f["ok"] is None else ("yes" if f["ok"] else "NO")
            cells = (fmt_figure(key, f[p]) for p in ("p10", "p50", "p90"))
            t.add_row(HEADERS.get(key, key), tgt, *cells, err, ok)
        out.append(t)
    return out


def leave_one_out_table(rows: list[dict[str, Any]], runs: int) -> Table:
    """Fit on two storms, predict the third: record, P50 prediction and error per figure."""
    from rich.table import Table

    t = Table(
        title=f"Leave one out: fit on two, predict the third (P50 of {runs} runs)",
        show_edge=False,
    )
    for col in ("left out", "members", "figure", "record", "predicted", "error"):
        t.add_column(
            col, justify="left" if col in ("left out", "figure") else "right", no_wrap=True
        )
    for r in rows:
        for i, (key, f) in enumerate(r["figures"].items()):
            rec = "-" if f["record"] is None else fmt_figure(key, f["record"])
            err = "-" if f["error"] is None else f"{f['error']:+.0%}"
            head = (
                (SHORT.get(r["left_out"], r["left_out"]), f"{r['list_size']:,}")
                if i == 0
                else ("", "")
            )
            t.add_row(*head, key, rec, fmt_figure(key, f["predicted"]), err)
    return t
