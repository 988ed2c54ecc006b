"""A scaled-down storm becomes a SCHEDULE table with the fan-out per reply."""

from __future__ import annotations

from dataclasses import replace

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from simulator.columns import SCHEDULE
from simulator.replyall.params import ReplyAllScenario
from simulator.replyall.replay import scale_down, storm_events
from simulator.validation import Range


def test_event_table_matches_schedule_and_fanout(small: ReplyAllScenario) -> None:
    sc = scale_down(small, 300)
    table = storm_events(sc, seed=1)
    assert table.schema.equals(SCHEDULE)
    kinds = table.column("kind").to_pylist()
    assert kinds[0] == "broadcast"
    replies = table.filter(pc.equal(table.column("kind"), "reply"))
    assert replies.num_rows > 0
    assert set(replies.column("rcpt_count").to_pylist()) == {300}
    t = table.column("t_intended").to_pylist()
    assert t == sorted(t)
    assert table.column("event_id").to_pylist() == list(range(table.num_rows))


def test_event_table_is_bounded(small: ReplyAllScenario) -> None:
    with pytest.raises(ValueError, match="max_events"):
        storm_events(scale_down(small, 300), seed=1, max_events=5)


def test_scaled_storm_keeps_the_defence_that_acts_on_the_full_list(
    small: ReplyAllScenario,
) -> None:
    guarded = _no_lag(small.with_defences(exchange_protection=True))
    assert guarded.defences.exchange_protection.applies_to(guarded.list_size)
    tiny = scale_down(guarded, 1000)
    assert tiny.defences.exchange_protection.applies_to(1000)  # 2,500 of 20k -> 125 of 1k
    open_list = storm_events(scale_down(small, 1000), seed=1)
    blocked = storm_events(tiny, seed=1)

    def count(table: pa.Table, kind: str) -> int:
        return int(pc.sum(pc.equal(table.column("kind"), kind)).as_py() or 0)

    assert count(blocked, "bounce") > 0  # posts refused once the thread is blocked
    assert count(blocked, "reply") < count(open_list, "reply")


def _no_lag(sc: ReplyAllScenario) -> ReplyAllScenario:
    """Exchange protection whose block reaches every server at once."""
    ex = replace(sc.defences.exchange_protection, enforcement_lag_min=Range(0.0, 0.0, 0.0))
    return replace(sc, defences=replace(sc.defences, exchange_protection=ex))
