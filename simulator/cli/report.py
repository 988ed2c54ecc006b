"""`pulsecheck report RUN_DIR`: rebuild summary.json and report.html from a run's files."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from simulator.cli import EXIT_OK, EXIT_THRESHOLDS
from simulator.report.build import build_report


def add_parser(sub: argparse._SubParsersAction[Any]) -> None:
    parser = sub.add_parser(
        "report",
        help="Rebuild summary.json and report.html from a run directory.",
        description="Read RUN_DIR/results.parquet (from `pulsecheck replay`, `pulsecheck run` "
        "or a Locust run) and RUN_DIR/run.json when present, and write summary.json, "
        "report.html (one self-contained page) and figures/*.png. Exits 99 when a "
        "threshold recorded for the run fails.",
        epilog="example: pulsecheck report reports/opm-round1",
    )
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    summary = build_report(args.run_dir)
    print(f"wrote {args.run_dir / 'report.html'} and {args.run_dir / 'summary.json'}")
    return report_verdict(summary)


def report_verdict(summary: dict[str, Any]) -> int:
    """Print failing thresholds; 99 if any failed."""
    failed = [t for t in summary.get("thresholds", []) if not t["passed"]]
    for t in failed:
        print(f"threshold failed: {t['check']} (measured {t['value']})", file=sys.stderr)
    return EXIT_THRESHOLDS if failed else EXIT_OK
