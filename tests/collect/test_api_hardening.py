"""The collection API against hostile input: bad text, claimed keys, slow clients, odd values."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from simulator.collect import store as store_mod
from simulator.collect.api import ApiConfig, build_app
from simulator.collect.directory import Directory
from simulator.collect.servers import Running, running_api, running_mailbox
from simulator.collect.store import NullStore
from simulator.collections import CollectionIndex
from simulator.tokens import mint_token

from .conftest import COLLECTIONS, ROUNDS, SECRET, SmtpClient, api_session, body

pytestmark = pytest.mark.integration
TOKEN = mint_token(SECRET, "DHS")
RUN_STORE_CHECK = r"<(\d+)\.\d+@pulsecheck\.example>|/\d+-(\d+)$"  # `pulsecheck run`'s key regex
DHS = {"Authorization": f"Bearer {TOKEN}"}


async def post(http: Any, payload: Any, headers: Any = DHS) -> tuple[int, Any]:
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    async with http.post("/replies", data=data, headers=headers) as r:
        return r.status, json.loads(await r.text())


# -- 1. one record must not disable the store ------------------------------------------
@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"bullets": ["did \ud800 a"]}, "bullets"),
        ({"bullets": None, "body": "text \udfff"}, "body"),
        ({"subject": "Re: \ud800"}, "subject"),
        ({"idempotency_key": "k-\ud800"}, "idempotency_key"),
        ({"cc": ["bo.chan@dhs.example\ud800"]}, "cc"),
    ],
)
async def test_lone_surrogate_is_a_400_and_the_next_reply_is_stored(
    api: Any, over: dict[str, Any], field: str
) -> None:
    _, http = api
    payload = {k: v for k, v in body(**over).items() if v is not None}
    status, answer = await post(http, payload)  # json.dumps writes "\ud800" escapes
    assert (status, answer["field"]) == (400, field) and "surrogate" in answer["reason"]
    assert (await post(http, body(idempotency_key="after")))[0] == 201
    async with http.get("/health") as r:
        assert r.status == 200


class RefusingStore(NullStore):
    """A store whose writer refuses every record, as it does a record it cannot encode."""

    def submit(self, record: Any) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = self._loop.create_future()
        future.set_exception(store_mod.InvalidRecord("text is not valid Unicode"))
        return future


async def test_a_record_the_store_refuses_is_answered_400(directory: Directory) -> None:
    config = ApiConfig(directory, ROUNDS, CollectionIndex(COLLECTIONS), SECRET)
    server = TestServer(build_app(config, RefusingStore()), host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession(str(server.make_url(""))) as http:
            status, answer = await post(http, body())
    finally:
        await server.close()
    assert status == 400 and answer["reason"] == "text is not valid Unicode"


async def test_health_reports_a_stopped_writer(api: Any) -> None:
    srv, http = api
    assert (await post(http, body(idempotency_key="first")))[0] == 201
    conn = srv.store._conn  # the writer's connection, idle now: make the disk full
    conn.execute(f"PRAGMA max_page_count = {conn.execute('PRAGMA page_count').fetchone()[0]}")
    status, answer = await post(http, body(idempotency_key="big", bullets=["x" * 19_000]))
    assert status == 503 and "full" in answer["reason"]
    async with http.get("/health") as r:
        health = await r.json()
        assert r.status == 503 and health["ok"] is False and "full" in health["reason"]
    status, answer = await post(http, body(idempotency_key="later"))
    assert status == 503 and answer["error"] == "unavailable"


# -- 4. idempotency keys cannot be claimed in advance -----------------------------------
async def test_a_forged_mail_with_the_victims_key_does_not_claim_the_reply(
    tmp_path: Path, directory: Directory
) -> None:
    db, key = tmp_path / "db", "20250222-17"  # predictable: {seed}-{event}
    async with running_mailbox(db, directory, ROUNDS, collections=COLLECTIONS) as mailbox:
        smtp = await SmtpClient.connect(mailbox.host, mailbox.port)
        await smtp.send(b"EHLO forger.example\r\n")
        headers = f"Message-ID: {key}\r\n".encode()
        forged = await smtp.mail("ann.lee@dhs.example", ["hr@opm.example"], b"- forged", headers)
        await smtp.close()
    assert forged[-1].startswith("250")  # the forger's mail was taken (it claims nothing)
    async with (
        running_api(db, directory, ROUNDS, secret=SECRET, collections=COLLECTIONS) as srv,
        aiohttp.ClientSession(srv.url) as http,
    ):
        status, answer = await post(http, body(idempotency_key=key))
        assert (status, answer["status"]) == (201, "stored")  # the genuine reply is stored
        assert (await post(http, body(idempotency_key=key)))[0] == 200  # its repeat is not
        async with http.get("/agencies/DHS/replies", headers=DHS) as r:
            rows = (await r.json())["replies"]
    assert [r["channel"] for r in rows].count("api") == 1
    with contextlib.closing(sqlite3.connect(db)) as conn:
        keys = [k for (k,) in conn.execute("SELECT idem_key FROM replies WHERE channel = 'api'")]
    assert keys == [f"api:DHS:ann.lee@dhs.example/{key}"]
    found = re.search(RUN_STORE_CHECK, keys[0])  # the run's store check finds the event id
    assert found is not None and found.group(2) == "17"


async def test_api_keys_are_scoped_by_channel_and_agency(api: Any) -> None:
    srv, http = api
    assert (await post(http, body(idempotency_key="a/b-9")))[0] == 201
    with contextlib.closing(sqlite3.connect(srv.store.path)) as conn:
        keys = [k for (k,) in conn.execute("SELECT idem_key FROM replies")]
    assert keys == ["api:DHS:ann.lee@dhs.example/a/b-9"]


# -- 5. slow clients are cut off ----------------------------------------------------------
HEAD = (
    "POST /replies HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    f"Authorization: Bearer {TOKEN}\r\n"
)


async def trickle(port: int, head: bytes, drip: bytes) -> tuple[int, bytes]:
    """Send `head` at once, then `drip` a byte at a time until the server closes.

    Returns how many bytes of `drip` were sent and what the server answered.
    """
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    answer = asyncio.create_task(reader.read(65536))
    sent = 0
    try:
        writer.write(head)
        for i in range(len(drip)):  # bounded: at most len(drip) x 50 ms
            if answer.done():
                break
            writer.write(drip[i : i + 1])
            await writer.drain()
            sent += 1
            await asyncio.sleep(0.05)
        data = await asyncio.wait_for(answer, 10)
    except (ConnectionError, OSError):
        data = await asyncio.wait_for(answer, 10)
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await writer.wait_closed()
    return sent, data


@pytest.fixture
async def quick_timeout(tmp_path: Path, directory: Directory) -> AsyncIterator[tuple[Running, Any]]:
    async with (
        api_session(tmp_path, directory, read_timeout_s=0.5) as (srv, http),
    ):
        yield srv, http


async def test_slow_headers_are_cut_off_and_others_are_served(quick_timeout: Any) -> None:
    srv, http = quick_timeout
    drip = ("X-Padding: " + "a" * 300 + "\r\n\r\n").encode()  # 15 s at a byte per 50 ms
    slow = asyncio.create_task(trickle(srv.port, HEAD.encode(), drip))
    await asyncio.sleep(0.1)  # the slow client is connected and dripping
    assert (await post(http, body(idempotency_key="normal")))[0] == 201
    sent, answer = await slow
    assert sent < len(drip)  # closed before its request head was complete
    assert answer == b"" or answer.startswith(b"HTTP/1.1 408")


async def test_slow_body_is_answered_408_and_cut_off(quick_timeout: Any) -> None:
    srv, http = quick_timeout
    payload = json.dumps(body(idempotency_key="slow", bullets=["z" * 200])).encode()
    head = f"{HEAD}Content-Length: {len(payload)}\r\n\r\n".encode()
    slow = asyncio.create_task(trickle(srv.port, head, payload))
    await asyncio.sleep(0.1)
    assert (await post(http, body(idempotency_key="normal")))[0] == 201
    sent, answer = await slow
    assert sent < len(payload)
    assert answer.startswith(b"HTTP/1.1 408") and b'"timeout"' in answer
    assert (await post(http, body(idempotency_key="slow")))[0] == 201  # nothing was stored


# -- 8. no input makes a 500 --------------------------------------------------------------
async def raw_request(port: int, request: bytes) -> tuple[int, Any]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    data = await asyncio.wait_for(reader.read(), 10)  # Connection: close
    writer.close()
    head, _, text = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(text)


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 60_000,  # nested past the parser's recursion limit, within the size limit
        b'{"sender": ' + b"[" * 60_000,
        b'{"cc": ' + b"[" * 900 + b"]" * 900 + b"}",  # parses; the error names the value
    ],
)
async def test_deeply_nested_json_is_a_400(api: Any, raw: bytes) -> None:
    _, http = api
    status, answer = await post(http, raw)
    assert status == 400 and answer["error"] == "bad_request"


async def test_a_hundred_thousand_brackets_are_a_413(api: Any) -> None:
    _, http = api
    status, answer = await post(http, b"[" * 100_000)
    assert status == 413 and "reason" in answer


@pytest.mark.parametrize("path", ["/replies", "/counts", "/agencies/DHS/replies"])
async def test_non_ascii_token_is_a_401(api: Any, path: str) -> None:
    srv, _ = api
    method = "POST" if path == "/replies" else "GET"
    request = (
        f"{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 2\r\n"
    ).encode() + "Authorization: Bearer DHS.é.1.ü\r\n\r\n{}".encode()
    status, answer = await raw_request(srv.port, request)
    assert status == 401 and answer["reason"].startswith("malformed token")


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("after=" + "9" * 30, 400),
        ("after=" + "9" * 18, 200),  # past every row: an empty page
        ("after=12&limit=" + "9" * 30, 400),
        ("after=12&limit=5000", 200),  # clamped to 1000
        ("after=abc", 400),
        ("after=%F0%9F%98%80", 400),
        ("after=-5", 200),
    ],
)
async def test_page_arguments_out_of_range(api: Any, query: str, status: int) -> None:
    _, http = api
    async with http.get(f"/agencies/DHS/replies?{query}", headers=DHS) as r:
        answer = json.loads(await r.text())
        assert r.status == status, answer
        assert ("reason" in answer) == (status == 400)


async def test_aiohttp_errors_are_json(api: Any) -> None:
    _, http = api
    async with http.get("/nowhere") as r:
        assert r.status == 404 and (await r.json())["error"] == "not_found"
    async with http.get("/replies") as r:
        assert r.status == 405 and "POST" in r.headers["Allow"]
