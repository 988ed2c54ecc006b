from pathlib import Path

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from simulator.traffic.outcomes import OK, REJECTED, Outcome
from simulator.traffic.record import (
    CORRECTED_FILE,
    Recorder,
    build_histograms,
    merge_histograms,
    merge_results,
    new_histogram,
    quantise,
    read_histogram,
    read_results,
    record_values,
    write_run,
)


@given(st.lists(st.integers(min_value=1, max_value=3_600_000_000), min_size=1, max_size=200))
def test_bulk_recording_equals_one_by_one(values: list[int]) -> None:
    bulk, single = new_histogram(), new_histogram()
    record_values(bulk, np.array(values, dtype=np.int64))
    for v in values:
        single.record_value(v)
    assert bulk.get_total_count() == single.get_total_count()
    for p in (0, 50, 90, 99, 100):
        assert bulk.get_value_at_percentile(p) == single.get_value_at_percentile(p)


@given(st.integers(min_value=1, max_value=2**40))
def test_quantise_matches_hdrh(value: int) -> None:
    hist = new_histogram()
    assert int(quantise(np.array([value]))[0]) == hist.get_lowest_equivalent_value(value)


def _recorded() -> Recorder:
    rec = Recorder(np.arange(4, dtype=np.int64), np.array([0, 100, 200, 300], dtype=np.int64))
    rec.mark_sent(0, 0)
    rec.finish(0, 500, Outcome(250, OK, 10), 0)  # on time
    rec.mark_sent(1, 50_100)
    rec.finish(1, 50_600, Outcome(250, OK, 10), 1)  # sent 50 ms late
    rec.mark_sent(2, 200)
    rec.finish(2, 900, Outcome(550, REJECTED, 10, "smtp 550 at RCPT"), 0)
    return rec  # event 3 never went out


def test_table_marks_late_and_dropped() -> None:
    rec = _recorded()
    assert rec.drop_pending("stopped") == 1
    table = rec.table(late_after_us=10_000)
    assert table.column("outcome").to_pylist() == ["ok", "late", "rejected", "dropped"]
    assert table.column("latency_corrected_us").to_pylist() == [500, 50_500, 700, -1]
    assert table.column("latency_uncorrected_us").to_pylist() == [500, 500, 700, -1]
    assert table.column("error").to_pylist() == ["", "", "smtp 550 at RCPT", "stopped"]


def test_run_files_round_trip_and_merge(tmp_path: Path) -> None:
    rec = _recorded()
    rec.drop_pending("stopped")
    table = rec.table(10_000)
    corrected, _ = build_histograms(table)
    summary = write_run(tmp_path / "a", table, {"target": "x", "duration_s": 1.0})
    write_run(tmp_path / "b", table, {"target": "x", "duration_s": 1.0})
    assert summary["outcomes"]["late"] == 1 and summary["acknowledged"] == 2
    assert summary["outcomes"]["dropped"] == 1
    assert read_results(tmp_path / "a").equals(table)
    back = read_histogram(tmp_path / "a" / CORRECTED_FILE)
    assert back.get_total_count() == corrected.get_total_count() == 3
    merged = merge_histograms([tmp_path / "a" / CORRECTED_FILE, tmp_path / "b" / CORRECTED_FILE])
    assert merged.get_total_count() == 6
    both = merge_results([read_results(tmp_path / "a"), read_results(tmp_path / "b")])
    assert both.num_rows == 8
