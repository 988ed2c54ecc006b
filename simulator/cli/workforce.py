"""`pulsecheck workforce`: Build the synthetic federal workforce (Parquet + manifest)."""

from __future__ import annotations

import argparse
from typing import Any

from simulator.cli import not_built


def add_parser(sub: "argparse._SubParsersAction[Any]") -> None:
    parser = sub.add_parser("workforce", help="Build the synthetic federal workforce (Parquet + manifest).", description="Build the synthetic federal workforce (Parquet + manifest).")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return not_built("workforce", 3)
