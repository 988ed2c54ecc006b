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
never answered is not. An event acknowledged with some recipients refused ("1 of 2 rcpt
refused": the cc'd manager took it, the collection mailbox was full) may or may not be
in the mailbox, since the results do not say which recipient was refused: such events
are `unsure`, neither lost when absent nor unaccounted for when present. A mailbox that
receives more than its own address (a catch-all, a list's archive) is checked only for
the events addressed to ADDRESS, and the rest of its mail counts as unaccounted for.

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
from typing import Any, NamedTuple

import numpy as np
import pyarrow as pa

from simulator.app.record import StoreCheck
from simulator.replay.engine import ReplayOptions
from simulator.replay.verify import Mark, VerifySpec, preflight, read_back
from simulator.report.summary import ACKNOWLEDGED, column
from simulator.traffic.outcomes import PARTLY_REFUSED
from simulator.traffic.payload import Payload

Say = Callable[[str], None]
_MESSAGE_ID = re.compile(r"<(\d+)\.(\d+)@pulsecheck\.example>", re.IGNORECASE)

__all__ = ["Expected", "expected_events", "preflight", "tally", "tally_ids", "verify_mailbox"]


def found_events(message_ids: Sequence[str], seed: int) -> np.ndarray[Any, np.dtype[np.int64]]:
    """Event ids of the messages this run's seed names, one entry per message."""
    ids = [
        int(m.group(1))
        for mid in message_ids
        if (m := _MESSAGE_ID.fullmatch(mid.strip())) and int(m.group(2)) == seed
    ]
    return np.array(ids, dtype=np.int64)


class Expected(NamedTuple):
    """Event ids a mailbox must hold, and those it may hold (acknowledged, partly refused)."""

    ids: np.ndarray[Any, np.dtype[np.int64]]
    unsure: np.ndarray[Any, np.dtype[np.int64]]


def tally(
    expected: np.ndarray[Any, Any],
    message_ids: Sequence[str],
    seed: int,
    source: str,
    unsure: np.ndarray[Any, Any] | None = None,
) -> StoreCheck:
    """Expected event ids against the Message-IDs found in the mailbox."""
    found = found_events(message_ids, seed)
    return tally_ids(expected, found, len(message_ids), source, unsure)


def tally_ids(
    expected: np.ndarray[Any, Any],
    found: np.ndarray[Any, Any],
    total: int,
    source: str,
    unsure: np.ndarray[Any, Any] | None = None,
) -> StoreCheck:
    """Expected event ids against the event ids found (one per stored copy) among `total`
    messages or rows; the rest of `total` is what no expected event accounts for, except
    copies of `unsure` events (which may or may not be there)."""
    want = np.unique(np.asarray(expected, dtype=np.int64))
    found = np.asarray(found, dtype=np.int64)
    if unsure is not None and len(unsure):
        maybe = np.isin(found, np.asarray(unsure, dtype=np.int64))
        total -= int(maybe.sum())
        found = found[~maybe]
    ids, counts = np.unique(found, return_counts=True)
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
) -> Expected:
    """Event ids that were acknowledged and addressed to `address` (`unsure`: those
    acknowledged with some of their recipients refused)."""
    payload = Payload(
        schedule, workforce, options.collections, options.broadcast_sender, options.seed
    )
    addressed = schedule.column("event_id").to_numpy()[payload.addressed_to(address)]
    ok = np.isin(column(results, "outcome"), ACKNOWLEDGED)
    errors = column(results, "error").astype(str)
    partly = ok & (np.char.find(errors, PARTLY_REFUSED) >= 0)
    event_id = column(results, "event_id").astype(np.int64)
    addressed = addressed.astype(np.int64)
    return Expected(
        np.intersect1d(event_id[ok & ~partly], addressed),
        np.intersect1d(event_id[partly], addressed),
    )


def verify_mailbox(
    spec: VerifySpec,
    mark: Mark | None,
    expected: Expected,
    seed: int,
    say: Say,
) -> StoreCheck:
    """Read the mailbox back (waiting up to `spec.wait_s` for late deliveries) and tally."""
    source = spec.label
    say(f"verify: reading {source} for {len(expected.ids):,} acknowledged events")
    if len(expected.unsure):
        say(
            f"verify: {len(expected.unsure):,} more acknowledged with some recipients "
            "refused are not checked (the results do not say which recipient)"
        )

    def enough(ids: list[str]) -> bool:
        return tally(expected.ids, ids, seed, source).missing == 0

    read = read_back(spec, mark, enough, say)
    check = tally(expected.ids, read.message_ids, seed, source, expected.unsure)
    if not read.complete:
        say(f"verify: stopped after {len(read.message_ids):,} messages (--verify limit)")
    say(
        f"verify: {check.stored:,} of {check.acknowledged:,} stored, {check.missing:,} lost, "
        f"{check.duplicates:,} duplicated, {check.extra_rows:,} messages unaccounted for"
        + (f" ({read.earlier:,} there before the run not read)" if read.earlier else "")
    )
    return check
