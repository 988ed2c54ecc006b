"""Property-based tests of the API's JSON boundary, against the real aiohttp app on loopback.

Hypothesis generates arbitrary JSON values and shapes, replies with fields of the wrong
type, huge and deeply nested values, text with lone surrogates, raw bodies, and odd
headers and tokens sent as raw HTTP. After every example:

- the request got an answer with a status below 500;
- the server still stores a normal reply (201);
- every request answered 201 is in the store exactly once (under its scoped key).

Bounded: each test runs a fixed number of examples with no per-example deadline (the
machine is shared), and the whole file takes well under a minute.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.collect.api import api_key
from simulator.collect.directory import Directory
from simulator.collect.servers import Running
from simulator.tokens import mint_token

from .conftest import SECRET, api_session

pytestmark = pytest.mark.integration
TOKEN = mint_token(SECRET, "DHS")
AUTH = {"Authorization": f"Bearer {TOKEN}"}
FUZZ = settings(
    max_examples=75,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
FIELDS = ["sender", "round", "to", "cc", "subject", "body", "bullets", "idempotency_key"]
FIELDS += ["attachments", "extra"]

# -- strategies ---------------------------------------------------------------------------
chars = st.one_of(st.characters(), st.characters(categories=["Cs"]))  # with lone surrogates
text = st.text(alphabet=chars, max_size=30)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True),
    text,
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(text, st.sampled_from(FIELDS)), inner, max_size=4),
    ),
    max_leaves=20,
)
addresses = st.sampled_from(
    ["ann.lee@dhs.example", "ANN.LEE@dhs.example", "bo.chan@dhs.example", "cy.diaz@dod.example"]
)
collections = st.sampled_from(
    ["hr@opm.example", "accountability@hq.dhs.example", "consolidation@dod.example", "x@y.test"]
)
counter = itertools.count()


@st.composite
def replies(draw: st.DrawFn) -> dict[str, Any]:
    """A reply close to valid, with any field replaced, dropped or added."""
    reply: dict[str, Any] = {
        "sender": draw(addresses),
        "round": draw(st.sampled_from(["r1", "r2", "r3"])),
        "to": draw(collections),
        "cc": draw(st.lists(st.one_of(addresses, text), max_size=3)),
        "subject": draw(text),
        "idempotency_key": f"fz-{next(counter)}-{draw(text)}",
    }
    if draw(st.booleans()):
        reply["bullets"] = draw(st.lists(text, max_size=5))
    else:
        reply["body"] = draw(st.one_of(text, st.text(max_size=3000)))
    for key in draw(st.lists(st.sampled_from(FIELDS), max_size=3, unique=True)):
        choice = draw(st.integers(0, 2))
        if choice == 0:
            reply.pop(key, None)
        else:
            reply[key] = draw(json_values)
    if draw(st.booleans()):
        reply["attachments"] = draw(st.one_of(st.integers(-5, 5), json_values))
    return reply


nesting = st.tuples(st.sampled_from([b"[", b'{"a":', b'{"cc":[']), st.integers(1, 70_000)).map(
    lambda t: t[0] * t[1]
)
raw_bodies = st.one_of(
    st.binary(max_size=400),
    nesting,
    st.integers(1, 80_000).map(lambda n: b'{"body": "' + b"x" * n + b'"}'),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.sampled_from([b"", b"null", b"NaN", b"1e999999", b'"\\ud800"', b"\xef\xbb\xbf{}", b"[1"]),
)


# -- the server and the checks -------------------------------------------------------------
@dataclass
class Fuzzed:
    server: Running
    http: aiohttp.ClientSession
    stored: set[str] = field(default_factory=set)  # keys of every request answered 201

    def count(self, key: str) -> int:
        with contextlib.closing(sqlite3.connect(self.server.store.path)) as conn:
            row = conn.execute("SELECT COUNT(*) FROM replies WHERE idem_key = ?", (key,))
            return int(row.fetchone()[0])

    async def after_example(self, status: int, stored_key: str | None = None) -> None:
        assert 100 <= status < 500, status
        if status == 201:
            assert stored_key is not None and stored_key not in self.stored  # 201 once a key
            self.stored.add(stored_key)
        normal = {
            "sender": "ann.lee@dhs.example",
            "round": "r1",
            "to": "hr@opm.example",
            "bullets": ["still here"],
            "idempotency_key": f"normal-{next(counter)}",
        }
        async with self.http.post("/replies", json=normal, headers=AUTH) as r:
            assert r.status == 201, await r.text()
        normal_key = api_key("DHS", "ann.lee@dhs.example", normal["idempotency_key"])
        self.stored.add(normal_key)
        for key in (stored_key, normal_key):
            if key is not None:
                assert self.count(key) == 1, key


@pytest.fixture
async def fuzzed(tmp_path: Path, directory: Directory) -> AsyncIterator[Fuzzed]:
    async with (
        api_session(tmp_path, directory, read_timeout_s=5.0) as (srv, http),
    ):
        state = Fuzzed(srv, http)
        yield state
        with contextlib.closing(sqlite3.connect(srv.store.path)) as conn:
            keys = [k for (k,) in conn.execute("SELECT idem_key FROM replies")]
        assert len(keys) == len(set(keys))
        assert state.stored <= set(keys)  # every 201 of the whole run is there


async def post(fz: Fuzzed, data: bytes, headers: dict[str, str] = AUTH) -> tuple[int, Any]:
    async with fz.http.post("/replies", data=data, headers=headers) as r:
        raw = await r.read()
        return r.status, json.loads(raw) if raw[:1] == b"{" else None


@FUZZ
@given(value=json_values)
async def test_any_json_value_is_answered_below_500(fuzzed: Fuzzed, value: Any) -> None:
    status, _ = await post(fuzzed, json.dumps(value).encode())
    await fuzzed.after_example(status)


@FUZZ
@given(reply=replies())
async def test_any_reply_shape_is_answered_below_500_and_201_means_stored(
    fuzzed: Fuzzed, reply: dict[str, Any]
) -> None:
    status, answer = await post(fuzzed, json.dumps(reply).encode())
    key = None
    if status == 201:
        assert answer == {"status": "stored", "key": reply["idempotency_key"]}
        key = api_key("DHS", reply["sender"].lower(), reply["idempotency_key"])
        again, _ = await post(fuzzed, json.dumps(reply).encode())
        assert again == 200  # a repeat is a repeat
    await fuzzed.after_example(status, key)


@FUZZ
@given(raw=raw_bodies, content_type=st.sampled_from(["application/json", "text/plain", "x/y"]))
async def test_any_raw_body_is_answered_below_500(
    fuzzed: Fuzzed, raw: bytes, content_type: str
) -> None:
    status, _ = await post(fuzzed, raw, {**AUTH, "Content-Type": content_type})
    await fuzzed.after_example(status)


# -- odd headers and tokens, as raw HTTP ----------------------------------------------------
header_bytes = st.binary(max_size=60).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b""))


@st.composite
def tokens(draw: st.DrawFn) -> bytes:
    """A valid token with one field changed, a random token, or a raw byte string."""
    parts = TOKEN.split(".")
    kind = draw(st.integers(0, 3))
    if kind == 0:
        i = draw(st.integers(0, 3))
        parts[i] = draw(st.text(alphabet=chars, max_size=20))
        return ".".join(parts).encode("utf-8", "surrogatepass")
    if kind == 1:
        return draw(st.text(alphabet=chars, max_size=80)).encode("utf-8", "surrogatepass")
    if kind == 2:
        return draw(header_bytes)
    return mint_token(SECRET, draw(st.sampled_from(["DHS", "DOD", "VA"]))).encode()


@st.composite
def requests(draw: st.DrawFn) -> tuple[bytes, str | None]:
    """A raw HTTP request, and the store key it files if it is a valid reply."""
    reply = {
        "sender": "ann.lee@dhs.example",
        "round": "r1",
        "to": "hr@opm.example",
        "bullets": ["raw"],
        "idempotency_key": f"raw-{next(counter)}",
    }
    valid = json.dumps(reply).encode()
    payload = draw(st.one_of(st.just(valid), raw_bodies))[:70_000]
    key = api_key("DHS", reply["sender"], reply["idempotency_key"]) if payload == valid else None
    scheme = draw(st.sampled_from([b"Bearer ", b"bearer ", b"Basic ", b"", b"Bearer  "]))
    headers = [b"Host: 127.0.0.1", b"Authorization: " + scheme + draw(tokens())]
    extra = st.sampled_from(
        [
            b"Content-Encoding: gzip",
            b"Content-Encoding: deflate",
            b"Content-Encoding: br",
            b"Content-Encoding: zstd",
            b"Content-Type: application/json; charset=latin-1",
            b"Expect: 100-continue",
            b"Connection: keep-alive",
            b"Accept: text/html",
            b"X-Pulsecheck-Round: r9",
        ]
    )
    headers += draw(
        st.lists(st.one_of(extra, header_bytes.map(lambda b: b"X-Odd: " + b)), max_size=3)
    )
    if draw(st.booleans()):
        size = max(1, len(payload))
        framed = f"{size:x}\r\n".encode() + payload.ljust(size, b" ") + b"\r\n0\r\n\r\n"
        headers.append(b"Transfer-Encoding: chunked")
    else:
        framed = payload
        headers.append(b"Content-Length: " + str(len(payload)).encode())
    path = draw(
        st.sampled_from([b"/replies", b"/replies?x=1", b"/counts", b"/agencies/DHS/replies"])
    )
    method = b"POST" if path.startswith(b"/replies") else b"GET"
    headers.append(b"Connection: close")
    head = method + b" " + path + b" HTTP/1.1\r\n" + b"\r\n".join(headers) + b"\r\n\r\n"
    return head + framed, key


async def raw_status(port: int, request: bytes) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), 20)
        while line.startswith(b"HTTP/1.1 100 "):  # Expect: 100-continue, then the answer
            while (await asyncio.wait_for(reader.readline(), 20)) not in (b"\r\n", b""):
                pass
            line = await asyncio.wait_for(reader.readline(), 20)
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await writer.wait_closed()
    assert line.startswith(b"HTTP/1."), line  # every request gets an answer
    return int(line.split()[1])


@FUZZ
@given(request=requests())
async def test_odd_headers_and_tokens_are_answered_below_500(
    fuzzed: Fuzzed, request: tuple[bytes, str | None]
) -> None:
    raw, key = request
    status = await raw_status(fuzzed.server.port, raw)
    if status == 201:  # a valid token and reply got through: it must be stored
        assert key is not None
    await fuzzed.after_example(status, key if status == 201 else None)
