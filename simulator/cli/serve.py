"""`pulsecheck serve`: Run a reference collection system (HTTP API or SMTP mailbox) on loopback."""

from __future__ import annotations

import argparse
from typing import Any

from simulator.cli import not_built


def add_parser(sub: "argparse._SubParsersAction[Any]") -> None:
    parser = sub.add_parser("serve", help="Run a reference collection system (HTTP API or SMTP mailbox) on loopback.", description="Run a reference collection system (HTTP API or SMTP mailbox) on loopback.")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return not_built("serve", 5)
