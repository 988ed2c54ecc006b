"""A scaled-down storm replayed against the real reference mailbox, and its report."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from simulator.app.progress import Steps
from simulator.app.reply_all import replay_storm
from simulator.app.serving import stored_fanout
from simulator.columns import RESULTS
from simulator.replyall.observed import delivery_curves
from simulator.replyall.params import StormReplay, load_replyall
from simulator.traffic.record import read_results
from tests import browser
from tests.report.rebuild import assert_report_rebuilds_the_same_page

ROOT = Path(__file__).resolve().parents[2]
CISCO = ROOT / "scenarios" / "replyall-cisco2013.toml"


def _results(intended_s: list[float], done_s: list[float]) -> pa.Table:
    n = len(intended_s)
    us = lambda xs: np.round(np.array(xs) * 1e6).astype(np.int64)  # noqa: E731
    cols = {
        "event_id": np.arange(n),
        "t_intended": us(intended_s),
        "t_sent": us(intended_s),
        "t_done": us(done_s),
        "latency_corrected_us": us(done_s) - us(intended_s),
        "latency_uncorrected_us": us(done_s) - us(intended_s),
        "status": np.full(n, 250, np.int16),
        "outcome": ["ok"] * n,
        "retries": np.zeros(n, np.int8),
        "bytes": np.zeros(n, np.int32),
        "error": [""] * n,
    }
    return pa.table(cols).cast(RESULTS)


def test_backlog_is_offered_minus_answered_deliveries() -> None:
    events = pa.table({"rcpt_count": pa.array([100, 100, 1], pa.int32())})
    # two list posts due at 0 and 0.01 s answered at 0.5 s; one single answered at once
    results = _results([0.0, 0.01, 0.6], [0.5, 0.5, 0.61])
    c = delivery_curves(results, events)
    assert c.peak_backlog == 200
    assert c.offered_per_s.sum() * (c.t_s[1] - c.t_s[0]) == pytest.approx(201)
    assert c.answered_per_s.sum() * (c.t_s[1] - c.t_s[0]) == pytest.approx(201)
    assert c.backlog[-1] == 0
    # the backlog holds from the first offer until the answer at 0.5 s
    assert c.drain_s() == pytest.approx(0.5, abs=0.03)


def test_unanswered_deliveries_stay_in_the_backlog() -> None:
    events = pa.table({"rcpt_count": pa.array([10, 10], pa.int32())})
    c = delivery_curves(_results([0.0, 0.1], [0.2, -1e-6]), events)
    assert c.backlog[-1] == 10


def test_storm_replay_stores_every_acknowledged_message_with_its_fanout(
    tmp_path: Path,
) -> None:
    sc = load_replyall(CISCO)
    sc = replace(sc, replay=StormReplay(list_size=40, speedup=2000, max_duration_s=60))
    storm = replay_storm(sc, tmp_path, seed=3, steps=Steps(lambda _: None, []))
    events = storm.events
    assert storm.check.acknowledged == events.num_rows  # every message was answered 250
    assert storm.check.missing == 0 and storm.check.extra_rows == 0
    # one delivery row per message; the original and each reply-all reach all 40 members
    fan = np.sort(stored_fanout(tmp_path / "store.db"))
    expected = np.sort(events.column("rcpt_count").to_numpy())
    assert fan.tolist() == expected.tolist()
    posts = pc.sum(pc.equal(events.column("content"), "reply_all")).as_py()
    assert posts > 0 and int((fan == 40).sum()) == posts + 1
    # the replay's own record matches what the mailbox counted
    results = read_results(tmp_path)
    assert set(results.column("outcome").to_pylist()) <= {"ok", "late"}
    assert set(results.column("status").to_pylist()) == {250}


def test_mailbox_receiving_limit_is_enforced_by_the_real_mailbox(tmp_path: Path) -> None:
    sc = load_replyall(CISCO)
    limit = replace(sc.defences.mailbox_receiving_limit, enabled=True, per_hour=1)
    # at speedup 200 an hour of the mailbox's clock is 18 real seconds: longer than the
    # replay's retries of a 452 take, so a refused transaction stays refused
    sc = replace(
        sc,
        defences=replace(sc.defences, mailbox_receiving_limit=limit),
        replay=StormReplay(list_size=40, speedup=200, max_duration_s=60),
    )
    storm = replay_storm(sc, tmp_path, seed=3, steps=Steps(lambda _: None, []))
    results = read_results(tmp_path).sort_by("event_id")
    statuses = results.column("status").to_pylist()
    errors = results.column("error").to_pylist()
    # the original uses each member's one message an hour; a later post to the list is
    # refused at RCPT for every member (452, receiving limit), so its transaction fails
    assert statuses[0] == 250
    assert 452 in statuses[1:], (statuses, errors)
    assert all(e == "smtp 452 at RCPT" for s, e in zip(statuses, errors, strict=True) if s == 452)
    assert storm.check.missing == 0


def test_run_on_a_replyall_scenario_writes_one_report(tmp_path: Path) -> None:
    scenario = tmp_path / "storm.toml"
    scenario.write_text(CISCO.read_text() + "\n[replyall.replay]\nlist_size = 30\nspeedup = 2000\n")
    out = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-m", "simulator", "run", str(scenario), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    assert "0 lost" in done.stderr
    page = (out / "report.html").read_text()
    for heading in (
        "Reply-all storm on the full list (23,565 members)",
        "Reply-all storm replayed against the reference mailbox",
        "Defences side by side",
    ):
        assert heading in page
    for name in ("replyall-storm", "replyall-backlog", "replyall-defences", "replyall-replay"):
        assert (out / "figures" / f"{name}.png").stat().st_size > 0
    meta = json.loads((out / "run.json").read_text())
    assert meta["store_check"]["missing"] == 0 and meta["replyall"]["model"]["band"]["runs"] == 100
    rows = sqlite3.connect(out / "store.db").execute("SELECT count(*) FROM deliveries")
    assert rows.fetchone()[0] == meta["store_check"]["acknowledged"]
    # the page loads in a real browser with every figure decoded
    figures = len(list((out / "figures").glob("*.png")))
    dom, log = browser.load(out / "report.html")
    assert f'data-figures-loaded="{figures}/{figures}"' in dom, log[-2000:]
    record = assert_report_rebuilds_the_same_page(out)
    assert "Reply-all storm replayed against the reference mailbox" in record["sections"]
    assert "replyall-defences" in record["figures"]


def test_run_refuses_scale_for_a_replyall_scenario() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "simulator", "run", str(CISCO), "--scale", "0.1"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert done.returncode == 2
    assert "--scale" in done.stderr and "list_size" in done.stderr
