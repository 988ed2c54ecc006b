"""Replay against a real MTA: the mail stack's Postfix on a loopback port, delivering over
LMTP into a Dovecot Maildir per address (tests/mailstack.py).

Every recipient of every message Postfix acknowledged must turn up exactly once in that
recipient's own mailbox (found by the replay's Message-ID), and every acknowledged
transaction must have been recorded as acknowledged by the replay.
"""

import asyncio
import re
import time
from collections import Counter

import pytest

from simulator.collect.mailstack import MailStack
from simulator.replay import ReplayOptions, replay
from simulator.replay.smtp import SmtpTarget
from simulator.traffic.payload import Payload
from tests.mailstack import StackFactory
from tests.replay.tables import schedule, workforce

pytestmark = [pytest.mark.integration, pytest.mark.slow]

_MESSAGE_ID = re.compile(rb"^Message-ID: <(\d+)\.\d+@pulsecheck\.example>", re.M | re.I)


def _stored(stack: MailStack) -> Counter[tuple[str, int]]:
    """(mailbox, event id) -> copies stored, over every mailbox of the stack."""
    found: Counter[tuple[str, int]] = Counter()
    for address in stack.users:
        for path in stack.messages(address):
            match = _MESSAGE_ID.search(path.read_bytes())
            found[address, int(match.group(1)) if match else -1] += 1
    return found


def _wait_for_deliveries(
    stack: MailStack, expected: int, limit_s: float
) -> Counter[tuple[str, int]]:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline and sum(_stored(stack).values()) < expected:
        time.sleep(0.2)
    time.sleep(1.0)  # anything extra would show up now
    return _stored(stack)


async def test_acknowledged_equals_delivered(mailstack_factory: StackFactory) -> None:
    kinds = ["broadcast"] * 5 + ["reply"] * 150 + ["auto_reply"] * 3 + ["bounce"] * 2
    n_other = len(kinds) - 5
    events = schedule(
        kinds,
        gap_us=2000,
        rcpt_first=[0, 40, 80, 120, 160] + [-1] * n_other,
        rcpt_count=[40] * 5 + [2] * 150 + [1] * 5,
    )
    wf = workforce(300)
    options = ReplayOptions(concurrency=10, speedup=2.0, collections={"opm": "hr@opm.example"})
    addresses = wf.column("email").to_pylist()
    stack = mailstack_factory(users=[*addresses, "hr@opm.example", options.broadcast_sender])
    target = SmtpTarget("127.0.0.1", stack.smtp_port, 10.0)
    result = await asyncio.wait_for(replay(events, wf, target, options), 60)

    outcomes = result.results.column("outcome").to_pylist()
    payload = Payload(events, wf, options.collections)
    expected = Counter(
        (rcpt, i)
        for i, o in enumerate(outcomes)
        if o in ("ok", "late")
        for rcpt in payload.smtp_message(i).rcpts
    )
    assert result.summary["acknowledged"] == len(kinds), result.summary["outcomes"]
    assert sum(expected.values()) == 5 * 40 + 150 * 2 + 5
    stored = await asyncio.to_thread(_wait_for_deliveries, stack, sum(expected.values()), 60)
    assert stored == expected, stack.log()
