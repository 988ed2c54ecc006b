import numpy as np

from simulator.replay.live import render, snapshot
from simulator.replay.record import Recorder
from simulator.replay.targets import ERROR, OK, Outcome


def test_snapshot_reads_rate_p99_errors_and_lag() -> None:
    rec = Recorder(np.arange(3, dtype=np.int64), np.array([0, 1000, 2000], dtype=np.int64))
    rec.mark_sent(0, 0)
    rec.finish(0, 4000, Outcome(201, OK, 1), 0)
    rec.mark_sent(1, 6000)  # 5 ms behind schedule
    rec.finish(1, 8000, Outcome(500, ERROR, 1, "http 500"), 0)
    figures = snapshot(rec, elapsed_us=10_000, window_us=1_000_000)
    assert figures["rate"] == 2.0  # two answers in the last second
    assert figures["errors"] == 1 and figures["done"] == 2 and figures["total"] == 3
    assert figures["lag_ms"] == 5.0
    assert 4.0 <= figures["p99_ms"] <= 7.0
    assert render(figures).row_count == 1
