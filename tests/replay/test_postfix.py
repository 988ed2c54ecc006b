"""Replay against a real MTA: Debian's Postfix on a loopback port, delivering to a Maildir.

Every recipient Postfix acknowledged must turn up as one delivered file, and every
acknowledged transaction must have been recorded as acknowledged by the replay.
"""

import asyncio
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from simulator.replay import ReplayOptions, replay
from simulator.replay.smtp import SmtpTarget
from simulator.traffic.payload import Payload
from tests.replay.postfix_instance import PostfixInstance, unavailable
from tests.replay.tables import schedule, workforce

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REASON = unavailable()


@pytest.fixture
def postfix() -> Iterator[PostfixInstance]:
    if REASON:
        pytest.skip(REASON)
    # Not under pytest's tmp_path: its parents are private to root and the postfix
    # user must reach the Maildir.
    instance = PostfixInstance(Path(tempfile.mkdtemp(prefix="pulsecheck-postfix-")))
    instance.start()
    try:
        yield instance
    finally:
        instance.stop()


def _wait_for_deliveries(instance: PostfixInstance, expected: int, limit_s: float) -> int:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline and instance.delivered() < expected:
        time.sleep(0.2)
    time.sleep(1.0)  # anything extra would show up now
    return instance.delivered()


async def test_acknowledged_equals_delivered(postfix: PostfixInstance) -> None:
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
    target = SmtpTarget("127.0.0.1", postfix.port, 10.0)
    result = await asyncio.wait_for(replay(events, wf, target, options), 60)

    outcomes = result.results.column("outcome").to_pylist()
    payload = Payload(events, wf, options.collections)
    acknowledged_rcpts = sum(
        len(payload.smtp_message(i).rcpts) for i, o in enumerate(outcomes) if o in ("ok", "late")
    )
    assert result.summary["acknowledged"] == len(kinds), result.summary["outcomes"]
    assert acknowledged_rcpts == 5 * 40 + 150 * 2 + 5
    delivered = await asyncio.to_thread(_wait_for_deliveries, postfix, acknowledged_rcpts, 60)
    assert delivered == acknowledged_rcpts, postfix.log()
