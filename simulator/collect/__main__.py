"""`python -m simulator.collect api|mailbox ...`: the same as `pulsecheck serve`, standalone.

It loads only the collection modules, so a server process starts fast and does not
depend on the other pipeline stages.
"""

from __future__ import annotations

import argparse
import sys

from simulator.cli import EXIT_BAD_INPUT, serve
from simulator.validation import InputError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulator.collect")
    sub = parser.add_subparsers(dest="command", required=True)
    serve.add_parser(sub)
    args = parser.parse_args(["serve", *(sys.argv[1:] if argv is None else argv)])
    try:
        return serve.run(args)
    except InputError as err:
        print(f"pulsecheck serve: error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
