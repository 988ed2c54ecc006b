"""Every example command line the user is shown parses with the real, complete parser.

Examples come from every `--help` text (the top level and each nested subparser, such as
`store stats` and `workforce calibrate`) and from README.md: each line of a fenced code
block that starts with `pulsecheck ` (or a `... && pulsecheck ...` segment), joined across
`\\` continuations, and each inline `pulsecheck ...` span that is more than a command's
name. Each is split as a shell would (`#` starts a comment) and parsed by
`build_parser()`; a failure names the line and argparse's message.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import io
import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest

from simulator.cli import STAGES, build_parser

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = re.compile(r"^examples( \(.*\))?:$", re.M)  # the heading, with an optional note
README = ROOT / "README.md"


def walk(
    path: str, parser: argparse.ArgumentParser
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """(command path, parser) for a parser and every subparser below it."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from walk(f"{path} {name}", sub)


def help_texts() -> dict[str, str]:
    return {path: p.format_help() for path, p in walk("pulsecheck", build_parser())}


def command_lines(text: str) -> list[str]:
    """Lines starting with `pulsecheck ` (after indentation), joined across `\\`, and
    `$(pulsecheck ...)` substitutions."""
    found: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        while line.endswith("\\") and i + 1 < len(lines):
            i += 1
            line = line[:-1].rstrip() + " " + lines[i].strip()
        if line.startswith("pulsecheck "):
            found.append(line)
        found += re.findall(r"\$\((pulsecheck [^)]*)\)", line)  # VAR=$(pulsecheck ...)
        i += 1
    return found


def readme_lines(text: str) -> list[str]:
    """Command lines of README.md: in fenced blocks, and inline spans beyond a name."""
    fenced: list[str] = []
    for block in re.findall(r"^```[^\n]*\n(.*?)^```", text, flags=re.M | re.S):
        joined = block.replace("\\\n", " ")
        for line in joined.splitlines():
            for part in line.split("&&"):
                if part.strip().startswith("pulsecheck "):
                    fenced.append(part.strip())
    names = {path for path, _ in walk("pulsecheck", build_parser())}
    spans = [re.sub(r"\s+", " ", s).strip() for s in re.findall(r"`(pulsecheck [^`]+)`", text)]
    return fenced + [s for s in spans if s not in names]


def parse_error(line: str) -> str | None:
    """argparse's complaint about `line`, or None when it parses to a runnable command.
    A trailing `&` (run in the background) is the shell's, not the command's."""
    words = shlex.split(line, comments=True)
    if words[-1] == "&":
        words.pop()
    assert words[0] == "pulsecheck", line
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            args = build_parser().parse_args(words[1:])
    except SystemExit as stop:
        if stop.code == 0:  # --help or --version: printed, nothing to run
            return None
        return f"exit {stop.code}: {err.getvalue().strip()[-300:]}"
    if getattr(args, "func", None) is None:
        return "names no command to run"
    missing = [w for w in words if w.startswith("scenarios/") and not glob.glob(str(ROOT / w))]
    if missing:
        return f"no such scenario file: {', '.join(missing)}"
    return None


HELP = help_texts()
HELP_EXAMPLES = [(path, line) for path, text in HELP.items() for line in command_lines(text)]
README_EXAMPLES = readme_lines(README.read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", sorted(HELP))
def test_every_help_ends_with_examples_of_its_own_command(path: str) -> None:
    heading = EXAMPLES.search(HELP[path])
    assert heading, f"`{path} --help` has no examples: section"
    own = [line for line in command_lines(HELP[path][heading.end() :]) if line.startswith(path)]
    assert own, f"`{path} --help` shows no example of `{path}`"


@pytest.mark.parametrize(("path", "line"), HELP_EXAMPLES)
def test_help_example_parses(path: str, line: str) -> None:
    assert parse_error(line) is None, f"`{path} --help` example: {line}\n{parse_error(line)}"


@pytest.mark.parametrize("line", README_EXAMPLES)
def test_readme_command_line_parses(line: str) -> None:
    assert parse_error(line) is None, f"README.md: {line}\n{parse_error(line)}"


def test_readme_quickstart_is_two_commands() -> None:
    text = README.read_text(encoding="utf-8")
    block = re.search(r"## Quickstart.*?```bash\n(.*?)```", text, flags=re.S)
    assert block is not None
    assert len(block.group(1).strip().splitlines()) == 2


def test_the_checks_find_what_they_check() -> None:
    """The extraction sees the examples: a bad line is reported, and so is a name."""
    assert len(HELP) > len(STAGES) and len(README_EXAMPLES) > 10
    assert command_lines("x\n  pulsecheck report \\\n      RUN  # note\n") == [
        "pulsecheck report RUN  # note"
    ]
    assert parse_error("pulsecheck serve web") is not None
    assert command_lines("  T=$(pulsecheck serve token --agency DHS)\n") == [
        "pulsecheck serve token --agency DHS"
    ]
    assert parse_error("pulsecheck serve api --store s.db &") is None
    assert parse_error("pulsecheck workforce calibrate wf.parquet [--json]") is not None
    assert parse_error("pulsecheck validate scenarios/no-such.toml") is not None
    assert parse_error("pulsecheck store") is not None
    assert parse_error("pulsecheck cost --help") is None


def test_top_level_listing_matches_each_modules_help() -> None:
    """The one-line help in the table is what each module registers, so `--help` reads
    the same whether the module is loaded or not."""
    from simulator.cli import COMMANDS

    full = build_parser()
    sub = next(a for a in full._actions if isinstance(a, argparse._SubParsersAction))
    registered = {a.dest: a.help for a in sub._choices_actions}
    assert registered == {name: help_line for name, help_line, _ in COMMANDS}


@pytest.mark.parametrize("command", STAGES)
def test_command_help_is_the_full_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    from simulator.cli import main

    with pytest.raises(SystemExit) as stop:
        main([command, "--help"])
    assert stop.value.code == 0
    full = build_parser()
    sub = next(a for a in full._actions if isinstance(a, argparse._SubParsersAction))
    assert capsys.readouterr().out == sub.choices[command].format_help()
