"""`pulsecheck report RUN_DIR`: rebuild summary.json and report.html from a run's files."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from simulator.cli import EXIT_OK, EXIT_THRESHOLDS, HelpFormatter


def add_parser(sub: argparse._SubParsersAction[Any]) -> None:
    parser = sub.add_parser(
        "report",
        help="Rebuild summary.json and report.html from a run directory.",
        description="Read RUN_DIR/results.parquet (from `pulsecheck replay`, `pulsecheck run` "
        "or a Locust run) and RUN_DIR/run.json when present, and write summary.json, "
        "report.html (one self-contained page) and figures/*.png: the same page `run` "
        "wrote. Exits 99 when a threshold recorded for the run fails.",
        epilog="examples:\n  pulsecheck report reports/opm-round1\n"
        "  pulsecheck report reports/run1  # a folder `pulsecheck replay --out` wrote\n",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from simulator.app.reporting import report

    result = report(args.run_dir)
    print(f"wrote {result.page} and {args.run_dir / 'summary.json'}")
    return print_verdict(result.summary)


def print_verdict(summary: dict[str, Any]) -> int:
    """One line with the verdict, the failing checks on stderr; 99 if any failed."""
    checks = [t for t in summary.get("thresholds", []) if t.get("measured", True)]
    skipped = [t["check"] for t in summary.get("thresholds", []) if not t.get("measured", True)]
    failed = [t for t in checks if not t["passed"]]
    for t in failed:
        print(f"threshold failed: {t['check']} (measured {t['value']})", file=sys.stderr)
    note = f"; not measured here: {', '.join(skipped)}" if skipped else ""
    if not checks:
        print(f"verdict: no thresholds set (nothing was checked{note})")
    elif failed:
        print(f"verdict: FAIL ({len(failed)} of {len(checks)} thresholds failed{note})")
    else:
        print(f"verdict: PASS ({len(checks)} thresholds{note})")
    return EXIT_THRESHOLDS if failed else EXIT_OK
