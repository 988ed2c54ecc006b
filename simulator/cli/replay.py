"""`pulsecheck replay`: Replay a schedule open-loop against a collection system."""

from __future__ import annotations

import argparse
from typing import Any

from simulator.cli import not_built


def add_parser(sub: "argparse._SubParsersAction[Any]") -> None:
    parser = sub.add_parser("replay", help="Replay a schedule open-loop against a collection system.", description="Replay a schedule open-loop against a collection system.")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return not_built("replay", 6)
