"""`pulsecheck compare RUN_A RUN_B`: what differs between two runs, with the ratio B/A."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from simulator.cli import EXIT_OK, HelpFormatter

EPILOG = """\
Each RUN is a directory `pulsecheck run` wrote (or one `pulsecheck report` rebuilt). The
table shows throughput (acknowledged and answered per second, the most answers in one
second), latency corrected from the intended send time (p50, p90, p99, max), lost,
late, failures by reason, and each round's cost P50 with its P10-P90 range: A, B and
B/A. Exit codes: 0 compared, 2 an argument is not a run directory or the page cannot be
written.

examples:
  pulsecheck compare reports/ci-smoke reports/ci-smoke-fast
  pulsecheck compare reports/run1 reports/run2 --html reports/run1-vs-run2.html
"""


def add_parser(sub: argparse._SubParsersAction[Any]) -> None:
    parser = sub.add_parser(
        "compare",
        help="Compare two run directories: throughput, latency, failures, lost and cost.",
        description="Print the figures that matter of two runs side by side, with the ratio\n"
        "B/A, in a table that fits 80 columns; --html writes them as a page too.",
        epilog=EPILOG,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("run_a", type=Path, metavar="RUN_A", help="the first run directory")
    parser.add_argument("run_b", type=Path, metavar="RUN_B", help="the run to compare with it")
    parser.add_argument("--html", type=Path, metavar="PAGE", help="also write an HTML page")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from simulator.app.comparing import CompareRequest, compare
    from simulator.cli.schedule import check_writable

    page = None if args.html is None else check_writable(args.html, "--html")
    result = compare(CompareRequest(args.run_a, args.run_b, page))
    sys.stdout.write(result.text)
    if result.page is not None:
        print(f"wrote {result.page}", file=sys.stderr)
    return EXIT_OK
