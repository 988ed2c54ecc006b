import numpy as np

from simulator.replay.live import LiveFigures, render, snapshot
from simulator.traffic.outcomes import ERROR, OK, Outcome
from simulator.traffic.record import Recorder


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


def test_figures_read_only_what_finished_since_the_last_refresh() -> None:
    rec = Recorder(np.arange(4, dtype=np.int64), np.array([0, 0, 2_000_000, 2_000_000]))
    figures = LiveFigures(rec, window_us=1_000_000)
    for i, (sent, done) in enumerate([(0, 50_000), (10_000, 30_000)]):
        rec.mark_sent(i, sent)
        rec.finish(i, done, Outcome(201, OK, 1), 0)
    first = figures.update(elapsed_us=100_000)
    assert first["rate"] == 2.0 and first["lag_ms"] == 10.0 and figures.seen == 2
    rec.mark_sent(2, 2_000_000)
    rec.finish(2, 2_004_000, Outcome(201, OK, 1), 0)
    rec.drop(3, "behind schedule")  # finished, but never answered
    later = figures.update(elapsed_us=2_100_000)
    assert figures.seen == 4
    assert later["rate"] == 1.0  # the first two answers are out of the window now
    assert later["lag_ms"] == 0.0 and 3.9 <= later["p99_ms"] <= 4.0
    assert later["done"] == 4 and later["errors"] == 1
