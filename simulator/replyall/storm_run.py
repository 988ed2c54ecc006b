"""Replay a scaled-down reply-all storm against the reference SMTP mailbox.

Theory of operation: the model (`simulator.replyall.process`) counts deliveries; this
module sends them. The scenario is scaled to `[replyall.replay] list_size` members
(`scale_down`), one seeded run becomes an event table (`storm_events`): the original to
the whole list, each reply-all again to the whole list (one SMTP transaction with a RCPT
per member: the fan-out), refused posts and automatic answers as single deliveries. With
`[replyall.replay] defences = "none"` the defences are switched off first, to watch
what an unguarded list does to the server. The mailbox runs in a child process with the
list's directory (`list_workforce`); when the scenario switches on the mailbox receiving
limit, the mailbox enforces it too, on a clock sped up as much as the replay. The replay
is the same open-loop engine as `pulsecheck run`, so when the storm's fan-out outruns the
mailbox the backlog shows as latency from the intended send time, and every acknowledged
message is checked against the store afterwards. Files land in the run directory as for any run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from simulator.collect.policy import Policy
from simulator.collect.servers import ServerSpec
from simulator.collections import Collection
from simulator.replay.engine import ReplayOptions
from simulator.replyall.defences import DEFENCE_NAMES
from simulator.replyall.params import ReplyAllScenario
from simulator.replyall.replay import ROUND, list_workforce, scale_down, storm_events
from simulator.rules import ContentRules
from simulator.runner import Say, StoreCheck, check_store, run_replay, serving
from simulator.schedule.io import write_schedule
from simulator.traffic.record import read_results
from simulator.workforce import write_workforce


@dataclass(frozen=True)
class StormReplay:
    scenario: ReplyAllScenario  # the scaled-down storm that was sent
    events: pa.Table  # its SCHEDULE rows
    summary: dict[str, Any]  # the replay engine's summary
    check: StoreCheck


def mailbox_spec(sc: ReplyAllScenario, out: Path) -> ServerSpec:
    """The reference mailbox for the list: members and sender admitted, no collections."""
    limit = sc.defences.mailbox_receiving_limit
    return ServerSpec(
        kind="mailbox",
        store_path=str(out / "store.db"),
        rules_by_round={ROUND: ContentRules()},
        workforce_path=str(out / "workforce.parquet"),
        collections=list[Collection](),
        broadcast_sender=sc.sender,
        time_scale=sc.replay.speedup,
        policy=Policy(per_hour=limit.per_hour) if limit.enabled else Policy(),
    )


def replay_storm(sc: ReplyAllScenario, out: Path, seed: int, say: Say) -> StormReplay:
    """Build, serve and replay the scaled-down storm of `sc`; check the store."""
    plan = sc.replay
    if plan.defences == "none":
        sc = sc.with_defences(**dict.fromkeys(DEFENCE_NAMES, False))
    small = scale_down(sc, plan.list_size)
    events = storm_events(small, seed, max_events=plan.max_events)
    workforce = list_workforce(small, seed)
    out.mkdir(parents=True, exist_ok=True)
    write_workforce(workforce, out / "workforce.parquet")
    write_schedule(events, out / "schedule.parquet", {"scenario": sc.name, "list": plan.list_size})
    fan = events.column("rcpt_count").to_numpy()
    say(
        f"storm: {events.num_rows:,} messages, {int(fan.sum()):,} deliveries on a list of "
        f"{plan.list_size:,} (speedup {plan.speedup:g})"
    )
    (out / "store.db").unlink(missing_ok=True)
    options = ReplayOptions(
        speedup=plan.speedup,
        concurrency=plan.concurrency,
        max_events=plan.max_events,
        max_duration_s=plan.max_duration_s,
        broadcast_sender=sc.sender,
        seed=seed,
    )
    with serving(mailbox_spec(sc, out), say) as url:
        summary = run_replay(out, url, workforce, events, options)
    check = check_store(read_results(out), out / "store.db")
    return StormReplay(small, events, summary, check)


def stored_fanout(store: Path) -> np.ndarray[Any, np.dtype[np.int64]]:
    """Recipients per stored delivery row, as the mailbox counted them."""
    import sqlite3

    conn = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT rcpt_count FROM deliveries").fetchall()
    finally:
        conn.close()
    return np.array([r for (r,) in rows], dtype=np.int64)
