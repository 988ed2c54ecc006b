"""The SMTP storm in one local Locust process against the reference mailbox on loopback."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from simulator.collect import running_mailbox
from tests.locust.helpers import RULES, directory_of, run_all, storm_args
from tests.locust.tables import write_tables

REPLIES, AUTO_REPLIES = 60, 10
EVENTS = 1 + REPLIES + AUTO_REPLIES  # the broadcast too: SMTP carries every kind


def store_counts(path: Path) -> tuple[int, int]:
    conn = sqlite3.connect(path)
    try:
        replies = conn.execute("SELECT count(*) FROM replies").fetchone()[0]
        deliveries = conn.execute("SELECT count(*) FROM deliveries").fetchone()[0]
        return int(replies), int(deliveries)
    finally:
        conn.close()


@pytest.mark.integration
async def test_local_smtp_storm_delivers_every_event(tmp_path: Path) -> None:
    files = write_tables(tmp_path, REPLIES, AUTO_REPLIES, 600.0)
    out = tmp_path / "run"
    store = tmp_path / "store.db"
    async with running_mailbox(store, directory_of(files[0]), RULES) as box:
        command = storm_args("smtp_storm.py", box.url, files, out, speedup=300.0)
        [(code, text)] = await run_all([command], tmp_path)
    assert code == 0, text[-3000:]
    results = pq.read_table(out / "results.parquet")
    assert sorted(results.column("event_id").to_pylist()) == sorted(
        pq.read_table(files[1]).column("event_id").to_pylist()
    )
    summary = json.loads((out / "replay.json").read_text())
    assert summary["acknowledged"] == EVENTS, summary["errors_by_reason"]
    assert summary["locust"]["requests"] == EVENTS  # every transaction in Locust's stats
    # replies and auto-replies reach a collection address; the broadcast is one delivery
    assert store_counts(store) == (REPLIES + AUTO_REPLIES, 1)


@pytest.mark.integration
async def test_a_host_off_loopback_is_refused_before_anything_is_sent(tmp_path: Path) -> None:
    files = write_tables(tmp_path, 10, 0, 60.0)
    command = storm_args("reply_storm.py", "http://192.0.2.1:80", files, tmp_path / "run", 60.0)
    [(code, text)] = await run_all([command], tmp_path)
    assert code == 2, text[-2000:]
    assert "must be a loopback address" in text
    assert not (tmp_path / "run").exists()
