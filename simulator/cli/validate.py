"""`pulsecheck validate FILE...`: check scenario files without running anything.

Theory of operation: each file is loaded as a scenario of its kind; a bad one is reported
with its field path and what is allowed, and the exit code is 2 if any was bad.
`--timing-fit` then prints, for each good mass-reply scenario, both reply-delay models'
figures beside those Kooti et al. (WWW 2015) measured (`simulator.behaviour.timing.delay_fit`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from simulator.cli import EXIT_BAD_INPUT, EXIT_OK, HelpFormatter

if TYPE_CHECKING:
    from simulator.behaviour.timing import DelayFigures

FIT_DRAWS = 1_000_000


def add_parser(sub: argparse._SubParsersAction[Any]) -> None:
    parser = sub.add_parser(
        "validate",
        help="Check scenario files (exit 0 if all are good, 2 otherwise).",
        description="Check scenario TOML files: unknown keys, types, ranges, agency codes, "
        "and cross-field rules such as a deadline after the send time. Every bad file is "
        "reported with the field path, the bad value and what is allowed.",
        epilog="examples:\n  pulsecheck validate scenarios/*.toml\n"
        "  pulsecheck validate scenarios/opm-round1.toml scenarios/replyall-1m.toml\n"
        "  pulsecheck validate --timing-fit scenarios/opm-round1.toml\n",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="scenario TOML files")
    parser.add_argument(
        "--timing-fit",
        action="store_true",
        help="also print both reply-delay models' fit to Kooti et al. (WWW 2015)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from simulator.app.scenarios import load_any  # on use: keeps `--help` light
    from simulator.scenario import Scenario
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
        if args.timing_fit and isinstance(scenario, Scenario):
            print_timing_fit(scenario.behaviour)
    return EXIT_BAD_INPUT if failed else EXIT_OK


def print_timing_fit(behaviour: dict[str, float]) -> None:
    """The fit table: Kooti et al.'s figures and each model's, the chosen one starred."""
    from simulator.behaviour.params import Timing
    from simulator.behaviour.timing import delay_fit, measured_delays

    fits = delay_fit(behaviour, n=FIT_DRAWS)
    chosen = Timing.from_behaviour(behaviour).model
    heads = [f"{m}*" if m == chosen else m for m in fits]
    columns = [measured_delays(), *fits.values()]
    print(f"reply delays before local hours and deadlines ({FIT_DRAWS:,} draws, seed 0)")
    titles = ["Kooti et al.", *heads]
    print(f"{'figure':<28}" + "".join(_cells(titles, lambda title: title)))
    for label, cell in _ROWS:
        print(f"{label:<28}" + "".join(_cells(columns, cell)))
    print("* the scenario's [behaviour] timing_model")


def _number(value: float | None, form: str) -> str:
    return "-" if value is None else format(value, form)


_WIDTHS = (13, 19, 18)
_ROWS: tuple[tuple[str, Callable[[DelayFigures], str]], ...] = (
    ("most common delay (min)", lambda f: _number(f.mode_min, ".1f")),
    ("median delay (min)", lambda f: _number(f.median_min, ".1f")),
    ("share within a day", lambda f: _number(f.within_day, ".1%")),
    ("density slope, 1 h to 1 day", lambda f: _number(f.slope_hour_day, ".2f")),
    ("density slope, 1 day to 1 wk", lambda f: _number(f.slope_day_week, ".2f")),
)


def _cells(items: list[Any], cell: Callable[[Any], str]) -> list[str]:
    return [f"{cell(item):>{width}}" for item, width in zip(items, _WIDTHS, strict=True)]
