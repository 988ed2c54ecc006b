"""A scaled-down storm as an event table the replay engine can send.

Theory of operation: replaying a 1M-member storm delivery by delivery is out of reach, so
the scenario is scaled to a small list (`scale_down`): the list, the MTA capacity and the
reaction rate per copy are scaled so each post still provokes as many replies as on the
full list, as far as a rate per copy of at most 1 allows (tiny lists cap the branching).
One seeded run becomes rows of `simulator.columns.SCHEDULE`: the original as a
"broadcast" to the list (ids 0..n-1), every list post as a "reply" from a member with
`rcpt_first = 0` and `rcpt_count = n` (its fan-out) and content "reply_all", a post
the defences refused as a "bounce" (one delivery), and the out-of-office answers and read
receipts the storm provokes as "auto_reply" events (one delivery each, to the list's
sender address). Times are spread uniformly inside each minute. The table is bounded by
`max_events`. `list_workforce` gives the directory the mailbox admits: n synthetic
employees as the members (ids 0..n-1), then the list's sender.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import replace

import numpy as np
import pyarrow as pa

from simulator.columns import NO_ID, SCHEDULE
from simulator.replyall.params import ReplyAllScenario
from simulator.replyall.process import simulate

COLLECTION = "replyall-list"
ROUND = "replyall"


def scale_down(sc: ReplyAllScenario, list_size: int) -> ReplyAllScenario:
    """The same storm on a list of `list_size` members (rates scaled to keep branching).

    Limits counted in recipients scale with the list, so a defence that acts on the full
    list acts on the small one too: Exchange protection's minimum thread size and the
    sender's daily recipient budget.
    """
    f = list_size / sc.list_size
    d = sc.defences
    exchange = d.exchange_protection
    budget = d.sender_rate_limit
    defences = replace(
        d,
        exchange_protection=replace(
            exchange, min_recipients=max(1, math.ceil(exchange.min_recipients * f))
        ),
        sender_rate_limit=replace(
            budget, recipients_per_day=max(1, round(budget.recipients_per_day * f))
        ),
    )
    b = sc.behaviour.at_size(sc.list_size)  # the full list's propensities, then scaled
    names = ("remove_rate", "stop_rate", "metoo_rate", "joke_rate")
    top = max(getattr(b, k) for k in names) or 1.0
    up = min(1.0 / f, 1.0 / top)  # a rate per copy cannot pass 1: branching is capped
    rates = {k: getattr(b, k) * up for k in names}
    return replace(
        sc,
        list_size=list_size,
        behaviour=replace(b, **rates),
        mta=replace(sc.mta, capacity_per_s=sc.mta.capacity_per_s * f),
        defences=defences,
    )


def _times(send: dt.datetime, minutes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    base = np.datetime64(send.astimezone(dt.UTC).replace(tzinfo=None), "us")
    offsets = (minutes * 60 + rng.uniform(0, 60, minutes.size)) * 1e6
    out: np.ndarray = base + offsets.astype("timedelta64[us]")
    return out


def _counts(series: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    whole = np.floor(series)
    counts: np.ndarray = (whole + (rng.random(series.size) < series - whole)).astype(np.int64)
    return counts


def storm_events(sc: ReplyAllScenario, seed: int = 0, max_events: int = 200_000) -> pa.Table:
    """One seeded run of `sc` as a SCHEDULE table (raises ValueError past `max_events`)."""
    run = simulate(sc, 1, seed)
    rng = np.random.default_rng(seed)
    n = sc.list_size
    post_kb = sc.sizes.post_kb(sc.behaviour)
    series = run.series
    list_n = _counts(series["list_posts"][0] + series["recalls"][0], rng)
    bounce_n = _counts(series["rejected_posts"][0], rng)
    auto = np.maximum(series["single_deliveries"][0] - series["rejected_posts"][0], 0.0)
    auto_n = _counts(auto, rng)
    total = 1 + int(list_n.sum() + bounce_n.sum() + auto_n.sum())
    if total > max_events:
        raise ValueError(f"storm has {total} events, more than max_events={max_events}")
    minutes = np.arange(list_n.size)
    m_list = np.repeat(minutes, list_n)
    m_single = np.concatenate([np.repeat(minutes, bounce_n), np.repeat(minutes, auto_n)])
    t = np.concatenate(
        [
            [np.datetime64(sc.send_time.astimezone(dt.UTC).replace(tzinfo=None), "us")],
            _times(sc.send_time, m_list, rng),
            _times(sc.send_time, m_single, rng),
        ]
    )
    k = 1 + m_list.size
    kind = np.array(
        ["broadcast"]
        + ["reply"] * m_list.size
        + ["bounce"] * int(bounce_n.sum())
        + ["auto_reply"] * int(auto_n.sum())
    )
    sender = np.concatenate([[NO_ID], rng.integers(0, n, t.size - 1)])
    first = np.where(np.arange(t.size) < k, 0, NO_ID)
    count = np.where(np.arange(t.size) < k, n, 1)
    content = np.select(
        [kind == "broadcast", kind == "reply", kind == "bounce"],
        ["broadcast", "reply_all", "dsn"],
        "auto_reply",
    )
    size = (
        np.where(
            kind == "broadcast",
            sc.sizes.original_kb,
            np.where(kind == "reply", post_kb, sc.sizes.auto_kb),
        )
        * 1000
    )
    order = np.argsort(t, kind="stable")
    return _table(
        t[order],
        kind[order],
        sender[order],
        first[order],
        count[order],
        content[order],
        size[order],
    )


def _table(t, kind, sender, first, count, content, size) -> pa.Table:  # type: ignore[no-untyped-def]
    n = t.size
    cols = {
        "event_id": pa.array(np.arange(n, dtype=np.int64)),
        "t_intended": pa.array(t, type=pa.timestamp("us", tz="UTC")),
        "round": pa.array([ROUND] * n).dictionary_encode(),
        "kind": pa.array(kind.tolist()).dictionary_encode(),
        "sender_id": pa.array(sender.astype(np.int32)),
        "rcpt_first": pa.array(first.astype(np.int32)),
        "rcpt_count": pa.array(count.astype(np.int32)),
        "collection": pa.array([COLLECTION] * n).dictionary_encode(),
        "cc_id": pa.array(np.full(n, NO_ID, dtype=np.int32)),
        "agency": pa.array([""] * n).dictionary_encode(),
        "content": pa.array(content.tolist()).dictionary_encode(),
        "violation": pa.array([""] * n).dictionary_encode(),
        "size_bytes": pa.array(size.astype(np.int32)),
    }
    return pa.table(cols).cast(SCHEDULE)


def list_workforce(sc: ReplyAllScenario, seed: int = 0) -> pa.Table:
    """The members (ids 0..n-1, synthetic employees) and then the list's sender (id n)."""
    from simulator.workforce import build_workforce, load_tables

    n = sc.list_size
    tables = load_tables(None)
    headcount = sum(d.headcount for d in tables.departments)
    people = build_workforce(min(1.0, 2.0 * (n + 1) / headcount), seed, tables)
    if people.num_rows < n + 1:
        raise ValueError(f"list_size {n} is more than the workforce holds")
    people = people.slice(0, n + 1)
    emails = people.column("email").to_pylist()
    emails[n] = sc.sender
    return people.set_column(
        people.schema.get_field_index("email"), "email", pa.array(emails, pa.string())
    )
