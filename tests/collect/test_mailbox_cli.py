"""`pulsecheck serve mailbox` flags: the AUTH secret, time limits, caps and the buffer budget."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from simulator.cli import build_parser, serve
from simulator.tokens import load_or_create_secret
from simulator.validation import InputError


def args(tmp_path: Path, *extra: str) -> list[str]:
    wf = tmp_path / "wf.parquet"
    pq.write_table(pa.table({"email": ["a@dhs.example"], "department": ["DHS"]}), wf)
    return [
        "serve",
        "mailbox",
        "--store",
        str(tmp_path / "db"),
        "--workforce",
        str(wf),
        "--secret-file",
        str(tmp_path / "secret"),
        *extra,
    ]


def build(tmp_path: Path, *extra: str) -> serve.ServerSpec:
    return serve.build_spec(build_parser().parse_args(args(tmp_path, *extra)))


def test_mailbox_gets_the_secret_and_the_limits(tmp_path: Path) -> None:
    spec = build(
        tmp_path,
        "--command-timeout",
        "30",
        "--data-timeout",
        "120",
        "--max-sessions-per-client",
        "50",
        "--max-buffer-mb",
        "8",
    )
    assert spec.secret == load_or_create_secret(tmp_path / "secret")  # AUTH passwords
    assert (spec.command_timeout, spec.data_timeout) == (30.0, 120.0)
    assert spec.max_sessions_per_client == 50 and spec.max_buffered_bytes == 8 * 2**20
    defaults = build(tmp_path)
    assert (defaults.command_timeout, defaults.data_timeout) == (300.0, 600.0)
    assert defaults.max_sessions_per_client == 500 and defaults.max_buffered_bytes == 64 * 2**20


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        ("--command-timeout", "0"),
        ("--data-timeout", "-1"),
        ("--max-sessions-per-client", "0"),
        ("--max-buffer-mb", "0"),
    ],
)
def test_bad_limits_are_named(tmp_path: Path, flag: str, value: str) -> None:
    with pytest.raises(InputError, match=re.escape(flag)):
        build(tmp_path, flag, value)


@pytest.mark.parametrize(("flag", "value"), [("--data-timeout", "nan"), ("--max-buffer-mb", "inf")])
def test_non_finite_limits_are_refused_while_parsing(tmp_path: Path, flag: str, value: str) -> None:
    with pytest.raises(SystemExit) as stop:  # argparse: finite_float refuses nan and inf
        build(tmp_path, flag, value)
    assert stop.value.code == 2


def test_cli_exits_2_naming_the_flag(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "simulator", *args(tmp_path, "--max-buffer-mb", "-5")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "--max-buffer-mb" in proc.stderr and "-5" in proc.stderr
