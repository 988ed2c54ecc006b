"""The mail transfer agent: a delivery capacity and a queue in front of it.

Theory of operation: every message to the list becomes one delivery per member, queued
at the MTA, which makes at most `capacity_per_s` deliveries a second. The original
broadcast sits at the head of the queue; later list copies and single deliveries (out-of-
office answers, read receipts, non-delivery reports) share the rest in proportion, a
counts-level stand-in for first-in first-out. Beyond `queue_limit` the MTA defers new
submissions, so the backlog sits in senders' outboxes instead of its queue.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]


@dataclass(frozen=True)
class Mta:
    capacity_per_s: float = 50_000.0  # deliveries a second
    queue_limit: float = 5_000_000.0  # deliveries held before submissions are deferred


@dataclass
class Queue:
    """Backlog of deliveries per run, by what they carry."""

    original: F64
    posts: F64
    recalls: F64
    single: F64  # one-recipient messages: auto answers, receipts, reports

    def total(self) -> F64:
        return self.original + self.posts + self.recalls + self.single


def deliver(queue: Queue, capacity: F64) -> tuple[F64, F64, F64, F64]:
    """Take up to `capacity` deliveries off the queue; returns (original, posts, recalls,
    single) delivered this step and updates the queue in place."""
    d_orig = np.minimum(queue.original, capacity)
    room = capacity - d_orig
    rest = queue.posts + queue.recalls + queue.single
    take = np.minimum(rest, room)
    share = np.divide(take, rest, out=np.zeros_like(take), where=rest > 0)
    d_posts, d_recalls, d_single = queue.posts * share, queue.recalls * share, queue.single * share
    queue.original -= d_orig
    queue.posts -= d_posts
    queue.recalls -= d_recalls
    queue.single -= d_single
    return d_orig, d_posts, d_recalls, d_single


def split_queue(backlog: F64, queue_limit: float) -> tuple[F64, F64]:
    """Backlog held in the MTA queue and the part deferred to senders' outboxes."""
    held = np.minimum(backlog, queue_limit)
    return held, backlog - held
