"""`pulsecheck store`: Inspect a collection store (SQLite)."""

from __future__ import annotations

import argparse
from typing import Any

from simulator.cli import not_built


def add_parser(sub: "argparse._SubParsersAction[Any]") -> None:
    parser = sub.add_parser("store", help="Inspect a collection store (SQLite).", description="Inspect a collection store (SQLite).")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return not_built("store", 5)
