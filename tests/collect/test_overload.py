"""Overload at 3x measured capacity: shed with Retry-After / 451, bounded RSS, no crash.

Each server runs for real on 127.0.0.1 in a child process (so its RSS can be read from
/proc/<pid>/status) over a store whose group commit is held for a fixed time: a slow
disk of known speed, so capacity is set by the store and not by how busy this machine
is. The test first measures capacity closed-loop, then offers 3x that rate open-loop
for a few seconds (bounded in count and time), then checks:
- the server shed load: API 503 with Retry-After, mailbox 451 4.3.0 "mail store busy";
- every acknowledged reply is in the store, and nothing but acks and sheds came back;
- its peak RSS (VmHWM) stays under a bound computed from the queue bound;
- it still answers afterwards (a new reply is stored, a repeat is a repeat) and a
  SIGTERM stops it cleanly.
No assertion depends on how fast anything ran.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import aiohttp
import pytest

from simulator.collect.directory import Directory
from simulator.collect.servers import ServerProcess, ServerSpec
from simulator.rules import ContentRules
from simulator.tokens import mint_token

from .openloop import HttpSender, SmtpSender, Tally, closed_loop, open_loop, reply_text, rss_kib

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SECRET = b"overload-secret-0123456789abcdef"
SENDER, MANAGER = "a@dhs.example", "b@dhs.example"
MAX_PENDING = 64  # the store's write-queue bound
MAX_BATCH = 8  # records per group commit
COMMIT_DELAY_S = 0.04  # each commit is held this long: capacity <= 8 / 0.04 = 200/s
CLOSED_LOOP_WORKERS = 32  # < MAX_PENDING: measuring capacity sheds nothing
OVERLOAD = 3.0
OFFER_SECONDS = 3.0
MAX_IN_FLIGHT = 256  # client cap on open requests / SMTP sessions
TEXT_CHARS = 16_000  # near the API's 20,000-character limit, so a backlog would show

# The RSS bound, from the queue bound: each queued record may hold a few copies of its
# request (bytes read, decoded text, the stored record); each client connection gets a
# budget for its buffers and the one request being read; the allocator gets some slack.
# The client caps its connections, so a server without a queue bound would not show
# here as memory but as no shedding at all, which the shed assertions catch.
COPIES_PER_RECORD = 6
PER_CONNECTION_BYTES = 64 * 1024
ALLOCATOR_SLACK_BYTES = 24 * 2**20


def rss_bound(baseline_kib: int, request_bytes: int) -> int:
    """Bytes the server may use: baseline + queued records + connections + slack."""
    queued = MAX_PENDING * COPIES_PER_RECORD * request_bytes
    connections = MAX_IN_FLIGHT * PER_CONNECTION_BYTES
    return baseline_kib * 1024 + queued + connections + ALLOCATOR_SLACK_BYTES


def spec(kind: str, db: Path) -> ServerSpec:
    return ServerSpec(
        kind,
        str(db),
        {"r1": ContentRules()},
        Directory([(SENDER, "DHS"), (MANAGER, "DHS")]),
        collections=[("opm-hr", "hr@opm.example", None)],
        secret=SECRET,
        max_pending=MAX_PENDING,
        max_batch=MAX_BATCH,
        commit_delay_s=COMMIT_DELAY_S,
    )


def stored_keys(db: Path) -> set[str]:
    with sqlite3.connect(db) as conn:
        return {row[0] for row in conn.execute("SELECT idem_key FROM replies")}


def report(kind: str, capacity: float, load: Tally, rss: tuple[int, int, int]) -> None:
    baseline, peak, bound = rss
    print(
        f"\n{kind}: capacity {capacity:.0f}/s closed-loop; offered {OVERLOAD:g}x = "
        f"{OVERLOAD * capacity:.0f}/s for {OFFER_SECONDS:g} s: sent {load.sent} "
        f"({load.offered_per_s:.0f}/s achieved), skipped {load.skipped}, answers "
        f"{dict(sorted(load.answers.items()))}; RSS baseline {baseline >> 10} MiB, "
        f"peak {peak >> 10} MiB, bound {bound >> 20} MiB"
    )


async def test_api_sheds_at_3x_capacity_with_bounded_rss(tmp_path: Path) -> None:
    db = tmp_path / "api.db"
    server = ServerProcess(spec("api", db))
    server.start()
    assert server.process.pid is not None
    token = mint_token(SECRET, "DHS")
    text = reply_text(TEXT_CHARS)
    try:
        connector = aiohttp.TCPConnector(limit=MAX_IN_FLIGHT)
        base = f"http://127.0.0.1:{server.port}"
        async with aiohttp.ClientSession(base, connector=connector) as http:
            probe = HttpSender(http, token, SENDER, text)
            probe.prefix = "capacity"
            capacity = await closed_loop(probe, 201, CLOSED_LOOP_WORKERS, seconds=2.0)
            baseline, _ = rss_kib(server.process.pid)
            load = HttpSender(http, token, SENDER, text)
            load.prefix = "overload"
            await open_loop(load, load.tally, OVERLOAD * capacity, OFFER_SECONDS, MAX_IN_FLIGHT)
            _, peak = rss_kib(server.process.pid)
            await still_answers_http(http, token, load.tally.acked[0])
        assert server.process.is_alive()
    finally:
        exit_code = server.stop()
    bound = rss_bound(baseline, len(load.body("overload-0")))
    report("api", capacity, load.tally, (baseline, peak, bound))
    assert exit_code == 0  # SIGTERM drained and closed cleanly: it never crashed
    shed = load.tally.answers[503]
    assert shed > 0 and load.tally.answers[201] > 0  # it shed, and kept storing
    assert set(load.tally.answers) <= {201, 503}
    assert load.retry_after == {"1": shed}  # every 503 said when to come back
    assert set(probe.tally.acked + load.tally.acked) <= stored_keys(db)
    assert peak * 1024 <= bound


async def still_answers_http(http: aiohttp.ClientSession, token: str, acked: str) -> None:
    """After the storm: a new reply is stored (201), an acknowledged one is a repeat (200)."""
    after = HttpSender(http, token, SENDER, "- still here")
    after.prefix = "after"
    for attempt in range(200):  # the queue drains in well under a second; bounded anyway
        if await after(attempt) == 201:
            break
        await asyncio.sleep(0.05)
    assert after.tally.answers[201] == 1
    assert await after.post(acked.split("/", 1)[1]) == 200


async def test_mailbox_answers_451_at_3x_capacity_with_bounded_rss(tmp_path: Path) -> None:
    db = tmp_path / "mail.db"
    server = ServerProcess(spec("mailbox", db))
    server.start()
    assert server.process.pid is not None
    text = reply_text(TEXT_CHARS)
    rcpts = ["hr@opm.example", MANAGER]
    probe = SmtpSender(server.port, SENDER, rcpts, text)
    load = SmtpSender(server.port, SENDER, rcpts, text)
    try:
        probe.prefix = "capacity"
        capacity = await closed_loop(probe, 250, CLOSED_LOOP_WORKERS, seconds=2.0)
        baseline, _ = rss_kib(server.process.pid)
        load.prefix = "overload"
        await open_loop(load, load.tally, OVERLOAD * capacity, OFFER_SECONDS, MAX_IN_FLIGHT)
        _, peak = rss_kib(server.process.pid)
        await still_answers_smtp(server.port, text)
        assert server.process.is_alive()
    finally:
        await probe.close()
        await load.close()
        exit_code = server.stop()
    bound = rss_bound(baseline, len(load.text) + 200)
    report("mailbox", capacity, load.tally, (baseline, peak, bound))
    print(f"mailbox final replies: {dict(load.finals)}; sessions opened {len(load.opened)}")
    assert exit_code == 0
    assert load.tally.answers[451] > 0 and load.tally.answers[250] > 0
    assert set(load.tally.answers) <= {250, 451}
    assert load.finals["451 4.3.0"] == load.tally.answers[451]  # "mail store busy"
    assert set(probe.tally.acked + load.tally.acked) <= stored_keys(db)
    assert peak * 1024 <= bound


async def still_answers_smtp(port: int, text: str) -> None:
    after = SmtpSender(port, SENDER, ["hr@opm.example"], "- still here")
    after.prefix = "after"
    try:
        for attempt in range(200):
            if await after(attempt) == 250:
                break
            await asyncio.sleep(0.05)
    finally:
        await after.close()
    assert after.tally.answers[250] == 1
