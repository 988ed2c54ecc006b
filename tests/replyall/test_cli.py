"""`pulsecheck replyall`: runs a scenario, writes JSON and figures, rejects bad flags."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from simulator.cli import replyall
from simulator.validation import InputError

ROOT = Path(__file__).resolve().parents[2] / "scenarios"


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    replyall.add_parser(parser.add_subparsers())
    return parser.parse_args(["replyall", *argv])


def test_scenario_run_writes_json_and_figures(tmp_path: Path) -> None:
    sc = ROOT / "replyall-cisco2013.toml"
    args = _args(str(sc), "--runs", "3", "--defence", "admin_disable", "--out", str(tmp_path))
    assert args.func(args) == 0
    report = json.loads((tmp_path / "replyall.json").read_text())
    assert report["band"]["runs"] == 3
    assert [r["case"] for r in report["compare"]] == ["none", "admin_disable"]
    assert (tmp_path / "replyall-storm.png").stat().st_size > 0


@pytest.mark.parametrize(
    ("argv", "field"),
    [
        (["x.toml", "--runs", "0"], "--runs"),  # no runs
        ([str(ROOT / "replyall-1m.toml"), "--defence", "moat"], "--defence"),  # unknown
        (["/nonexistent.toml"], "(file)"),  # missing file
    ],
)
def test_bad_flags_name_the_flag(argv: list[str], field: str) -> None:
    args = _args(*argv)
    with pytest.raises(InputError) as err:
        args.func(args)
    assert err.value.field == field
