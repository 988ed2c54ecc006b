"""Slow or greedy clients cannot hold the mailbox: time limits, a per-address cap, a
global budget for buffered input.

The limits are small here (1 s, 5 sessions, 300 kB) so the tests run fast; every load
loop is bounded in count and time, and nothing asserts how fast anything ran.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from simulator.collect import mailbox as mailbox_mod
from simulator.collect import store as store_mod
from simulator.collect.directory import Directory
from simulator.collect.servers import Running, running_mailbox

from .conftest import COLLECTIONS, ROUNDS, SmtpClient

pytestmark = pytest.mark.integration
ANN, CY = "ann.lee@dhs.example", "cy.diaz@dod.example"
LIMIT_S = 1.0
CAP = 5
BUDGET = 300_000
PATIENT = 4 * 2**20
# replies a session may hold unread: the write high-water mark plus one batch of EHLOs
WRITE_BOUND = mailbox_mod.WRITE_HIGH_WATER + mailbox_mod.FLUSH_EVERY * 200
ENVELOPE = f"EHLO slow\r\nMAIL FROM:<{ANN}>\r\nRCPT TO:<hr@opm.example>\r\nDATA\r\n".encode()


@pytest.fixture
async def server(tmp_path: Path, directory: Directory) -> AsyncIterator[Running]:
    async with running_mailbox(
        tmp_path / "db",
        directory,
        ROUNDS,
        collections=COLLECTIONS,
        command_timeout=LIMIT_S,
        data_timeout=LIMIT_S,
        max_sessions_per_client=CAP,
        max_buffered_bytes=BUDGET,
        max_message_bytes=100_000,
    ) as srv:
        yield srv


async def drip(srv: Running, before: bytes, byte: bytes) -> str:
    """Connect, send `before`, then one `byte` every 50 ms (at most 200) until the server
    closes; everything the server said."""
    reader, writer = await asyncio.open_connection(srv.host, srv.port)
    writer.write(before)
    heard = b""
    try:
        for _ in range(200):
            with contextlib.suppress(TimeoutError):
                chunk = await asyncio.wait_for(reader.read(4096), 0.05)
                if not chunk:
                    break
                heard += chunk
            writer.write(byte)
            await writer.drain()
    except (ConnectionError, OSError):
        heard += await _rest(reader)
    finally:
        writer.close()
    return heard.decode("ascii", "replace")


async def _rest(reader: asyncio.StreamReader) -> bytes:
    with contextlib.suppress(ConnectionError, OSError, TimeoutError):
        return await asyncio.wait_for(reader.read(), 1.0)
    return b""


async def stored_reply(srv: Running, tmp_path: Path, mid: str, local: str) -> None:
    smtp = await SmtpClient.connect(srv.host, srv.port, local=local)
    await smtp.send(b"EHLO legit\r\n")
    answers = await smtp.mail(CY, ["hr@opm.example"], b"- legit", f"Message-ID: {mid}\r\n".encode())
    await smtp.close()
    assert answers[-1].startswith("250"), answers
    reader = store_mod.open_reader(tmp_path / "db")
    keys = [k for (k,) in reader.execute("SELECT idem_key FROM replies WHERE sender = ?", (CY,))]
    assert f"smtp:anon/{mid}#opm-hr" in keys


async def test_slow_sessions_are_closed_and_capped_per_address(
    server: Running, tmp_path: Path
) -> None:
    attack = [drip(server, b"", b"N") for _ in range(CAP)]  # a command that never ends
    attack += [drip(server, ENVELOPE, b"x") for _ in range(CAP)]  # a DATA that never ends
    attack += [drip(server, b"", b"N") for _ in range(3 * CAP)]
    running = asyncio.gather(*attack)
    await asyncio.sleep(0.1)  # the attack has connected (a legit client needs no wait)
    await stored_reply(server, tmp_path, "<legit-1@x>", local="127.0.0.2")
    heard = await asyncio.wait_for(running, 30)
    capped = [h for h in heard if "421 4.7.0 too many sessions from your address" in h]
    slow_command = [h for h in heard if "421 4.4.2 command timeout" in h]
    slow_data = [h for h in heard if "421 4.4.2 DATA timeout" in h]
    assert len(capped) == len(attack) - CAP  # only CAP sessions from 127.0.0.1 got in
    assert len(slow_command) + len(slow_data) == CAP  # and each was closed at its limit
    assert all("354" in h for h in slow_data)
    assert server.mailbox is not None and server.mailbox.per_client == {}
    await stored_reply(server, tmp_path, "<legit-2@x>", local="127.0.0.1")


Attacker = tuple[str, asyncio.StreamReader, asyncio.StreamWriter]


async def attacker(srv: Running, size: int) -> Attacker:
    """A session that starts DATA and sends `size` bytes of it, never the end."""
    reader, writer = await asyncio.open_connection(srv.host, srv.port)
    writer.write(ENVELOPE)
    heard = b""
    while heard.count(b"\r\n") < 5 and b"452" not in heard:  # 220, EHLO, MAIL, RCPT, DATA
        chunk = await asyncio.wait_for(reader.read(4096), 10)
        if not chunk:
            break
        heard += chunk
    if b"354" in heard:
        writer.write(b"y" * (size - 2) + b"\r\n")
        await writer.drain()
        heard += await _settled(reader, 0.2)
    return heard.decode("ascii", "replace"), reader, writer


async def _settled(reader: asyncio.StreamReader, wait_s: float) -> bytes:
    """Wait (bounded) until the server has taken in what was sent, or answered."""
    with contextlib.suppress(TimeoutError, ConnectionError, OSError):
        return await asyncio.wait_for(reader.read(4096), wait_s)
    return b""


async def final_words(held: Attacker) -> str:
    """What an attacker heard, including a late 421 (bounded wait)."""
    text, reader, _ = held
    if "452" in text or "421" in text:
        return text
    return text + (await _settled(reader, 1.0)).decode("ascii", "replace")


async def test_buffered_input_stays_within_the_budget(tmp_path: Path, directory: Directory) -> None:
    async with running_mailbox(
        tmp_path / "db",
        directory,
        ROUNDS,
        collections=COLLECTIONS,
        max_buffered_bytes=BUDGET,
        max_message_bytes=100_000,
    ) as srv:
        assert srv.mailbox is not None
        held = [await attacker(srv, 60_000) for _ in range(8)]
        answers = await asyncio.gather(*(final_words(h) for h in held))
        assert srv.mailbox.buffered_peak <= BUDGET
        refused = [a for a in answers if "452 4.3.1" in a or "421 4.3.1" in a]
        assert len(refused) >= 3  # 8 x 60 kB does not fit in 300 kB
        smtp = await SmtpClient.connect(srv.host, srv.port)
        await smtp.send(b"EHLO t\r\n")
        busy = await smtp.mail(CY, ["hr@opm.example"], b"- legit")
        assert busy[-1].startswith(("452 4.3.1", "250"))  # a temporary refusal, or room
        for _, _, writer in held:
            writer.close()
        for _ in range(200):  # the server sees the closes (bounded wait)
            if srv.mailbox.buffered == 0:
                break
            await asyncio.sleep(0.02)
        assert srv.mailbox.buffered == 0
        ok = await smtp.mail(CY, ["hr@opm.example"], b"- legit", b"Message-ID: <ok@x>\r\n")
        assert ok[-1].startswith("250")
        await smtp.close()
        assert srv.mailbox.buffered_peak <= BUDGET


@pytest.fixture
async def patient(tmp_path: Path, directory: Directory) -> AsyncIterator[Running]:
    """A mailbox with the default time limits (a stalled reader is not timed out here) and
    room for what the stalled session read before it was paused (one read, <= 256 KiB)."""
    async with running_mailbox(
        tmp_path / "db", directory, ROUNDS, collections=COLLECTIONS, max_buffered_bytes=PATIENT
    ) as srv:
        yield srv


async def test_a_client_that_does_not_read_is_not_read_either(
    patient: Running, tmp_path: Path
) -> None:
    """1 MB of pipelined EHLOs ask for ~19 MB of replies; unread, they stay bounded."""
    server = patient
    assert server.mailbox is not None
    count = 125_000
    reader, writer = await asyncio.open_connection(server.host, server.port)
    writer.write(b"EHLO x\r\n" * count)  # queued client-side; the server reads what it can
    peak = 0
    for _ in range(100):  # bounded look while nobody reads (the bound holds at all times)
        for session in list(server.mailbox.sessions):
            if session.transport is not None:
                peak = max(peak, session.transport.get_write_buffer_size())
        await asyncio.sleep(0.02)
    assert peak <= WRITE_BOUND, peak
    assert server.mailbox.buffered_peak <= PATIENT
    await stored_reply(server, tmp_path, "<while-stalled@x>", local="127.0.0.2")
    last = b"250 ENHANCEDSTATUSCODES\r\n"
    answered, tail = 0, b""
    while answered < count:  # every command is answered once the client reads
        chunk = await asyncio.wait_for(reader.read(1 << 20), 30)
        assert chunk, "connection closed early"
        joined = tail + chunk
        answered += joined.count(last)
        tail = joined[-(len(last) - 1) :] if not joined.endswith(last) else b""
    assert answered == count
    writer.close()
