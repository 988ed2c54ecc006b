import numpy as np
import pytest

from simulator.traffic.autospeed import (
    MAX_SPEEDUP,
    ProbeStep,
    best_rate,
    choose_speedup,
    peak_per_s,
)

S = 1_000_000


def test_peak_counts_the_busiest_window_of_intended_time() -> None:
    # 5 events in one second, then one every 10 s
    t = np.array([0, 100, 200, 300, 400, *[(10 + 10 * k) * S for k in range(20)]], np.int64)
    assert peak_per_s(t) == 5
    assert peak_per_s(t, speedup=25) == 7  # 25 intended seconds: the burst and two more
    assert peak_per_s(np.array([], np.int64)) == 0


def test_chosen_speedup_fits_the_budget_and_the_next_step_does_not() -> None:
    rng = np.random.default_rng(1)
    t = np.sort(rng.integers(0, 3600 * S, 50_000)).astype(np.int64)  # ~14 per second
    chosen = choose_speedup(t, capacity_per_s=1000.0, headroom=0.7)
    assert peak_per_s(t, chosen) <= 700
    assert peak_per_s(t, chosen * 1.01) > 700
    assert 20 < chosen < 60  # ~700 / 14, less for the random peaks


def test_a_lower_headroom_picks_a_lower_speedup() -> None:
    t = np.arange(0, 10_000 * S, S // 4, dtype=np.int64)  # 4 per second, evenly
    assert choose_speedup(t, 400.0, 0.5) == pytest.approx(50, rel=0.01)
    assert choose_speedup(t, 400.0, 1.0) == pytest.approx(100, rel=0.01)


def test_a_schedule_that_fits_in_one_second_gets_the_largest_speedup() -> None:
    t = np.arange(100, dtype=np.int64) * 3600 * S
    assert choose_speedup(t, capacity_per_s=1000.0, headroom=0.7) == MAX_SPEEDUP


def test_headroom_outside_0_1_is_refused() -> None:
    with pytest.raises(ValueError):
        choose_speedup(np.array([0], np.int64), 10.0, 1.5)


def test_capacity_is_the_best_step() -> None:
    steps = [ProbeStep(1, 100, 100, 1.0), ProbeStep(4, 400, 350, 1.0), ProbeStep(16, 10, 0, 2.0)]
    assert best_rate(steps) == 350.0
    assert best_rate([]) == 0.0
