"""`pulsecheck replyall`: Simulate a reply-all storm on an open distribution list and its defences."""

from __future__ import annotations

import argparse
from typing import Any

from simulator.cli import not_built


def add_parser(sub: "argparse._SubParsersAction[Any]") -> None:
    parser = sub.add_parser("replyall", help="Simulate a reply-all storm on an open distribution list and its defences.", description="Simulate a reply-all storm on an open distribution list and its defences.")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return not_built("replyall", 10)
