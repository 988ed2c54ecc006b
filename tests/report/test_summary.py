"""Summary numbers and threshold verdicts from a hand-made results table."""

from __future__ import annotations

import pyarrow as pa
import pytest

from simulator.report.summary import breakdowns, build_summary, evaluate
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


def _schedule(kinds: list[str], collections: list[str], agencies: list[str]) -> pa.Table:
    n = len(kinds)
    return pa.table(
        {
            # shuffled: the match is by event id, not by row order
            "event_id": pa.array(list(range(n))[::-1], pa.int64()),
            "kind": pa.array(kinds[::-1]).dictionary_encode(),
            "collection": pa.array(collections[::-1]).dictionary_encode(),
            "agency": pa.array(agencies[::-1]).dictionary_encode(),
        }
    )


def test_breakdowns_count_each_kind_collection_and_agency() -> None:
    outcomes = ["ok", "ok", "rejected", "late", "dropped", "error"]
    results = results_table([5.0] * 6, outcomes)
    schedule = _schedule(
        ["broadcast", "reply", "reply", "reply", "auto_reply", "bounce"],
        ["", "hr", "hr", "dept", "hr", ""],
        ["OPM", "VA", "VA", "DOD", "VA", "VA"],
    )
    got = breakdowns(results, schedule)
    assert got["kind"]["reply"] == {
        "scheduled": 3,
        "sent": 3,
        "acknowledged": 2,
        "rejected": 1,
        "errors": 0,
        "late": 1,
        "dropped": 0,
    }
    assert list(got["kind"]) == ["reply", "auto_reply", "bounce", "broadcast"]
    assert got["kind"]["bounce"]["errors"] == 1
    assert {k: v["scheduled"] for k, v in got["collection"].items()} == {
        "hr": 3,
        "(none)": 2,
        "dept": 1,
    }
    assert got["agency"]["VA"]["acknowledged"] == 1 and got["agency"]["VA"]["dropped"] == 1
    assert sum(g["scheduled"] for g in got["agency"].values()) == 6


def test_peak_offered_rate_counts_the_busiest_second_of_the_schedule() -> None:
    results = results_table([5.0] * 250, ["ok"] * 250)  # one event every 10 ms
    assert build_summary(results, scenario="t", stored=None)["throughput"][
        "peak_offered_per_s"
    ] == pytest.approx(100.0)
