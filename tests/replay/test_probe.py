"""The capacity probe behind --speedup auto, against the in-memory target."""

from __future__ import annotations

import re

import numpy as np
import pytest

from simulator.app.replaying import probe_rows
from simulator.replay.fake import FakeTarget
from simulator.replay.probe import ProbeOptions, probe, probe_seed
from simulator.traffic.outcomes import REJECTED, Outcome
from simulator.validation import InputError
from tests.replay.tables import schedule, workforce

RUN_SEED = 7
MESSAGE_ID = re.compile(rb"Message-ID: <(\d+)\.(\d+)@")


def _tables(n: int = 40):  # type: ignore[no-untyped-def]
    return schedule(["reply"] * n), workforce(2 * n + 4)


async def test_every_step_is_measured_and_probe_messages_carry_no_run_seed() -> None:
    events, people = _tables()
    target = FakeTarget(latency_s=0.002)
    opts = ProbeOptions(steps=(1, 4), step_s=0.5, max_events=1000, seed=RUN_SEED)
    steps = await probe(events, people, target, opts)
    assert [s.connections for s in steps] == [1, 4]
    assert all(s.acknowledged > 0 for s in steps)
    # a closed loop: four sessions answer about four times as many as one, here
    assert steps[1].rate_per_s > 2 * steps[0].rate_per_s
    assert sum(s.sent for s in steps) <= 1000
    seeds = set()
    for message in target.accepted.values():
        found = MESSAGE_ID.search(message.data)
        assert found is not None
        seeds.add(int(found.group(2)))
    assert RUN_SEED not in seeds
    assert seeds <= {probe_seed(RUN_SEED), probe_seed(RUN_SEED) + 1}


async def test_each_step_renders_under_its_own_seed_so_none_is_a_duplicate() -> None:
    events, people = _tables(10)
    ids: list[bytes] = []

    class Recording(FakeTarget):
        def prepare(self, payload, start, stop):  # type: ignore[no-untyped-def]
            batch = super().prepare(payload, start, stop)
            ids.extend(MESSAGE_ID.search(m.data).group(0) for _, m in batch)  # type: ignore[union-attr]
            return batch

    opts = ProbeOptions(steps=(1, 2, 4), step_s=0.5, max_events=30, seed=RUN_SEED)
    steps = await probe(events, people, Recording(), opts)
    assert [s.sent for s in steps] == [10, 10, 10]  # 30 events in all, 10 a step
    assert len(ids) == len(set(ids)) == 30


async def test_a_target_that_acknowledges_nothing_names_the_flag() -> None:
    events, people = _tables(5)
    refuse = FakeTarget(responder=lambda i, a: Outcome(550, REJECTED, 0, "no"))
    with pytest.raises(InputError) as err:
        await probe(events, people, refuse, ProbeOptions(steps=(1, 4), step_s=0.2))
    assert err.value.field == "--speedup"
    assert "acknowledged for none" in str(err.value)


async def test_a_target_that_never_answers_is_given_up_on_in_bounded_time() -> None:
    events, people = _tables(5)
    silent = FakeTarget(latency_s=3600.0)
    opts = ProbeOptions(steps=(1, 4, 16), step_s=0.1)
    with pytest.raises(InputError) as err:
        await probe(events, people, silent, opts)
    assert "still waiting" in str(err.value)
    assert silent.sessions_opened == 1  # the ramp ended after the first step


def test_the_probe_takes_rows_evenly_through_what_the_run_sends() -> None:
    # a round opens with its broadcast: the first rows alone would be all broadcast
    rows = np.arange(100, 1100, dtype=np.int64)
    got = probe_rows(rows, 5)
    assert got.tolist() == [100, 350, 600, 849, 1099]
    assert probe_rows(rows[:3], 5).tolist() == [100, 101, 102]  # fewer than asked: all
