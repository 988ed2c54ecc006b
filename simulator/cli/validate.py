"""`pulsecheck validate FILE...`: check scenario files without running anything."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from simulator.cli import EXIT_BAD_INPUT, EXIT_OK, HelpFormatter


def add_parser(sub: argparse._SubParsersAction[Any]) -> None:
    parser = sub.add_parser(
        "validate",
        help="Check scenario files (exit 0 if all are good, 2 otherwise).",
        description="Check scenario TOML files: unknown keys, types, ranges, agency codes, "
        "and cross-field rules such as a deadline after the send time. Every bad file is "
        "reported with the field path, the bad value and what is allowed.",
        epilog="examples:\n  pulsecheck validate scenarios/*.toml\n"
        "  pulsecheck validate scenarios/opm-round1.toml scenarios/replyall-1m.toml\n",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="scenario TOML files")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from simulator.app.scenarios import load_any  # on use: keeps `--help` light
    from simulator.validation import InputError

    failed = 0
    for path in args.files:
        try:
            scenario = load_any(path)
        except InputError as err:
            failed += 1
            print(f"error: {err}", file=sys.stderr)
            continue
        print(f"ok: {path} ({getattr(scenario, 'name', '')})")
    return EXIT_BAD_INPUT if failed else EXIT_OK
