"""The shipped event scenarios: Fork in the Road and round 1 with its extension."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from simulator.app.inputs import built_workforce
from simulator.scenario import load_scenario
from simulator.schedule.build import build_schedule, exclusion_reports
from simulator.schedule.summary import round_curves
from tests.conftest import SCENARIOS

ET = ZoneInfo("America/New_York")
SCALE = 0.02


def _run(name: str) -> tuple[object, pa.Table, pa.Table]:
    sc = load_scenario(SCENARIOS / name)
    wf = built_workforce(sc, SCALE)
    return sc, wf, build_schedule(sc, wf, sc.workforce.seed)


@pytest.fixture(scope="module")
def fork() -> tuple[object, pa.Table, pa.Table]:
    return _run("fork-in-the-road.toml")


def test_fork_total_is_about_75000_at_full_scale(fork: tuple) -> None:
    sc, wf, table = fork
    (curve,) = round_curves(table, sc)
    full = curve.replies / (wf.num_rows / 2_313_216)
    assert full == pytest.approx(75_000, rel=0.12)


def test_fork_acceptances_by_day_rise_and_stop_at_the_close(fork: tuple) -> None:
    sc, _, table = fork
    (curve,) = round_curves(table, sc)
    totals = [c for _, c in curve.by_day]
    assert curve.by_day[0][0] == dt.date(2025, 1, 28)
    assert totals == sorted(totals) and totals[-1] == curve.replies
    assert curve.by_day[-1][0] <= dt.date(2025, 2, 12)
    kind = pc.cast(table.column("kind"), pa.string())
    t = table.filter(pc.equal(kind, "reply")).column("t_intended").cast(pa.int64()).to_numpy()
    close = dt.datetime(2025, 2, 12, 19, 0, tzinfo=ET).timestamp() * 1e6
    assert t.max() <= close
    # the timing is the behaviour model's: most accept in the first working days
    assert totals[2] > 0.5 * totals[-1]


def test_fork_replies_are_one_fixed_text_to_hr_without_cc(fork: tuple) -> None:
    _, _, table = fork
    replies = table.filter(pc.equal(pc.cast(table.column("kind"), pa.string()), "reply"))
    content = set(pc.cast(replies.column("content"), pa.string()).to_pylist())
    assert content == {"form_letter"}
    assert np.all(replies.column("rcpt_count").to_numpy() == 1)


def test_round1_extension_adds_replies_after_the_deadline_and_keeps_the_total() -> None:
    sc, wf, table = _run("opm-round1.toml")
    (curve,) = round_curves(table, sc)
    scale = wf.num_rows / 2_313_216
    assert curve.after_deadline > 0
    assert curve.replies / scale == pytest.approx(1_043_491, rel=0.05)
    assert curve.by_day[-1][0] <= dt.date(2025, 2, 28)
    (report,) = exclusion_reports(sc, wf, sc.workforce.seed).values()
    agencies = {r.agency for r in report if r.category == "law_enforcement"}
    assert agencies == {"DOJ", "DHS"}
    assert sum(r.count for r in report) > 0.07 * wf.num_rows
