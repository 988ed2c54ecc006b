"""The `pulsecheck` command: one subcommand per pipeline stage, each loaded only when chosen.

Theory of operation: `COMMANDS` lists every subcommand with its one-line help and the
module under `simulator.cli` that implements it. Each module exposes
`add_parser(subparsers)`, which registers the full subparser and sets `func` to a
function `(argparse.Namespace) -> int`. `main` finds the chosen command on the command
line (the first argument that is not an option: the top level has only `--help` and
`--version`, which take no value) and builds the top-level parser with that command's
real subparser; every other command is a placeholder carrying its one-line help from the
table. So `pulsecheck --help` and `--version` import no stage module (no numpy, pyarrow,
rich, aiohttp, matplotlib), and `pulsecheck COMMAND ...` imports that stage alone, whose
parser then reads the arguments and prints the command's full `--help`.
`build_parser()` without arguments loads every module: the complete parser, for tests
and for code that parses another command's flags. `main` only dispatches and turns
`InputError` into exit 2, so every stage reports bad input the same way.
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import sys
import textwrap
from collections.abc import Iterable, Sequence

from simulator import __version__

# Exit codes shared by every subcommand.
EXIT_OK = 0
EXIT_FAILED = 1  # the work itself failed (a server would not start, a run lost data)
EXIT_BAD_INPUT = 2  # a file, field or flag was wrong; the message names it
EXIT_NOT_BUILT = 3  # the stage exists in the CLI but is not implemented yet
EXIT_THRESHOLDS = 99  # the run finished but a [thresholds] check failed (k6 uses 99 too)

HELP_WIDTH = 80  # the widest `--help` line, whatever the terminal


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """`--help` that fits the terminal, and at most 80 columns: prose paragraphs of the
    description and the epilog are re-filled to the width; a paragraph with an indented
    line (examples, a table) is kept as written, and must fit on its own."""

    def __init__(self, prog: str) -> None:
        columns = shutil.get_terminal_size((HELP_WIDTH, 24)).columns
        super().__init__(prog, width=max(min(columns, HELP_WIDTH) - 2, 40))

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        width = self._width  # the epilog's prose too may use the whole line
        blocks = []
        for block in text.strip("\n").split("\n\n"):
            lines = block.split("\n")
            if any(line[:1].isspace() for line in lines) or block.rstrip().endswith(":"):
                blocks.append("\n".join(indent + line for line in lines))
            else:
                prose = " ".join(line.strip() for line in lines)
                blocks.append(
                    textwrap.fill(
                        prose,
                        width,
                        initial_indent=indent,
                        subsequent_indent=indent,
                        break_long_words=False,
                        break_on_hyphens=False,
                    )
                )
        return "\n\n".join(blocks)


# (command, one-line help, module under simulator.cli). The help must be the one the
# module's add_parser registers (tests/cli checks it), so the listing in `pulsecheck
# --help` reads the same whether or not the module was loaded.
COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("validate", "Check scenario files (exit 0 if all are good, 2 otherwise).", "validate"),
    (
        "workforce",
        "Build the synthetic federal workforce (Parquet + manifest), or check calibration.",
        "workforce",
    ),
    (
        "schedule",
        "Turn a workforce and a scenario into the time-ordered events of a round.",
        "schedule",
    ),
    (
        "serve",
        "Run a reference collection system (HTTP API or SMTP mailbox) on loopback.",
        "serve",
    ),
    ("store", "Inspect a collection store (SQLite), read it as an agency, purge it.", "store"),
    (
        "mailstack",
        "Run a real mail stack (Postfix -> LMTP -> Dovecot Maildir, IMAP) on loopback.",
        "mailstack",
    ),
    ("replay", "Replay a schedule open-loop against a collection system.", "replay"),
    ("report", "Rebuild summary.json and report.html from a run directory.", "report"),
    ("cost", "Estimate the cost of a round and a year, with P10/P50/P90 ranges.", "cost"),
    ("run", "Run every stage end to end against a collection system.", "run"),
    (
        "compare",
        "Compare two run directories: throughput, latency, failures, lost and cost.",
        "compare",
    ),
    (
        "replyall",
        "Simulate a reply-all storm on an open distribution list and its defences.",
        "replyall",
    ),
)
STAGES = tuple(name for name, _, _ in COMMANDS)

EPILOG = """\
The stages form a pipeline; each writes a file the next one reads.
examples:
  pulsecheck workforce --scale 0.001 --seed 1 --out wf.parquet
  pulsecheck schedule scenarios/ci-smoke.toml --workforce wf.parquet \\
      --out s.parquet
  pulsecheck serve mailbox --store store.db --workforce wf.parquet \\
      --port 2525  # in a second terminal
  pulsecheck replay s.parquet --workforce wf.parquet \\
      --target smtp://127.0.0.1:2525 --speedup 20000 --out reports/run1
  pulsecheck report reports/run1
  pulsecheck run scenarios/ci-smoke.toml --out reports/ci-smoke
  pulsecheck compare reports/ci-smoke reports/run1

`pulsecheck run SCENARIO` chains them all. `pulsecheck COMMAND --help` shows each
command's flags and examples. Exit codes: 0 ok, 1 failed, 2 bad input, 3 stage not
built yet, 99 a threshold failed.
"""


def build_parser(commands: Iterable[str] | None = None) -> argparse.ArgumentParser:
    """The top-level parser with the real subparsers of `commands` (default: all of
    them); the other commands are placeholders that only list their one-line help."""
    loaded = set(STAGES if commands is None else commands)
    parser = argparse.ArgumentParser(
        prog="pulsecheck",
        description="Simulate mass-mail events and their reply storms, replay them against "
        "collection systems, and report throughput, latency, losses and cost.",
        epilog=EPILOG,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"pulsecheck {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_line, module in COMMANDS:
        if name in loaded:
            importlib.import_module(f"simulator.cli.{module}").add_parser(sub)
        else:
            sub.add_parser(name, help=help_line, add_help=False)
    return parser


def chosen_command(argv: Sequence[str]) -> str | None:
    """The subcommand named on the command line, if any: the first non-option argument."""
    for arg in argv:
        if arg == "--":
            return None
        if not arg.startswith("-"):
            return arg if arg in STAGES else None
    return None


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = chosen_command(argv)
    parser = build_parser(() if command is None else (command,))
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_BAD_INPUT
    from simulator.validation import InputError

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
