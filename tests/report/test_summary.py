"""Summary numbers and threshold verdicts from a hand-made results table."""

from __future__ import annotations

import pytest

from simulator.report.summary import build_summary, evaluate
from simulator.scenario import Threshold
from tests.report.helpers import results_table


def test_percentiles_are_exact_and_corrected_exceeds_uncorrected() -> None:
    latencies = [float(i) for i in range(1, 101)]  # 1..100 ms
    summary = build_summary(results_table(latencies, ["ok"] * 100), scenario="t", stored=100)
    corrected = summary["latency_ms"]["corrected"]
    assert corrected["p50"] == pytest.approx(50.0)
    assert corrected["p99"] == pytest.approx(99.0)
    assert corrected["max"] == pytest.approx(100.0)
    # the send happened 0.5 ms after the intended time, so uncorrected is 0.5 ms less
    assert summary["latency_ms"]["uncorrected"]["max"] == pytest.approx(99.5)


def test_counts_lost_and_reasons() -> None:
    outcomes = ["ok"] * 7 + ["rejected", "dropped", "late"]
    errors = [""] * 7 + ["550 link", "deadline", ""]
    summary = build_summary(results_table([5.0] * 10, outcomes, errors), scenario="t", stored=7)
    events = summary["events"]
    assert events["acknowledged"] == 8  # a late event was still acknowledged
    assert events["lost"] == 1  # 8 acknowledged, 7 stored
    assert events["failed_by_reason"] == {"550 link": 1, "deadline": 1}
    assert events["late"] == 1 and events["dropped"] == 1 and events["rejected"] == 1


# (threshold, metric values, expected pass)
CASES = [
    (Threshold("lost", "==", 0), {"lost": 0}, True),
    (Threshold("lost", "==", 0), {"lost": 3}, False),
    (Threshold("p99_ms", "<", 500), {"p99_ms": 499.9}, True),
    (Threshold("p99_ms", "<", 500), {"p99_ms": 500}, False),
    (Threshold("error_rate", "<=", 0.01), {"error_rate": 0.01}, True),
    (Threshold("acked", ">", 10), {"acked": None}, False),  # no value: the check fails
]


@pytest.mark.parametrize(("check", "values", "expected"), CASES, ids=[str(c[0]) for c in CASES])
def test_threshold_operators(
    check: Threshold, values: dict[str, float | None], expected: bool
) -> None:
    assert evaluate([check], values)[0].passed is expected


def test_verdict_fails_when_one_threshold_fails() -> None:
    table = results_table([1.0, 2000.0], ["ok", "ok"])
    checks = [Threshold("lost", "==", 0), Threshold("p99_ms", "<", 1000)]
    summary = build_summary(table, scenario="t", stored=2, thresholds=checks)
    assert summary["verdict"] == "fail"
    assert [t["passed"] for t in summary["thresholds"]] == [True, False]
