"""The reference collection systems during a run, and the store check after it.

Theory of operation: `serving` starts the server a `ServerSpec` describes in a child
process (its own core), yields its URL and stops it with SIGTERM (drain, flush, close).
`check_store` then reads the store back: every event the replay saw acknowledged must be
in it, exactly once, or it counts as lost (or duplicated), tallied as a mailbox read back
over IMAP is (`verifying.tally_ids`). The replay names each event in its store key
(the SMTP Message-ID `<EVENT.SEED@pulsecheck.example>` or the API idempotency key
`.../SEED-EVENT`), so the check needs nothing but the keys.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from simulator.app.record import StoreCheck
from simulator.app.verifying import tally_ids
from simulator.collect.servers import ServerProcess, ServerSpec
from simulator.collections import Collection
from simulator.report.summary import ACKNOWLEDGED, column
from simulator.rules import ContentRules
from simulator.scenario import Scenario
from simulator.validation import InputError

Say = Callable[[str], None]
_EVENT_KEY = re.compile(r"<(\d+)\.\d+@pulsecheck\.example>|/\d+-(\d+)$")


@dataclass(frozen=True)
class ServedScenario:
    """What a reference server takes from a mass-reply scenario."""

    collections: list[Collection]  # with their own content rules
    rules_by_round: dict[str, ContentRules]
    broadcast_sender: str  # the first chosen round's sender


def served_scenario(
    scenario: Scenario, round_ids: Sequence[str] | None = None, flag: str = "--rounds"
) -> ServedScenario:
    """The collections, the chosen rounds' rules (default all) and the broadcast sender."""
    by_id = {r.id: r for r in scenario.rounds}
    chosen = list(by_id) if round_ids is None else list(round_ids)
    for round_id in chosen:
        if round_id not in by_id:
            allowed = f"must be rounds of {scenario.path}: {', '.join(by_id)}"
            raise InputError(flag, "rounds", round_id, allowed)
    return ServedScenario(
        collections=list(scenario.collections),
        rules_by_round={r: by_id[r].rules for r in chosen},
        broadcast_sender=by_id[chosen[0]].sender,
    )


@contextmanager
def serving(spec: ServerSpec, say: Say) -> Iterator[str]:
    """Run the server `spec` describes in a child process; yield its URL; stop it (and
    say how it stopped)."""
    server = ServerProcess(spec)
    host, port = server.start()
    url = f"smtp://{host}:{port}" if spec.kind == "mailbox" else f"http://{host}:{port}/replies"
    try:
        yield url
    finally:
        code = server.stop()
        say(f"collection system stopped (exit {code})")


def stored_event_ids(store: Path) -> tuple[np.ndarray[Any, Any], int]:
    """Event id of every row in the store's replies and deliveries that names one (one
    entry per row), and the number of rows."""
    conn = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    try:
        keys = [
            k
            for (k,) in conn.execute(
                "SELECT idem_key FROM replies UNION ALL SELECT idem_key FROM deliveries"
            )
        ]
    finally:
        conn.close()
    ids = [int(m.group(1) or m.group(2)) for k in keys if (m := _EVENT_KEY.search(k))]
    return np.array(ids, dtype=np.int64), len(keys)


def check_store(results: pa.Table, store: Path) -> StoreCheck:
    """Is every acknowledged event in the store, once?"""
    acked = column(results, "event_id")[np.isin(column(results, "outcome"), ACKNOWLEDGED)]
    stored_ids, rows = stored_event_ids(store)
    return tally_ids(acked, stored_ids, rows, store.name)


def stored_fanout(store: Path) -> np.ndarray[Any, np.dtype[np.int64]]:
    """Recipients per stored delivery row, as the mailbox counted them."""
    conn = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT rcpt_count FROM deliveries").fetchall()
    finally:
        conn.close()
    return np.array([r for (r,) in rows], dtype=np.int64)
