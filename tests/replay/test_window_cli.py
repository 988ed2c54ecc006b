"""`pulsecheck replay --window`: only the window's events go out, on a clock from its first."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest

from simulator.cli import main
from tests.replay.tables import schedule, workforce
from tests.replay.test_cli import smtp_server

__all__ = ["smtp_server"]  # the fixture, shared

MINUTE_US = 60_000_000
WINDOW = "2025-02-22T16:26/2025-02-22T16:31"  # UTC without --scenario: the last five


@pytest.fixture
def inputs(tmp_path: Path) -> tuple[Path, Path]:
    events = schedule(["broadcast"] + ["reply"] * 30, gap_us=MINUTE_US)  # 16:00 to 16:30 UTC
    pq.write_table(events, tmp_path / "s.parquet")
    pq.write_table(workforce(100), tmp_path / "w.parquet")
    return tmp_path / "s.parquet", tmp_path / "w.parquet"


def _args(inputs: tuple[Path, Path], target: str, out: Path, *extra: str) -> list[str]:
    s, w = inputs
    return ["replay", str(s), "--workforce", str(w), "--target", target, "--out", str(out),
            "--no-live", *extra]  # fmt: skip


@pytest.mark.integration
@pytest.mark.parametrize("workers", [1, 2])
def test_only_the_window_is_replayed_from_its_first_event(
    inputs: tuple[Path, Path],
    tmp_path: Path,
    smtp_server: Any,
    workers: int,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url, handler = smtp_server
    out = tmp_path / "run"
    extra = ("--window", WINDOW, "--speedup", "120", "--workers", str(workers))
    assert main(_args(inputs, url, out, *extra)) == 0
    results = pq.read_table(out / "results.parquet").sort_by("event_id")
    assert results.column("event_id").to_pylist() == [26, 27, 28, 29, 30]
    assert handler.count == 5
    # the clock starts at the window's first event, half a second apart at x120
    offsets = results.column("t_intended").to_numpy()
    assert offsets.tolist() == (np.arange(5) * MINUTE_US // 120).tolist()
    summary = json.loads((out / "replay.json").read_text())
    assert summary["acknowledged"] == 5 and summary["outcomes"]["dropped"] == 0
    window = summary["window"]
    assert window["spec"] == WINDOW
    assert (window["events"], window["round_events"]) == (5, 31)
    assert window["from"] == "2025-02-22T16:26:00+00:00"
    assert window["share"] == pytest.approx(5 / 31)
    assert "5 of the round's 31 events (16.1%)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("window", "says"),
    [
        ("2025-02-23T00:00/2025-02-23T01:00", "outside the round"),
        ("2025-02-22T16:10:30/2025-02-22T16:10:40", "holds no events"),
        ("busiest:10", "a duration like"),
        ("busiest:0s", "a duration > 0"),
    ],
)
def test_bad_window_exits_2_before_any_load(
    inputs: tuple[Path, Path],
    tmp_path: Path,
    smtp_server: Any,
    capsys: pytest.CaptureFixture[str],
    window: str,
    says: str,
) -> None:
    url, handler = smtp_server
    assert main(_args(inputs, url, tmp_path / "run", "--window", window)) == 2
    err = capsys.readouterr().err
    assert f"--window = '{window.removeprefix('busiest:')}'" in err or window in err
    assert says in err
    assert handler.count == 0
