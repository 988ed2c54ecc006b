"""The `pulsecheck` command: one subcommand per pipeline stage.

Theory of operation: each stage lives in its own module under `simulator.cli` and exposes
`add_parser(subparsers)`, which registers the subcommand and sets `func` to a function
`(argparse.Namespace) -> int`. `main` only dispatches and turns `InputError` into exit 2,
so every stage reports bad input the same way.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from simulator import __version__
from simulator.validation import InputError

# Exit codes shared by every subcommand.
EXIT_OK = 0
EXIT_FAILED = 1  # the work itself failed (a server would not start, a run lost data)
EXIT_BAD_INPUT = 2  # a file, field or flag was wrong; the message names it
EXIT_NOT_BUILT = 3  # the stage exists in the CLI but is not implemented yet
EXIT_THRESHOLDS = 99  # the run finished but a [thresholds] check failed (k6 uses 99 too)

STAGES = (
    "validate",
    "workforce",
    "schedule",
    "serve",
    "store",
    "replay",
    "report",
    "cost",
    "run",
    "replyall",
)

EPILOG = """\
The stages form a pipeline; each writes a file the next one reads:

  pulsecheck workforce --scale 0.01 --out wf.parquet
  pulsecheck schedule scenarios/opm-round1.toml --workforce wf.parquet --out s.parquet
  pulsecheck replay s.parquet --target embedded --speedup 600 --out reports/run1
  pulsecheck report reports/run1

`pulsecheck run SCENARIO` chains them all. Exit codes: 0 ok, 1 failed, 2 bad input,
3 stage not built yet, 99 a threshold failed.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pulsecheck",
        description="Simulate mass-mail events and their reply storms, replay them against "
        "collection systems, and report throughput, latency, losses and cost.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"pulsecheck {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for stage in STAGES:
        module = importlib.import_module(f"simulator.cli.{stage}")
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_BAD_INPUT
    try:
        code: int = args.func(args)
    except InputError as err:
        print(f"pulsecheck {args.command}: error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"pulsecheck {args.command}: interrupted", file=sys.stderr)
        return 130
    return code


def not_built(stage: str, issue: int) -> int:
    """Say plainly that a stage is missing rather than print fake output."""
    print(
        f"pulsecheck {stage}: this stage is not built yet (tracked as issue {issue}); "
        "nothing was done.",
        file=sys.stderr,
    )
    return EXIT_NOT_BUILT
