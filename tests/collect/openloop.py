"""A small load client for the overload tests: closed-loop capacity, open-loop offered load.

Theory of operation: `closed_loop` runs `workers` loops that each send the next request
as soon as the last one is answered; the acknowledgements per second after a warm-up
are the server's capacity. `open_loop` sends event i at `start + i / rate` whether or
not earlier events were answered, so a slow server sees the whole offered rate instead
of slowing the client down (no coordinated omission). Both are bounded in count and in
time. In-flight requests are capped; an event that falls due while the cap is reached
is counted as `skipped`, not delayed, so the client never turns closed-loop.

A `send(i)` callable delivers event i and returns its answer (HTTP status or SMTP
code) and whether it was acknowledged; `HttpSender` and `SmtpSender` implement it for
the API and the mailbox and keep every acknowledged store key.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

Send = Callable[[int], Awaitable[int]]  # event index -> answer code (0: no answer)


@dataclass
class Tally:
    """What a load phase came to."""

    answers: Counter[int] = field(default_factory=Counter)
    acked: list[str] = field(default_factory=list)  # store keys of acknowledged events
    sent: int = 0
    skipped: int = 0  # due while the in-flight cap was reached
    elapsed_s: float = 0.0

    @property
    def offered_per_s(self) -> float:
        return self.sent / self.elapsed_s if self.elapsed_s else 0.0


async def closed_loop(send: Send, ok: int, workers: int, seconds: float) -> float:
    """Answers `ok` per second from `workers` back-to-back loops, after a short warm-up."""
    warm_up = min(0.5, seconds / 3)
    start = time.monotonic()
    counted = [0, 0]  # [acknowledged after the warm-up, next event index]

    async def worker() -> None:
        while time.monotonic() < start + seconds and counted[1] < 1_000_000:
            counted[1] += 1
            code = await send(counted[1])
            if code == ok and time.monotonic() > start + warm_up:
                counted[0] += 1

    await asyncio.gather(*(worker() for _ in range(workers)))
    return counted[0] / (time.monotonic() - start - warm_up)


async def open_loop(
    send: Send, tally: Tally, rate: float, seconds: float, max_in_flight: int, grace_s: float = 30
) -> None:
    """Offer `rate` events per second for `seconds`, open-loop, then wait for the answers."""
    count = int(rate * seconds)
    in_flight: set[asyncio.Task[int]] = set()
    start = time.monotonic()
    for i in range(count):
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        if time.monotonic() - start > seconds + 1.0:  # hopelessly behind: stop offering
            break
        if len(in_flight) >= max_in_flight:
            tally.skipped += 1
            continue
        task = asyncio.create_task(send(i))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
        tally.sent += 1
    tally.elapsed_s = time.monotonic() - start
    if in_flight:
        await asyncio.wait(set(in_flight), timeout=grace_s)
    for task in list(in_flight):
        task.cancel()


def reply_text(size: int) -> str:
    """A rule-abiding bullet reply of about `size` characters."""
    bullet = "- reviewed the quarterly plan and closed open items\n"
    return (bullet * (size // len(bullet) + 1))[:size].rstrip("\n")


class HttpSender:
    """POST replies to the collection API; keeps Retry-After of every 429/503."""

    def __init__(self, http: aiohttp.ClientSession, token: str, sender: str, text: str) -> None:
        self.http = http
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.sender = sender
        self.text = text
        self.prefix = "p"
        self.tally = Tally()
        self.retry_after: Counter[str | None] = Counter()

    def body(self, key: str) -> bytes:
        reply = {"sender": self.sender, "round": "r1", "to": "hr@opm.example"}
        reply.update({"body": self.text, "idempotency_key": key})
        return json.dumps(reply).encode()

    async def __call__(self, i: int) -> int:
        return await self.post(f"{self.prefix}-{i}")

    async def post(self, key: str) -> int:
        try:
            async with self.http.post("/replies", data=self.body(key), headers=self.headers) as r:
                await r.read()
                status = r.status
                if status in (429, 503):
                    self.retry_after[r.headers.get("Retry-After")] += 1
        except (aiohttp.ClientError, OSError, TimeoutError):
            status = 0
        self.tally.answers[status] += 1
        if status == 201:
            self.tally.acked.append(f"api:DHS:{self.sender}/{key}")  # the token is DHS's
        return status


class SmtpSender:
    """Pipelined SMTP transactions over a pool of reused sessions."""

    def __init__(self, port: int, sender: str, rcpts: list[str], text: str) -> None:
        self.port = port
        self.sender = sender
        self.rcpts = rcpts
        self.text = text.replace("\n", "\r\n").encode()
        self.prefix = "p"
        self.collection = "opm-hr"  # the collection id of the first recipient
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.opened: list[asyncio.StreamWriter] = []
        self.tally = Tally()
        self.finals: Counter[str] = Counter()  # final replies, text included (e.g. 451 4.3.0)
        cmds = f"MAIL FROM:<{sender}>\r\n" + "".join(f"RCPT TO:<{r}>\r\n" for r in rcpts)
        self.envelope = (cmds + "DATA\r\n").encode()

    async def _session(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.idle:
            return self.idle.pop()
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.opened.append(writer)
        await _reply(reader)  # 220
        writer.write(b"EHLO overload.example\r\n")
        await _reply(reader)
        return reader, writer

    async def __call__(self, i: int) -> int:
        message_id = f"<{self.prefix}-{i}@overload.example>"
        try:
            code = await self._transaction(message_id)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError):
            code = 0
        self.tally.answers[code] += 1
        if code == 250:  # the mailbox's key: channel, principal, Message-ID, collection
            self.tally.acked.append(f"smtp:anon/{message_id}#{self.collection}")
        return code

    async def _transaction(self, message_id: str) -> int:
        reader, writer = await self._session()
        writer.write(self.envelope)
        answers = [await _reply(reader) for _ in range(len(self.rcpts) + 2)]
        if not answers[-1].startswith("354"):
            self.idle.append((reader, writer))
            return int(answers[-1][:3])
        head = f"From: <{self.sender}>\r\nMessage-ID: {message_id}\r\n\r\n".encode()
        writer.write(head + self.text + b"\r\n.\r\n")
        final = await _reply(reader)
        self.finals[final[:9]] += 1
        self.idle.append((reader, writer))
        return int(final[:3])

    async def close(self) -> None:
        for writer in self.opened:
            writer.close()
            with contextlib.suppress(OSError, ConnectionError):
                await writer.wait_closed()


async def _reply(reader: asyncio.StreamReader) -> str:
    while True:
        line = (await asyncio.wait_for(reader.readline(), 30)).decode("ascii", "replace")
        if not line:
            raise asyncio.IncompleteReadError(b"", None)
        if line[3:4] != "-":
            return line.rstrip("\r\n")


def rss_kib(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a process in KiB: resident now and its peak so far."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0])
    return fields["VmRSS"], fields["VmHWM"]
