"""`pulsecheck cost` end to end on the tiny tables, and the replay-run reader."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from simulator.cli import cost as cost_cli
from simulator.cost.runfile import read_run
from simulator.validation import InputError
from simulator.workforce.io import stamp
from tests.cost import tables


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cost_cli.add_parser(parser.add_subparsers())
    return parser.parse_args(["cost", *argv])


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    wf, sched = tmp_path / "wf.parquet", tmp_path / "s.parquet"
    pq.write_table(tables.workforce(), wf)
    schedule = tables.schedule()
    pq.write_table(schedule.set_column(2, "round", schedule.column("round").cast("string")), sched)
    return wf, sched


def test_json_output_has_rounds_year_tornado_and_capacity(
    files: tuple[Path, Path],
    scenarios_dir: Path,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    wf, sched = files
    scenario = str(scenarios_dir / "opm-round1.toml")
    args = _parse(
        scenario,
        "--workforce",
        str(wf),
        "--schedule",
        str(sched),
        "--json",
        "--draws",
        "2000",
        "--plots",
        str(tmp_path / "plots"),
        "--scale-up",
        "1",
    )
    assert args.func(args) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["inputs"]["scale_up"] == 1.0
    r1 = doc["estimate"]["rounds"]["r1"]["total"]
    assert r1["p10"] <= r1["p50"] <= r1["p90"]
    assert doc["counts"]["r1"]["replies"] == 3
    assert doc["tornado"]["year"][0]["swing"] >= doc["tornado"]["year"][-1]["swing"]
    assert doc["capacity"]["mailbox"]["rounds"]["r1"]["50GB"]["one_round"]["arrivals"] == 5
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == [
        "cost_round_r1.png",
        "cost_year.png",
        "tornado_round_r1.png",
        "tornado_year.png",
    ]


def test_terminal_table(
    files: tuple[Path, Path], scenarios_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wf, sched = files
    args = _parse(
        str(scenarios_dir / "opm-round1.toml"),
        "--workforce",
        str(wf),
        "--schedule",
        str(sched),
        "--draws",
        "500",
    )
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "Round r1" in out and "What moves the yearly total" in out


def test_bad_flags_and_files_name_the_problem(
    files: tuple[Path, Path], scenarios_dir: Path, tmp_path: Path
) -> None:
    wf, sched = files
    scenario = str(scenarios_dir / "opm-round1.toml")
    with pytest.raises(InputError, match="--draws"):
        cost_cli.run(
            _parse(scenario, "--workforce", str(wf), "--schedule", str(sched), "--draws", "0")
        )
    with pytest.raises(InputError, match="no such file"):
        cost_cli.run(
            _parse(
                scenario, "--workforce", str(tmp_path / "nope.parquet"), "--schedule", str(sched)
            )
        )
    with pytest.raises(InputError, match="needs"):  # a schedule given as the workforce
        cost_cli.run(_parse(scenario, "--workforce", str(sched), "--schedule", str(sched)))


def _write_run(folder: Path, p99: float, acked: int = 90, events: int = 100) -> Path:
    folder.mkdir()
    summary = {
        "events": events,
        "acknowledged": acked,
        "throughput_per_s": 450.0,
        "latency_corrected_ms": {"p99": p99},
        "target": "smtp://127.0.0.1:2525",
    }
    (folder / "replay.json").write_text(json.dumps(summary))
    return folder


def test_run_reader_counts_unacknowledged_events_as_lost(tmp_path: Path) -> None:
    m = read_run(_write_run(tmp_path / "run", p99=120.0), cores=2)
    assert (m.acks_per_s, m.cores, m.p99_ms, m.lost) == (450.0, 2, 120.0, 10)


def test_run_reader_uses_the_store_check_of_run_json(tmp_path: Path) -> None:
    folder = _write_run(tmp_path / "run", p99=120.0, acked=100)
    (folder / "run.json").write_text(json.dumps({"store_check": {"stored": 90, "missing": 10}}))
    m = read_run(folder, cores=1)
    assert m.acks_per_s == pytest.approx(450.0 * 0.9)  # only durable acks count
    assert m.lost == 10


def test_measured_run_within_slo_replaces_the_assumed_capacity(
    files: tuple[Path, Path],
    scenarios_dir: Path,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    wf, sched = files
    run_dir = _write_run(tmp_path / "run", p99=120.0, acked=100, events=100)
    args = _parse(
        str(scenarios_dir / "opm-round1.toml"),
        "--workforce",
        str(wf),
        "--schedule",
        str(sched),
        "--json",
        "--draws",
        "500",
        "--run",
        str(run_dir),
        "--run-cores",
        "1",
    )
    assert args.func(args) == 0
    capacity = json.loads(capsys.readouterr().out)["capacity"]
    assert capacity["measured"]["slo_met"] is True
    assert capacity["plans"]["likely"]["per_core_per_s"] == 450.0


def test_measured_run_over_slo_keeps_the_assumption(
    files: tuple[Path, Path],
    scenarios_dir: Path,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    wf, sched = files
    run_dir = _write_run(tmp_path / "run", p99=5000.0, acked=100, events=100)
    args = _parse(
        str(scenarios_dir / "opm-round1.toml"),
        "--workforce",
        str(wf),
        "--schedule",
        str(sched),
        "--json",
        "--draws",
        "500",
        "--run",
        str(run_dir),
    )
    assert args.func(args) == 0
    capacity = json.loads(capsys.readouterr().out)["capacity"]
    assert capacity["measured"]["slo_met"] is False
    assert capacity["capacity_source"].startswith("assumed")


def test_rejections_are_answers_not_losses(tmp_path: Path) -> None:
    folder = _write_run(tmp_path / "run", p99=120.0, acked=90, events=100)
    summary = json.loads((folder / "replay.json").read_text())
    summary["outcomes"] = {"ok": 90, "rejected": 8, "error": 1, "timeout": 1, "dropped": 0}
    (folder / "replay.json").write_text(json.dumps(summary))
    assert read_run(folder, cores=1).lost == 2


def _json_doc(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    args = _parse(*argv, "--json", "--draws", "500")
    assert args.func(args) == 0
    doc: dict[str, Any] = json.loads(capsys.readouterr().out)
    return doc


def test_costs_are_for_the_full_workforce_by_default(
    tmp_path: Path, scenarios_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A workforce stamped as a 1% sample is priced x100, and the document says so.
    wf, sched = tmp_path / "wf.parquet", tmp_path / "s.parquet"
    pq.write_table(stamp(tables.workforce(), {"scale": 0.01}), wf)
    schedule = tables.schedule()
    pq.write_table(schedule.set_column(2, "round", schedule.column("round").cast("string")), sched)
    scenario = str(scenarios_dir / "opm-round1.toml")
    doc = _json_doc(capsys, scenario, "--workforce", str(wf), "--schedule", str(sched))
    assert doc["inputs"]["scale_up"] == pytest.approx(100.0)
    assert doc["inputs"]["priced_scale"] == pytest.approx(1.0)
    assert doc["counts"]["r1"]["replies"] == 300
    as_is = _json_doc(
        capsys, scenario, "--workforce", str(wf), "--schedule", str(sched), "--scale-up", "1"
    )
    assert as_is["counts"]["r1"]["replies"] == 3
    assert as_is["inputs"]["priced_scale"] == pytest.approx(0.01)


def test_weeks_sets_how_often_the_rounds_repeat_in_the_year(
    files: tuple[Path, Path], scenarios_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wf, sched = files
    scenario = str(scenarios_dir / "opm-round1.toml")
    base = ("--workforce", str(wf), "--schedule", str(sched), "--scale-up", "1")
    once = _json_doc(capsys, scenario, *base)
    weekly = _json_doc(capsys, scenario, *base, "--weeks", "52")
    round_total = once["estimate"]["rounds"]["r1"]["total"]["p50"]
    assert once["estimate"]["year"]["total"]["p50"] == pytest.approx(round_total)
    assert weekly["estimate"]["rounds_per_year"] == {"r1": 52}
    assert weekly["estimate"]["year"]["total"]["p50"] == pytest.approx(52 * round_total, rel=0.05)


def test_cost_builds_the_tables_from_the_scenario_alone(
    scenarios_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # `pulsecheck cost SCENARIO`, as the README shows it: no files, full-scale prices.
    doc = _json_doc(capsys, str(scenarios_dir / "ci-smoke.toml"))
    assert doc["inputs"]["workforce"] == "built from the scenario"
    assert doc["inputs"]["priced_scale"] == pytest.approx(1.0)
    assert doc["counts"]
