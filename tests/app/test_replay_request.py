"""`pulsecheck replay` takes its routing from the scenario, and only the right workforce."""

from __future__ import annotations

import argparse
from pathlib import Path

import pyarrow.compute as pc
import pytest

from simulator.app.inputs import write_inputs
from simulator.app.replaying import ReplayRequest, replay_schedule
from simulator.cli import replay as replay_cli
from simulator.scenario import load_scenario
from simulator.tables import read_stage
from simulator.validation import InputError
from simulator.workforce import build_workforce, load_tables, write_workforce

ROOT = Path(__file__).resolve().parents[2]
WEEKLY = ROOT / "scenarios" / "opm-weekly.toml"


@pytest.fixture(scope="module")
def weekly_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("weekly")
    write_inputs(load_scenario(WEEKLY), 0.001, out, lambda _: None)
    return out


def _args(out: Path, *extra: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    replay_cli.add_parser(parser.add_subparsers())
    argv = ["replay", str(out / "schedule.parquet"), "--workforce", str(out / "workforce.parquet")]
    argv += ["--target", "smtp://127.0.0.1:2525", "--out", str(out / "run"), *extra]
    return parser.parse_args(argv)


def test_scenario_routes_every_collection_to_its_address(weekly_run: Path) -> None:
    scenario = load_scenario(WEEKLY)
    schedule = read_stage(weekly_run / "schedule.parquet", "schedule")
    used = set(pc.unique(schedule.column("collection").cast("string")).to_pylist()) - {""}
    addresses = {c.id: c.address for c in scenario.collections}
    routed = replay_cli.options_from(_args(weekly_run, "--scenario", str(WEEKLY)), scenario)
    assert {cid: routed.collections[cid] for cid in used} == {cid: addresses[cid] for cid in used}
    # without the scenario, some of its collections have no address of their own
    default = replay_cli.options_from(_args(weekly_run), None)
    assert any(cid not in default.collections for cid in used)


def test_a_workforce_the_schedule_was_not_built_from_is_refused(
    weekly_run: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other.parquet"
    write_workforce(build_workforce(0.001, 99, load_tables(None)), other)  # another seed
    request = ReplayRequest(
        weekly_run / "schedule.parquet", other, "smtp://127.0.0.1:9", tmp_path / "run"
    )
    with pytest.raises(InputError) as err:
        replay_schedule(request)
    assert err.value.field == "--workforce" and "not the workforce" in str(err.value)
    assert not (tmp_path / "run").exists()  # refused before anything was sent or written


def test_the_runs_secret_file_mints_tokens_its_server_accepts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Random bytes may begin or end with white space, which reading a secret file strips.
    from simulator.app import mass_reply
    from simulator.replay.targets import secret_tokens
    from simulator.tokens import agency_of

    monkeypatch.setattr(mass_reply, "new_secret", lambda: b"\n" + bytes(range(1, 31)) + b" ")
    secret, path = mass_reply.run_secret(tmp_path)
    token = secret_tokens(path)("DHS")
    assert agency_of(secret, f"Bearer {token}") == "DHS"
    assert path.stat().st_mode & 0o077 == 0  # private to its owner
