"""Shared fixtures: a small directory, rounds, collections and a raw SMTP client."""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from simulator.collect.directory import Directory
from simulator.collect.servers import Running
from simulator.collections import Collection
from simulator.rules import ContentRules
from simulator.tokens import mint_token

SECRET = b"test-secret-of-enough-length"
COLLECTIONS = [
    Collection("opm-hr", "hr@opm.example"),
    Collection("dhs-accountability", "accountability@hq.dhs.example", "DHS"),
    Collection("dod-consolidation", "consolidation@dod.example", "DOD"),
]
PEOPLE = [
    ("ann.lee@dhs.example", "DHS"),
    ("bo.chan@dhs.example", "DHS"),  # Ann's manager
    ("cy.diaz@dod.example", "DOD"),
    ("di.ford@dod.example", "DOD"),
]
ROUNDS = {
    "r1": ContentRules(),
    "r2": ContentRules(no_coworker_names=True, no_drug_or_contract_names=True),
}


@pytest.fixture
def directory() -> Directory:
    names = ["Ann Lee", "Bo Chan", "Cy Diaz", "Di Ford"]
    return Directory(PEOPLE, name_of=zip([email for email, _ in PEOPLE], names, strict=True))


class SmtpClient:
    """A minimal pipelining SMTP client over asyncio streams, for tests."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(cls, host: str, port: int, local: str | None = None) -> SmtpClient:
        """Connect (from the loopback address `local` if given) and read the greeting."""
        bind = None if local is None else (local, 0)
        reader, writer = await asyncio.open_connection(host, port, local_addr=bind)
        client = cls(reader, writer)
        greeting = await client.reply()
        assert greeting.startswith("220"), greeting
        return client

    async def reply(self) -> str:
        lines = []
        while True:
            line = (await asyncio.wait_for(self.reader.readline(), 10)).decode()
            lines.append(line.rstrip("\r\n"))
            if line[3:4] != "-":
                return "\n".join(lines)

    async def send(self, raw: bytes, replies: int = 1) -> list[str]:
        self.writer.write(raw)
        await self.writer.drain()
        return [await self.reply() for _ in range(replies)]

    async def auth(self, agency: str, secret: bytes = SECRET) -> str:
        """AUTH PLAIN as `agency` with its token; the server's reply."""
        plain = f"\0{agency}\0{mint_token(secret, agency)}".encode()
        return (await self.send(b"AUTH PLAIN " + base64.b64encode(plain) + b"\r\n"))[0]

    async def mail(
        self, sender: str, rcpts: list[str], body: bytes, headers: bytes = b""
    ) -> list[str]:
        """One pipelined transaction: returns the replies to MAIL, RCPTs, DATA and the end."""
        cmds = f"MAIL FROM:<{sender}>\r\n" + "".join(f"RCPT TO:<{r}>\r\n" for r in rcpts)
        answers = await self.send((cmds + "DATA\r\n").encode(), replies=len(rcpts) + 2)
        if not answers[-1].startswith("354"):
            return answers
        answers += await self.send(headers + b"\r\n" + body + b"\r\n.\r\n")
        return answers

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()


def body(**over: Any) -> dict[str, Any]:
    """A valid API reply from a DHS sender to the central mailbox, with fields overridden."""
    base = {
        "sender": "ann.lee@dhs.example",
        "round": "r1",
        "to": "hr@opm.example",
        "cc": ["bo.chan@dhs.example"],
        "subject": "Re: week",
        "bullets": ["did a", "did b"],
        "idempotency_key": "k-1",
    }
    base.update(over)
    return base


@contextlib.asynccontextmanager
async def api_session(
    tmp_path: Path, directory: Directory, **options: Any
) -> AsyncIterator[tuple[Running, Any]]:
    """The reference API on loopback with the test collections (and `options`), and a
    client session on it."""
    import aiohttp

    from simulator.collect.servers import running_api

    async with (
        running_api(
            tmp_path / "db", directory, ROUNDS, secret=SECRET, collections=COLLECTIONS, **options
        ) as srv,
        aiohttp.ClientSession(srv.url) as http,
    ):
        yield srv, http


@pytest.fixture
async def api(tmp_path: Path, directory: Directory) -> AsyncIterator[tuple[Running, Any]]:
    """The reference API on loopback with the test collections, and a client session."""
    async with api_session(tmp_path, directory) as pair:
        yield pair
