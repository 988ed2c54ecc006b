"""A replay that reads only its window's rows renders what the whole-table path renders."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from simulator.columns import NO_ID, SCHEDULE
from simulator.replay.engine import ReplayOptions, replay
from simulator.replay.fake import FakeTarget
from simulator.replay.source import load
from simulator.tables import read_rows, read_stage
from simulator.traffic.pacer import split_for_workers
from simulator.traffic.payload import Payload
from tests.replay.tables import workforce

N_PEOPLE = 120
N_EVENTS = 400


def _dict(values: list[str]) -> pa.DictionaryArray:
    return pa.array(values).dictionary_encode().cast(pa.dictionary(pa.int16(), pa.string()))


def _schedule(seed: int = 7) -> pa.Table:
    """Every routing case, in shuffled file order with tied intended times: broadcasts
    and reply-alls to ranges, replies with and without a cc, co-worker names (the last
    employee row among the senders), auto-replies and bounces."""
    rng = np.random.default_rng(seed)
    kinds = rng.choice(["broadcast", "reply", "reply", "reply", "auto_reply", "bounce"], N_EVENTS)
    reply_all = (kinds == "reply") & (rng.random(N_EVENTS) < 0.15)
    fans = (kinds == "broadcast") | reply_all
    sender = rng.integers(0, N_PEOPLE, N_EVENTS)
    sender[kinds == "broadcast"] = NO_ID
    sender[:8] = N_PEOPLE - 1
    first = rng.integers(0, N_PEOPLE - 10, N_EVENTS)
    count = rng.integers(1, 10, N_EVENTS)
    cc = np.where(rng.random(N_EVENTS) < 0.5, rng.integers(0, N_PEOPLE, N_EVENTS), NO_ID)
    cc[(kinds != "reply") | reply_all] = NO_ID
    violations = rng.choice(["", "", "coworker_name", "link", "attachment"], N_EVENTS)
    violations[:8] = "coworker_name"
    violations[kinds == "broadcast"] = ""
    content = np.where(reply_all, "reply_all", "bullets")
    content = np.where(kinds == "broadcast", "broadcast", content)
    content = np.where(kinds == "auto_reply", "auto_reply", content)
    content = np.where(kinds == "bounce", "dsn", content)
    t0 = 1_740_240_000_000_000
    t = t0 + rng.integers(0, 600, N_EVENTS) * 500_000  # ties: 600 half-second slots
    cols = {
        "event_id": pa.array(rng.permutation(N_EVENTS).astype(np.int64)),
        "t_intended": pa.array(t).cast(pa.timestamp("us", tz="UTC")),
        "round": _dict(["1"] * N_EVENTS),
        "kind": _dict(kinds.tolist()),
        "sender_id": pa.array(sender, pa.int32()),
        "rcpt_first": pa.array(np.where(fans, first, NO_ID), pa.int32()),
        "rcpt_count": pa.array(np.where(fans, count, 1 + (cc != NO_ID)), pa.int32()),
        "collection": _dict(["opm" if k == "reply" else "" for k in kinds]),
        "cc_id": pa.array(cc, pa.int32()),
        "agency": _dict(["DHS"] * N_EVENTS),
        "content": _dict(content.tolist()),
        "violation": _dict(violations.tolist()),
        "size_bytes": pa.array(np.full(N_EVENTS, 700, np.int32)),
    }
    return pa.Table.from_pydict(cols, schema=SCHEDULE)


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    schedule, people = tmp_path / "schedule.parquet", tmp_path / "workforce.parquet"
    pq.write_table(_schedule(), schedule, row_group_size=37)  # many row groups
    pq.write_table(workforce(N_PEOPLE), people, row_group_size=16)
    return schedule, people


def _whole(
    schedule: Path, people: Path, window: tuple[int, int] | None, positions: np.ndarray | None
) -> Payload:
    """The events as the replay picked them from the whole tables before it streamed."""
    events = read_stage(schedule, "schedule").sort_by("t_intended")
    if window is not None:
        events = events.slice(window[0], window[1] - window[0])
    if positions is not None:
        events = events.take(pa.array(positions))
    return Payload(events, read_stage(people, "workforce"), seed=3, html_share=0.3)


CASES = [(None, None), ((50, 260), None), ((50, 260), 0), ((50, 260), 2), ((390, 400), None)]


@pytest.mark.parametrize(("window", "worker"), CASES)
def test_streamed_events_render_the_whole_tables_bytes(
    files: tuple[Path, Path], window: tuple[int, int] | None, worker: int | None
) -> None:
    schedule, people = files
    n = N_EVENTS if window is None else window[1] - window[0]
    positions = None if worker is None else split_for_workers(n, 3)[worker]
    loaded = load(schedule, people, 1.0, None, window, positions)
    assert loaded.workforce.num_rows < N_PEOPLE or window is None  # only the ones named
    streamed = Payload(loaded.events, loaded.workforce, seed=3, html_share=0.3)
    whole = _whole(schedule, people, window, positions)
    count = len(whole)
    assert len(streamed) == count > 0
    assert streamed.event_id.tolist() == whole.event_id.tolist()
    assert streamed.smtp_messages(0, count) == whole.smtp_messages(0, count)
    assert streamed.http_jsons(0, count) == whole.http_jsons(0, count)
    assert [streamed.smtp_message(i) for i in range(count)] == whole.smtp_messages(0, count)
    fields = ["sender", "sender_name", "to", "cc", "sub_agency", "body", "intended_time"]
    assert streamed.values(0, count, fields) == whole.values(0, count, fields)
    address = "user5@dhs.example"
    assert (
        streamed.event_id[streamed.addressed_to(address)].tolist()
        == whole.event_id[whole.addressed_to(address)].tolist()
    )


def test_windowed_replay_sends_what_the_whole_table_replay_sends(
    files: tuple[Path, Path],
) -> None:
    schedule, people = files
    options = ReplayOptions(speedup=1e6, concurrency=4, window=(120, 330), seed=3)

    async def run(streamed: bool) -> tuple[FakeTarget, pa.Table]:
        target = FakeTarget()
        if streamed:
            loaded = load(schedule, people, options.speedup, None, options.window)
            args = (loaded.events, loaded.workforce, target, options, loaded.offsets)
            result = await replay(*args)
        else:
            whole = read_stage(schedule, "schedule"), read_stage(people, "workforce")
            result = await replay(*whole, target, options)
        return target, result.results

    (a, results_a), (b, results_b) = asyncio.run(run(True)), asyncio.run(run(False))
    assert len(a.accepted) == 210
    assert a.accepted == b.accepted
    keep = ["event_id", "t_intended", "bytes"]
    assert results_a.select(keep).equals(results_b.select(keep))
    # ok or late depends on the machine's timing; acknowledged or not does not
    assert acknowledged(results_a) == acknowledged(results_b) == [True] * 210


def acknowledged(results: pa.Table) -> list[bool]:
    return [o in ("ok", "late") for o in results.column("outcome").cast(pa.string()).to_pylist()]


def test_read_rows_takes_rows_in_the_order_asked(files: tuple[Path, Path]) -> None:
    schedule, _ = files
    rows = np.array([399, 0, 37, 36, 200, 5], dtype=np.int64)
    got = read_rows(schedule, "schedule", rows)
    assert got.equals(read_stage(schedule, "schedule").take(pa.array(rows)))
    assert read_rows(schedule, "schedule", np.zeros(0, np.int64)).num_rows == 0
