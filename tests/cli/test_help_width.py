"""Every `--help` fits 80 columns, prose re-filled and examples written to fit."""

from __future__ import annotations

import contextlib
import io

import pytest

from simulator.cli import HELP_WIDTH, STAGES, build_parser
from tests.cli.test_examples import walk


def _helps() -> list[tuple[str, str]]:
    out = []
    for path, parser in walk("pulsecheck", build_parser()):
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            parser.print_help()
        out.append((path, buffer.getvalue()))
    return out


@pytest.mark.parametrize("columns", ["80", "200", "60"])
def test_every_help_fits_80_columns(monkeypatch: pytest.MonkeyPatch, columns: str) -> None:
    monkeypatch.setenv("COLUMNS", columns)
    helps = _helps()
    assert {path.split()[1] for path, _ in helps if " " in path} == set(STAGES)
    wide = [
        f"{path}: {len(line)}: {line}"
        for path, text in helps
        for line in text.splitlines()
        if len(line) > HELP_WIDTH
    ]
    assert not wide, "\n".join(wide)


def test_prose_is_refilled_and_examples_kept() -> None:
    shown = dict(_helps())["pulsecheck replay"]
    assert "scenarios/opm-weekly.toml" in shown  # not broken at its hyphen
    assert "  pulsecheck replay s.parquet --workforce wf.parquet \\\n" in shown
