"""The engine against the in-memory fake target: pacing, bounds, retries, stop."""

import asyncio

import numpy as np

from simulator.replay import ReplayOptions, replay
from simulator.replay.fake import FakeTarget
from simulator.traffic.outcomes import ERROR, OK, REJECTED, Outcome
from tests.replay.tables import schedule, workforce

WF = workforce(300)


def _outcomes(result) -> list[str]:  # type: ignore[no-untyped-def]
    return result.results.column("outcome").to_pylist()  # type: ignore[no-any-return]


async def test_every_event_delivered_once_in_order() -> None:
    target = FakeTarget()
    events = schedule(["broadcast"] + ["reply"] * 50, gap_us=1000)
    result = await replay(events, WF, target, ReplayOptions(speedup=10, concurrency=4))
    assert _outcomes(result) == ["ok"] * 51
    assert sorted(target.accepted) == list(range(51))
    assert result.summary["acknowledged"] == len(target.accepted)
    assert result.corrected.get_total_count() == 51


async def test_open_loop_does_not_wait_for_answers() -> None:
    # 20 events due within 20 ms, each answered after 100 ms: with 20 connections the
    # whole run takes about one answer time, not twenty.
    target = FakeTarget(latency_s=0.1)
    events = schedule(["reply"] * 20, gap_us=1000)
    result = await replay(events, WF, target, ReplayOptions(concurrency=20))
    sent = result.results.column("t_sent").to_numpy()
    assert sent.max() < 100_000  # all sent before the first answer came back


async def test_concurrency_cap_shows_as_corrected_latency() -> None:
    # One connection, answers take 20 ms, events due every 1 ms: later events wait, and
    # the corrected latency (from the intended time) exceeds the uncorrected one.
    target = FakeTarget(latency_s=0.02)
    events = schedule(["reply"] * 10, gap_us=1000)
    result = await replay(events, WF, target, ReplayOptions(concurrency=1))
    table = result.results
    corrected = table.column("latency_corrected_us").to_numpy()
    uncorrected = table.column("latency_uncorrected_us").to_numpy()
    assert corrected[-1] > uncorrected[-1] + 100_000
    assert "late" in _outcomes(result)


async def test_events_beyond_max_duration_are_dropped_not_skipped() -> None:
    # 0.0 .. 1.8 s; the limit falls 100 ms after the third event, so a loaded machine's
    # scheduling delay does not move an event across it
    events = schedule(["reply"] * 10, gap_us=200_000)
    result = await replay(events, WF, FakeTarget(), ReplayOptions(max_duration_s=0.5))
    outcomes = _outcomes(result)
    assert len(outcomes) == 10
    assert outcomes.count("ok") == 3 and outcomes.count("dropped") == 7


async def test_max_events_shortens_the_run() -> None:
    events = schedule(["reply"] * 10)
    result = await replay(events, WF, FakeTarget(), ReplayOptions(speedup=100, max_events=3))
    assert result.results.num_rows == 3


async def test_temporary_failures_are_retried_and_counted() -> None:
    def flaky(position: int, attempt: int) -> Outcome:
        if attempt < 2:
            return Outcome(451, ERROR, 0, "smtp 451", retry_after=0.001)
        return Outcome(250, OK, 0)

    target = FakeTarget(responder=flaky)
    result = await replay(schedule(["reply"] * 3), WF, target, ReplayOptions(retries=3))
    assert _outcomes(result) == ["ok"] * 3
    assert result.results.column("retries").to_pylist() == [2, 2, 2]
    assert result.summary["retries"] == 6


async def test_retries_are_bounded() -> None:
    def always_busy(position: int, attempt: int) -> Outcome:
        return Outcome(503, REJECTED, 0, "http 503", retry_after=0.001)

    target = FakeTarget(responder=always_busy)
    result = await replay(schedule(["reply"]), WF, target, ReplayOptions(retries=2))
    assert _outcomes(result) == ["rejected"]
    assert target.attempts[0] == 3  # the first try and two retries


async def test_stop_writes_what_it_has() -> None:
    stop = asyncio.Event()
    events = schedule(["reply"] * 100, gap_us=10_000)  # one second of events
    options = ReplayOptions(stop=stop, concurrency=4, grace_s=1.0)
    asyncio.get_running_loop().call_later(0.2, stop.set)
    result = await replay(events, WF, FakeTarget(latency_s=0.001), options)
    outcomes = _outcomes(result)
    assert result.interrupted
    assert len(outcomes) == 100  # every event has a row
    assert 5 < outcomes.count("ok") < 60
    assert outcomes.count("ok") + outcomes.count("dropped") == 100
    errors = set(result.results.column("error").to_pylist())
    assert errors == {"", "stopped"}


async def test_events_far_behind_schedule_are_dropped() -> None:
    target = FakeTarget(latency_s=0.05)
    events = schedule(["reply"] * 5, gap_us=0)
    options = ReplayOptions(concurrency=1, drop_after_s=0.06)
    result = await replay(events, WF, target, options)
    outcomes = _outcomes(result)
    assert outcomes[0] == "ok" and "dropped" in outcomes
    assert np.all(result.results.column("t_sent").to_numpy()[np.array(outcomes) == "dropped"] < 0)


async def test_a_pipelining_session_takes_due_events_along_each_once() -> None:
    # All 60 events are due at once: each delivery takes the next one along, and every
    # event is still delivered exactly once.
    target = FakeTarget(pipelining=True)
    events = schedule(["reply"] * 60, gap_us=0)
    result = await replay(events, WF, target, ReplayOptions(concurrency=3))
    assert _outcomes(result) == ["ok"] * 60
    assert sorted(target.accepted) == list(range(60))
    assert len(target.followed) > 30
    assert all(taken > position for position, taken in target.followed)


async def test_a_pipelining_session_takes_only_due_events() -> None:
    # Events 50 ms apart: none is due while another goes out, so none is taken along.
    target = FakeTarget(pipelining=True)
    events = schedule(["reply"] * 4, gap_us=50_000)
    result = await replay(events, WF, target, ReplayOptions(concurrency=1))
    assert _outcomes(result) == ["ok"] * 4
    assert target.followed == []


async def test_a_retry_waits_behind_the_event_taken_along() -> None:
    def flaky(position: int, attempt: int) -> Outcome:
        if position % 3 == 0 and attempt == 0:
            return Outcome(451, ERROR, 0, "smtp 451", retry_after=0.001)
        return Outcome(250, OK, 0)

    target = FakeTarget(responder=flaky, pipelining=True)
    result = await replay(schedule(["reply"] * 30, gap_us=0), WF, target, ReplayOptions())
    assert _outcomes(result) == ["ok"] * 30
    assert result.summary["retries"] == 10
    assert sorted(target.accepted) == list(range(30))
