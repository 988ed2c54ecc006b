import numpy as np
import pytest

from simulator.traffic.pacer import (
    beyond_deadline,
    intended_offsets_us,
    rate_per_s,
    run_window,
    split_for_workers,
    wait_us,
)


@pytest.mark.parametrize(
    ("times", "speedup", "expected"),
    [
        ([10, 20, 40], 1.0, [0, 10, 30]),  # offsets from the first event
        ([10, 20, 40], 10.0, [0, 1, 3]),  # compressed by the speedup
        ([5, 5, 5], 2.0, [0, 0, 0]),  # simultaneous events stay simultaneous
        ([], 3.0, []),  # an empty schedule has no offsets
    ],
)
def test_intended_offsets(times: list[int], speedup: float, expected: list[int]) -> None:
    got = intended_offsets_us(np.array(times, dtype=np.int64), speedup)
    assert got.tolist() == expected


def test_speedup_must_be_positive() -> None:
    with pytest.raises(ValueError, match="speedup"):
        intended_offsets_us(np.array([1], dtype=np.int64), 0)


@pytest.mark.parametrize(
    ("offset", "elapsed", "expected"),
    [(100, 40, 60), (100, 100, 0), (100, 250, 0)],  # future, due, overdue
)
def test_wait(offset: int, elapsed: int, expected: int) -> None:
    assert wait_us(offset, elapsed) == expected


def test_window_and_deadline() -> None:
    assert run_window(10, None) == 10  # no count bound
    assert run_window(10, 3) == 3  # bounded by count
    offsets = np.array([0, 1_000_000, 2_500_000], dtype=np.int64)
    assert beyond_deadline(offsets, 2.0).tolist() == [False, False, True]
    assert not beyond_deadline(offsets, None).any()


def test_split_covers_every_event_once() -> None:
    parts = split_for_workers(10, 3)
    assert sorted(np.concatenate(parts).tolist()) == list(range(10))
    assert [len(p) for p in parts] == [4, 3, 3]


def test_rate() -> None:
    assert rate_per_s(np.array([0, 500_000, 1_000_000], dtype=np.int64)) == pytest.approx(2.0)


def test_a_window_is_taken_from_the_whole_round_and_capped_at_max_events() -> None:
    from simulator.traffic.pacer import send_order, sent_count

    t = np.array([50, 10, 40, 30, 20, 60], dtype=np.int64) * 1_000_000
    # without a window: the file's first max_events rows, in time order
    rows, _ = send_order(t, 1.0, max_events=3)
    assert rows.tolist() == [1, 2, 0]
    # a window past the first max_events rows of the file still gets its events
    rows, offsets = send_order(t, 1.0, max_events=3, window=(3, 6))
    assert rows.tolist() == [2, 0, 5]
    rows, offsets = send_order(t, 1.0, max_events=1, window=(3, 6))
    assert rows.tolist() == [2] and offsets.tolist() == [0]
    assert sent_count(6, 1, (3, 6)) == 1
    assert sent_count(6, None, (1, 4)) == 3
    assert sent_count(6, 4, None) == 4
