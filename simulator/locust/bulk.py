"""Many finished events into Locust's request stats at once, as one-by-one logging would.

Theory of operation: a worker's engine reports a few hundred finished events twice a
second. Logging them one at a time (`events.request.fire`, then `StatsEntry.log` for
every entry) costs tens of microseconds each, in a process that shares the machine's
cores with the engine and the target; that CPU showed up in the engine's tail latency.
So a batch is summed with numpy into one `StatsEntry` (request and failure counts per
second of the events' own completion times, the total, minimum and maximum response
time, the content length, and the response-time dict keyed by Locust's own
`bucket_response_time`, looked up once per distinct value) and added with
`StatsEntry.extend`, the call Locust's master uses to merge its workers' entries.
Failures go into the `RequestStats.errors` table, one `StatsError` per distinct error
text with its count and when it was first and last seen. The figures match what
`RequestStats.log_request` and `log_error` give event by event (a test checks that
against Locust itself); what is not seen is the `events.request` hook, so other
listeners of it (a CSV request logger, OpenTelemetry) do not get the storm's events.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:  # importing Locust patches the process with gevent: only where it runs
    from locust.stats import StatsEntry

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


def batch_entry(
    stats: Any,
    name: str,
    method: str,
    at_s: F64,
    response_ms: F64,
    lengths: I64,
    failed: npt.NDArray[np.bool_] | None = None,
) -> StatsEntry:
    """One entry holding these requests: `at_s` when each ended (epoch seconds), its
    response time (ms) and content length; `failed` marks those that also count as
    failures."""
    import locust.stats

    entry = locust.stats.StatsEntry(stats, name, method)
    n = len(at_s)
    if n == 0:
        return entry
    entry.num_requests = n
    # Locust annotates these as int, and stores what `log` is given: floats from a user
    entry.total_response_time = float(response_ms.sum())  # type: ignore[assignment]
    entry.min_response_time = float(response_ms.min())  # type: ignore[assignment]
    entry.max_response_time = float(response_ms.max())  # type: ignore[assignment]
    entry.total_content_length = int(lengths.sum())
    entry.last_request_timestamp = float(at_s[-1])  # the last one logged, as `log` keeps
    times: defaultdict[int, int] = defaultdict(int)
    values, counts = np.unique(response_ms, return_counts=True)
    bucket = locust.stats.bucket_response_time  # read now: a locustfile may replace it
    for value, count in zip(values.tolist(), counts.tolist(), strict=True):
        times[bucket(value)] += count
    entry.response_times = times
    entry.num_reqs_per_sec = _per_second(at_s)
    if failed is not None and failed.any():
        entry.num_failures = int(failed.sum())
        entry.num_fail_per_sec = _per_second(at_s[failed])
    return entry


def log_requests(
    stats: Any,
    method: str,
    name: str,
    at_s: F64,
    response_ms: F64,
    lengths: I64,
    errors: Sequence[str | None],
) -> None:
    """Log requests as `RequestStats.log_request` does (the named entry and the total),
    and `log_error` for each with an error text."""
    from locust.stats import StatsError

    failed = np.fromiter((e is not None for e in errors), bool, len(errors))
    batch = batch_entry(stats, name, method, at_s, response_ms, lengths, failed)
    if batch.num_requests == 0:
        return
    stats.entries[(name, method)].extend(batch)
    stats.total.extend(batch)
    seen: dict[str, list[float]] = {}  # error text -> when each occurred, in order
    for j in np.flatnonzero(failed).tolist():
        seen.setdefault(str(errors[j]), []).append(float(at_s[j]))
    for text, times in seen.items():
        key = StatsError.create_key(method, name, text)
        error = stats.errors.get(key)
        if error is None:
            error = stats.errors[key] = StatsError(method, name, text)
        error.occurrences += len(times)  # as `StatsError.occurred`, once per failure
        if error.first_seen is None:
            error.first_seen = times[0]
        error.last_seen = times[-1]


def log_entry(stats: Any, method: str, name: str, at_s: F64, response_ms: F64) -> None:
    """Log into one entry only (not the total), with no content: as `StatsEntry.log`."""
    batch = batch_entry(stats, name, method, at_s, response_ms, np.zeros(len(at_s), np.int64))
    if batch.num_requests:
        stats.entries[(name, method)].extend(batch)


def _per_second(at_s: F64) -> defaultdict[int, int]:
    seconds, counts = np.unique(at_s.astype(np.int64), return_counts=True)
    out: defaultdict[int, int] = defaultdict(int)
    out.update(zip(seconds.tolist(), counts.tolist(), strict=True))
    return out
