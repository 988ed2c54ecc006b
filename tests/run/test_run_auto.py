"""`--speedup auto` end to end: the CI smoke scenario against the embedded systems, and a
target that answers nothing."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from simulator.cli import main
from simulator.traffic.record import value_counts

ROOT = Path(__file__).resolve().parents[2]
SMOKE = ROOT / "scenarios" / "ci-smoke.toml"


@pytest.mark.integration
@pytest.mark.parametrize("protocol", ["smtp", "http"])
def test_auto_speedup_run_drops_and_loses_nothing(tmp_path: Path, protocol: str) -> None:
    out = tmp_path / protocol
    code = main(["run", str(SMOKE), "--out", str(out), "--protocol", protocol, "--speedup", "auto"])
    summary = json.loads((out / "summary.json").read_text())
    events = summary["events"]
    replay = json.loads((out / "replay.json").read_text())
    record = json.loads((out / "run.json").read_text())
    auto = record["speedup_auto"]
    assert auto == replay["speedup_auto"]
    assert [s["connections"] for s in auto["probe_steps"]] == [1, 4, 16, 64]
    assert all(s["acknowledged"] > 0 for s in auto["probe_steps"])
    assert auto["probe_s"] <= 15
    # the smoke round is smaller than a probe step: the probe sends all of it, in its mix
    schedule = pq.read_table(out / "schedule.parquet", columns=["kind"])
    assert (
        auto["probe_kinds"] == value_counts(schedule.column("kind"))
        and len(auto["probe_kinds"]) > 1
    )
    assert auto["capacity_per_s"] > 0 and auto["headroom"] == 0.7
    assert auto["peak_at_chosen_per_s"] <= 0.7 * auto["capacity_per_s"]
    assert record["run"]["speedup"] == replay["speedup"] == auto["chosen"]
    assert replay["outcomes"]["dropped"] == 0, replay["outcomes"]
    assert events["acknowledged"] > 0
    # the probe went to a store of its own: the run's store holds the run's messages only
    check = record["store_check"]
    assert events["lost"] == check["missing"] == 0, check
    assert check["duplicates"] == check["extra_rows"] == 0, check
    assert code in (0, 99)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.integration
def test_auto_against_a_target_that_answers_nothing_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "none"
    target = f"http://127.0.0.1:{_closed_port()}/replies"
    code = main(["run", str(SMOKE), "--out", str(out), "--target", target, "--speedup", "auto"])
    assert code == 2
    err = capsys.readouterr().err
    assert "--speedup" in err and "auto" in err and "acknowledged for none" in err
    assert not (out / "results.parquet").exists()


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["--speedup", "2", "--auto-headroom", "0.5"], "--auto-headroom"),
        (["--speedup", "auto", "--auto-headroom", "1.5"], "--auto-headroom"),
        (["--speedup", "auto", "--auto-headroom", "0"], "--auto-headroom"),
    ],
)
def test_headroom_needs_auto_and_a_share(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], flag: str
) -> None:
    code = main(["run", str(SMOKE), "--out", str(tmp_path / "x"), *args])
    assert code == 2
    assert flag in capsys.readouterr().err


def test_a_reply_all_storm_refuses_auto(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenario = ROOT / "scenarios" / "replyall-1m.toml"
    code = main(["run", str(scenario), "--out", str(tmp_path / "r"), "--speedup", "auto"])
    assert code == 2
    assert "--speedup" in capsys.readouterr().err
