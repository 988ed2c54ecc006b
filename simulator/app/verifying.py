"""The read-back check: is every acknowledged event addressed to a mailbox in it, once?

Theory of operation: a collection system pulsecheck did not write (`--verify
imap://USER@HOST:PORT/MAILBOX`) is checked the way the reference store is: by the event
id each message carries in its Message-ID, `<EVENT.SEED@pulsecheck.example>`.

Which events the mailbox should hold follows the SMTP routing of the replay
(`Payload.addressed_to`): an event belongs to the mailbox of ADDRESS (the IMAP user, or
`--verify-address`) when ADDRESS is one of its recipients: a reply to the collection
address ADDRESS, a reply that cc's the employee ADDRESS, a broadcast or reply-all whose
recipient range includes ADDRESS, an auto-reply or bounce when ADDRESS is the broadcast
sender. Of those, the acknowledged ones are expected; an event the system refused or
never answered is not. A mailbox that receives more than its own address (a catch-all,
a list's archive) is checked only for the events addressed to ADDRESS, and the rest of
its mail counts as unaccounted for.

`tally` is the pure part: expected event ids and the Message-IDs read -> a `StoreCheck`
(stored: present at least once; lost: absent; duplicates: present more than once;
extra_rows: messages no expected event accounts for, including other runs' and
non-pulsecheck mail). `preflight` and `verify_mailbox` wire it to the IMAP reader
(`simulator.replay.verify`) around a replay; messages in the mailbox before the replay
(below its UIDNEXT then) are not read.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from simulator.app.record import StoreCheck
from simulator.replay.engine import ReplayOptions
from simulator.replay.verify import Mark, VerifySpec, preflight, read_back
from simulator.report.summary import ACKNOWLEDGED, column
from simulator.traffic.payload import Payload

Say = Callable[[str], None]
_MESSAGE_ID = re.compile(r"<(\d+)\.(\d+)@pulsecheck\.example>", re.IGNORECASE)

__all__ = ["expected_events", "preflight", "tally", "tally_ids", "verify_mailbox"]


def found_events(message_ids: Sequence[str], seed: int) -> np.ndarray[Any, np.dtype[np.int64]]:
    """Event ids of the messages this run's seed names, one entry per message."""
    ids = [
        int(m.group(1))
        for mid in message_ids
        if (m := _MESSAGE_ID.fullmatch(mid.strip())) and int(m.group(2)) == seed
    ]
    return np.array(ids, dtype=np.int64)


def tally(
    expected: np.ndarray[Any, Any], message_ids: Sequence[str], seed: int, source: str
) -> StoreCheck:
    """Expected event ids against the Message-IDs found in the mailbox."""
    return tally_ids(expected, found_events(message_ids, seed), len(message_ids), source)


def tally_ids(
    expected: np.ndarray[Any, Any], found: np.ndarray[Any, Any], total: int, source: str
) -> StoreCheck:
    """Expected event ids against the event ids found (one per stored copy) among `total`
    messages or rows; the rest of `total` is what no expected event accounts for."""
    want = np.unique(np.asarray(expected, dtype=np.int64))
    ids, counts = np.unique(np.asarray(found, dtype=np.int64), return_counts=True)
    at = np.searchsorted(ids, want)
    hit = at < ids.size
    hit[hit] = ids[at[hit]] == want[hit]
    copies = np.zeros(want.size, dtype=np.int64)
    copies[hit] = counts[at[hit]]
    return StoreCheck(
        acknowledged=int(want.size),
        stored=int((copies > 0).sum()),
        missing=int((copies == 0).sum()),
        extra_rows=total - int(copies.sum()),
        duplicates=int((copies > 1).sum()),
        source=source,
    )


def expected_events(
    results: pa.Table,
    schedule: pa.Table,
    workforce: pa.Table,
    options: ReplayOptions,
    address: str,
) -> np.ndarray[Any, np.dtype[np.int64]]:
    """Event ids that were acknowledged and addressed to `address`."""
    payload = Payload(
        schedule, workforce, options.collections, options.broadcast_sender, options.seed
    )
    addressed = schedule.column("event_id").to_numpy()[payload.addressed_to(address)]
    acked = column(results, "event_id")[np.isin(column(results, "outcome"), ACKNOWLEDGED)]
    return np.intersect1d(acked.astype(np.int64), addressed.astype(np.int64))


def verify_mailbox(
    spec: VerifySpec,
    mark: Mark | None,
    expected: np.ndarray[Any, Any],
    seed: int,
    say: Say,
) -> StoreCheck:
    """Read the mailbox back (waiting up to `spec.wait_s` for late deliveries) and tally."""
    source = spec.label
    say(f"verify: reading {source} for {len(expected):,} acknowledged events")

    def enough(ids: list[str]) -> bool:
        return tally(expected, ids, seed, source).missing == 0

    read = read_back(spec, mark, enough, say)
    check = tally(expected, read.message_ids, seed, source)
    if not read.complete:
        say(f"verify: stopped after {len(read.message_ids):,} messages (--verify limit)")
    say(
        f"verify: {check.stored:,} of {check.acknowledged:,} stored, {check.missing:,} lost, "
        f"{check.duplicates:,} duplicated, {check.extra_rows:,} messages unaccounted for"
        + (f" ({read.earlier:,} there before the run not read)" if read.earlier else "")
    )
    return check
