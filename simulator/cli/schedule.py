"""`pulsecheck schedule`: Turn a workforce and a scenario into the time-ordered events of a round."""

from __future__ import annotations

import argparse
from typing import Any

from simulator.cli import not_built


def add_parser(sub: "argparse._SubParsersAction[Any]") -> None:
    parser = sub.add_parser("schedule", help="Turn a workforce and a scenario into the time-ordered events of a round.", description="Turn a workforce and a scenario into the time-ordered events of a round.")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return not_built("schedule", 4)
