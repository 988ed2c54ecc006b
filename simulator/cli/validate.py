"""`pulsecheck validate`: Check scenario files."""

from __future__ import annotations

import argparse
from typing import Any

from simulator.cli import not_built


def add_parser(sub: "argparse._SubParsersAction[Any]") -> None:
    parser = sub.add_parser("validate", help="Check scenario files.", description="Check scenario files.")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return not_built("validate", 2)
