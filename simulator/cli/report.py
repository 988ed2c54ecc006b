"""`pulsecheck report`: Build summary.json and report.html from a run directory."""

from __future__ import annotations

import argparse
from typing import Any

from simulator.cli import not_built


def add_parser(sub: argparse._SubParsersAction[Any]) -> None:
    parser = sub.add_parser(
        "report",
        help="Build summary.json and report.html from a run directory.",
        description="Build summary.json and report.html from a run directory.",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return not_built("report", 9)
