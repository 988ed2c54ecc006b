"""`pulsecheck cost`: Estimate the cost of a round and a year, with P10/P50/P90 ranges."""

from __future__ import annotations

import argparse
from typing import Any

from simulator.cli import not_built


def add_parser(sub: "argparse._SubParsersAction[Any]") -> None:
    parser = sub.add_parser("cost", help="Estimate the cost of a round and a year, with P10/P50/P90 ranges.", description="Estimate the cost of a round and a year, with P10/P50/P90 ranges.")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return not_built("cost", 8)
