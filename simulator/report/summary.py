"""The run summary: counts, throughput, latency percentiles and threshold verdicts.

Theory of operation: a summary is computed from the replay's results table (one row per
scheduled event, `columns.RESULTS`) and a few numbers measured at the edges (rows found in
the collection store). Latency percentiles are exact, from the per-event columns, for
both the corrected latency (from the intended send time, wrk2 style) and the uncorrected
one (from the actual send). The thresholds of the scenario are evaluated against the
flat metric names of `scenario.THRESHOLD_METRICS`. Everything here is pure.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from simulator.scenario import Threshold

SCHEMA_VERSION = "pulsecheck.summary/1"
ACKNOWLEDGED = ("ok", "late")  # "late": answered, but sent behind schedule
PERCENTILES = {"p50": 50.0, "p90": 90.0, "p99": 99.0, "p99.9": 99.9, "max": 100.0}

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}


@dataclass(frozen=True)
class Verdict:
    check: str
    value: float | None
    passed: bool
    measured: bool = True  # False: the run could not measure it (`lost` without a store)


def column(table: pa.Table, name: str) -> np.ndarray[Any, Any]:
    """A results column as numpy (dictionary columns decoded to strings)."""
    col = table.column(name)
    if pa.types.is_dictionary(col.type):
        col = col.cast(pa.string())
    return np.asarray(col.to_numpy(zero_copy_only=False))


def latency_percentiles(latency_us: np.ndarray[Any, Any]) -> dict[str, float | None]:
    """Percentiles in milliseconds of answered events (negative means unanswered)."""
    answered = latency_us[latency_us >= 0]
    if answered.size == 0:
        return {name: None for name in PERCENTILES}
    values = np.percentile(answered, list(PERCENTILES.values()), method="inverted_cdf")
    return {name: float(v) / 1000.0 for name, v in zip(PERCENTILES, values, strict=True)}


def event_counts(results: pa.Table) -> dict[str, Any]:
    """Counts by outcome, with rejections and errors broken down by reason."""
    outcome = column(results, "outcome")
    error = column(results, "error")
    names, counts = np.unique(outcome, return_counts=True)
    by_outcome = {str(n): int(c) for n, c in zip(names, counts, strict=True)}
    reasons: dict[str, int] = {}
    failed = ~np.isin(outcome, ACKNOWLEDGED)
    for reason, count in zip(*np.unique(error[failed], return_counts=True), strict=True):
        reasons[str(reason) or "unknown"] = int(count)
    sent = int((column(results, "t_sent") >= 0).sum())
    return {
        "scheduled": int(results.num_rows),
        "sent": sent,
        "acknowledged": by_outcome.get("ok", 0) + by_outcome.get("late", 0),
        "rejected": by_outcome.get("rejected", 0),
        "errors": by_outcome.get("error", 0) + by_outcome.get("timeout", 0),
        "late": by_outcome.get("late", 0),
        "dropped": by_outcome.get("dropped", 0),
        "retries": int(column(results, "retries").astype(np.int64).sum()),
        "by_outcome": by_outcome,
        "failed_by_reason": dict(sorted(reasons.items(), key=lambda kv: -kv[1])),
    }


def throughput(results: pa.Table) -> dict[str, float]:
    """Answered events per second over the run, the peak one-second rate answered and the
    peak one-second rate the schedule offered (both in replay seconds)."""
    done = column(results, "t_done")
    done = done[done >= 0]
    if done.size == 0:
        return {
            "events_per_s": 0.0,
            "peak_events_per_s": 0.0,
            "peak_offered_per_s": 0.0,
            "peak_offered_at_s": 0.0,
            "duration_s": 0.0,
        }
    intended = column(results, "t_intended")
    start = min(int(intended.min()), int(done.min()))
    duration = max((int(done.max()) - start) / 1e6, 1e-6)
    per_second = np.bincount(((done - start) // 1_000_000).astype(np.int64))
    offered = np.bincount(((intended - start) // 1_000_000).astype(np.int64))
    return {
        "events_per_s": float(done.size / duration),
        "peak_events_per_s": float(per_second.max()),
        "peak_offered_per_s": float(offered.max()),
        "peak_offered_at_s": float(int(offered.argmax()) + start / 1e6),
        "duration_s": duration,
    }


BREAKDOWN_BY = ("kind", "collection", "agency")  # schedule columns the counts are split by
NOT_A_REPLY = "(none)"  # the collection of an event that goes to no collection system


def breakdowns(results: pa.Table, schedule: pa.Table) -> dict[str, dict[str, dict[str, int]]]:
    """Counts by event kind, collection and agency, each result matched to its schedule row
    by `event_id`; groups in falling order of scheduled events."""
    ids = np.asarray(schedule.column("event_id").to_numpy())
    if ids.size == 0:
        return {}
    order = np.argsort(ids, kind="stable")
    wanted = column(results, "event_id")
    rows = order[np.clip(np.searchsorted(ids, wanted, sorter=order), 0, ids.size - 1)]
    found = ids[rows] == wanted
    outcome = column(results, "outcome")
    masks = {
        "scheduled": np.ones(outcome.size, dtype=bool),
        "sent": column(results, "t_sent") >= 0,
        "acknowledged": np.isin(outcome, ACKNOWLEDGED),
        "rejected": outcome == "rejected",
        "errors": np.isin(outcome, ("error", "timeout")),
        "late": outcome == "late",
        "dropped": outcome == "dropped",
    }
    out: dict[str, dict[str, dict[str, int]]] = {}
    for name in BREAKDOWN_BY:
        values = np.where(found, column(schedule, name)[rows], "(not in the schedule)")
        values = np.where(values == "", NOT_A_REPLY, values)
        keys, inverse = np.unique(values, return_inverse=True)
        sums = {m: np.bincount(inverse, weights=v, minlength=keys.size) for m, v in masks.items()}
        groups = {str(k): {m: int(sums[m][i]) for m in masks} for i, k in enumerate(keys)}
        out[name] = dict(sorted(groups.items(), key=lambda kv: (-kv[1]["scheduled"], kv[0])))
    return out


def build_summary(
    results: pa.Table,
    *,
    scenario: str,
    stored: int | None,
    thresholds: Sequence[Threshold] = (),
    extra: Mapping[str, Any] | None = None,
    lost: int | None = None,
    duplicates: int | None = None,
) -> dict[str, Any]:
    """The versioned summary of one run; `stored` is None when no store was checked.

    `lost` defaults to the acknowledged events not stored; a check that expected only
    some of them (one mailbox read back) gives its own count, and its `duplicates`."""
    counts = event_counts(results)
    if lost is None and stored is not None:
        lost = max(counts["acknowledged"] - stored, 0)
    counts.update({"stored": stored, "lost": None if stored is None else lost})
    counts["duplicates"] = duplicates
    summary: dict[str, Any] = {
        "schema": SCHEMA_VERSION,
        "scenario": scenario,
        "events": counts,
        "throughput": throughput(results),
        "latency_ms": {
            "corrected": latency_percentiles(column(results, "latency_corrected_us")),
            "uncorrected": latency_percentiles(column(results, "latency_uncorrected_us")),
        },
    }
    summary.update(extra or {})
    unmeasured = {"lost", "duplicates"} if stored is None else set()
    if duplicates is None:
        unmeasured.add("duplicates")
    verdicts = evaluate(thresholds, metrics(summary), unmeasured)
    summary["thresholds"] = [v.__dict__ for v in verdicts]
    summary["verdict"] = verdict_of(verdicts)
    return summary


def verdict_of(verdicts: Sequence[Verdict]) -> str:
    """ "pass", "fail", or "none" when no threshold was set: never a pass on nothing."""
    measured = [v for v in verdicts if v.measured]
    if not measured:
        return "none"
    return "pass" if all(v.passed for v in measured) else "fail"


def metrics(summary: Mapping[str, Any]) -> dict[str, float | None]:
    """The flat metric names thresholds refer to."""
    events = summary["events"]
    corrected = summary["latency_ms"]["corrected"]
    scheduled = max(events["scheduled"], 1)
    failed = events["errors"] + events["dropped"]  # no answer at all
    return {
        "p50_ms": corrected["p50"],
        "p90_ms": corrected["p90"],
        "p99_ms": corrected["p99"],
        "p999_ms": corrected["p99.9"],
        "max_ms": corrected["max"],
        "p99_uncorrected_ms": summary["latency_ms"]["uncorrected"]["p99"],
        "lost": events["lost"],
        "duplicates": events.get("duplicates"),
        "late": events["late"],
        "dropped": events["dropped"],
        "error_rate": failed / scheduled,
        "reject_rate": events["rejected"] / scheduled,  # answered with a refusal (rules, policy)
        "late_rate": events["late"] / scheduled,
        "throughput_eps": summary["throughput"]["events_per_s"],
        "acked": events["acknowledged"],
    }


def evaluate(
    thresholds: Sequence[Threshold],
    values: Mapping[str, float | None],
    unmeasured: Collection[str] = (),
) -> list[Verdict]:
    """Each threshold against its metric; a metric with no value fails its check.

    A metric in `unmeasured` is one the run had no way to measure (`lost` when no store
    was read back): its check is neither passed nor failed, and the page says so.
    """
    verdicts = []
    for check in thresholds:
        if check.metric in unmeasured:
            verdicts.append(Verdict(str(check), None, False, measured=False))
            continue
        value = values.get(check.metric)
        passed = value is not None and _OPS[check.op](float(value), check.value)
        verdicts.append(Verdict(str(check), None if value is None else float(value), passed))
    return verdicts
