"""A scaled-down storm becomes a SCHEDULE table with the fan-out per reply."""

from __future__ import annotations

import pyarrow.compute as pc
import pytest

from simulator.columns import SCHEDULE
from simulator.replyall.params import ReplyAllScenario
from simulator.replyall.replay import scale_down, storm_events


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
