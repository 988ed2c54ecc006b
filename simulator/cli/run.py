"""`pulsecheck run`: Run every stage end to end against the embedded collection systems."""

from __future__ import annotations

import argparse
from typing import Any

from simulator.cli import not_built


def add_parser(sub: argparse._SubParsersAction[Any]) -> None:
    parser = sub.add_parser(
        "run",
        help="Run every stage end to end against the embedded collection systems.",
        description="Run every stage end to end against the embedded collection systems.",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return not_built("run", 9)
