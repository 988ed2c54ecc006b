"""The durable store: new vs duplicate, bounded queue, drain on close, stats."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from simulator.collect import store as s


def reply(key: str, agency: str = "DHS", round_id: str = "r1") -> s.Reply:
    return s.Reply(
        key,
        1,
        "api",
        "opm-hr",
        agency,
        "a@dhs.example",
        round_id,
        ("b@dhs.example",),
        "subj",
        "- did",
        0,
        10,
    )


async def test_new_then_duplicate(tmp_path: Path) -> None:
    store = s.Store(tmp_path / "db")
    assert await store.submit(reply("k1")) == "new"
    assert await store.submit(reply("k1")) == "duplicate"
    same_batch = [store.submit(reply("k2")), store.submit(reply("k2"))]
    assert sorted(await asyncio.gather(*same_batch)) == ["duplicate", "new"]
    await store.close()
    conn = s.open_reader(tmp_path / "db")
    assert s.stats(conn) == [("DHS", "r1", "accepted", 2)]
    assert s.replies_for(conn, "DHS")[0]["cc"] == ["b@dhs.example"]
    assert s.replies_for(conn, "DOD") == []


async def test_bounded_queue_sheds(tmp_path: Path) -> None:
    store = s.Store(tmp_path / "db", max_pending=3)
    futures = [store.submit(reply(f"k{i}")) for i in range(3)]
    assert store.full  # callers shed before doing the work
    with pytest.raises(s.Overloaded):
        store.submit(reply("k9"))
    await asyncio.gather(*futures)
    assert store.pending == 0 and not store.full
    assert await store.submit(reply("k9")) == "new"  # room again once committed
    await store.close()


async def test_close_commits_everything_queued(tmp_path: Path) -> None:
    store = s.Store(tmp_path / "db")
    futures = [store.submit(reply(f"k{i}")) for i in range(500)]
    store.note(s.Rejection(1, "smtp", "opm-hr", "DHS", "r1", "link"))
    await store.close()
    assert all(f.done() and f.result() == "new" for f in futures)
    with pytest.raises(s.StoreClosed):
        store.submit(reply("late"))
    conn = s.open_reader(tmp_path / "db")
    assert ("DHS", "r1", "rejected:link", 1) in s.stats(conn)


async def test_deliveries_counted(tmp_path: Path) -> None:
    store = s.Store(tmp_path / "db")
    await store.submit(s.Delivery("hr@opm.example/<1@x>", 1, "hr@opm.example", "r1", 500, 900))
    await store.close()
    assert s.delivery_totals(s.open_reader(tmp_path / "db")) == (1, 500)


async def test_commit_delay_and_batch_bound_set_the_pace(tmp_path: Path) -> None:
    store = s.Store(tmp_path / "db", max_batch=4, commit_delay_s=0.01)
    await asyncio.gather(*(store.submit(reply(f"k{i}")) for i in range(10)))
    assert store.committed == 10
    assert store.batches >= 3  # at most 4 records per group commit
    await store.close()
