"""A lean HTTP/1.1 keep-alive POST client on asyncio protocols and httptools.

Theory of operation: the replay's hot path for HTTP and HTTPS targets. Each session is one
keep-alive connection carrying one request at a time; the request head is prebuilt and
only Content-Length and the body change per event. Responses are parsed by httptools
(the llhttp parser) straight from `data_received`, with no stream objects in between.
`benchmarks/bench_replay_http.py` measures it beside aiohttp, Locust and wrk; use
`http_aiohttp` for redirects or proxies. The host is resolved once, by the loopback
check (`safety.pinned`); connections go to the checked address, and the name only into
the Host header and, for https://, the TLS handshake (SNI and the certificate check,
with the context of `TlsOptions`). TLS changes only how a connection is opened: the
asyncio transport encrypts, the protocol above it is the same. `preflight` opens one
probe connection before any load, so a certificate problem is one clear error.

With a request template (`targets.HttpShape`), `prepare` renders each event's request line,
header lines and body (`simulator.traffic.request`), and the answers are classified by
the template's response rules; the body of an answer is collected only when a rule reads
a reason from it. Without one, the bytes are pulsecheck's own JSON POST, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from typing import cast

import httptools

from simulator.replay.targets import AuthHeader, Follow, HttpShape, Tokens, bearer
from simulator.replay.tls import TlsOptions, probe
from simulator.safety import CheckedHost, create_connection, pinned
from simulator.traffic.outcomes import Outcome
from simulator.traffic.payload import Payload


class _ResponseProtocol(asyncio.Protocol):
    """Feeds bytes to httptools and resolves one waiting future per response."""

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[int] | None = None
        self.retry_after: bytes | None = None
        self.keep_alive = True
        self.body = b""  # the answer's body, collected by `_BodyProtocol` only

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as err:
            self._fail(ConnectionError(f"bad HTTP response: {err}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self._fail(ConnectionResetError("connection closed by server"))

    def _fail(self, exc: Exception) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc)
        if self.transport is not None:
            self.transport.abort()

    # httptools callbacks
    def on_message_begin(self) -> None:
        self.retry_after = None

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() == b"retry-after":
            self.retry_after = value

    def on_message_complete(self) -> None:
        self.keep_alive = self.parser.should_keep_alive()
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(self.parser.get_status_code())


class _BodyProtocol(_ResponseProtocol):
    """Also keeps each answer's body, for response rules that read a reason from it."""

    def on_message_begin(self) -> None:
        self.retry_after = None
        self.body = b""

    def on_body(self, body: bytes) -> None:
        if len(self.body) < MAX_ANSWER_BYTES:
            self.body += body


MAX_ANSWER_BYTES = 65536  # of an answer's body kept for its reason


def _expire(waiter: asyncio.Future[int]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


class FastHttpSession:
    def __init__(self, target: FastHttpTarget) -> None:
        self.target = target
        self.proto: _ResponseProtocol | None = None

    async def _connect(self) -> _ResponseProtocol:
        _, proto = await asyncio.wait_for(
            create_connection(
                self.target.protocol,
                self.target.checked,
                self.target.port,
                self.target.ssl,
                self.target.server_name,
            ),
            self.target.timeout_s,
        )
        return proto

    async def deliver(self, message: tuple[bytes, bytes], follow: Follow | None = None) -> Outcome:
        auth, body = message
        proto = self.proto
        if proto is None or proto.transport is None:
            proto = self.proto = await self._connect()
        assert proto.transport is not None
        loop = asyncio.get_running_loop()
        request = b"%s%s%d\r\n\r\n%s" % (self.target.head, auth, len(body), body)
        proto.waiter = waiter = loop.create_future()
        timer = loop.call_later(self.target.timeout_s, _expire, waiter)
        proto.transport.write(request)
        try:
            status = await waiter
        except BaseException:
            self._drop()
            raise
        finally:
            timer.cancel()
        if not proto.keep_alive:
            self._drop()
        return self.target.rules.outcome(status, proto.retry_after, len(request), proto.body)

    def _drop(self) -> None:
        if self.proto is not None and self.proto.transport is not None:
            self.proto.transport.abort()
        self.proto = None

    async def close(self) -> None:
        if self.proto is not None and self.proto.transport is not None:
            self.proto.transport.close()
        self.proto = None


class AuthHeaders:
    """Per-agency credential header lines (and the Content-Length name), made once each."""

    def __init__(self, tokens: Tokens | None, auth: AuthHeader | None = None) -> None:
        self.header = auth if auth is not None else bearer(tokens)
        self.lines: dict[str, bytes] = {}

    def line(self, agency: str) -> bytes:
        line = self.lines.get(agency)
        if line is None:
            header = self.header(agency)
            line = b"" if header is None else f"{header[0]}: {header[1]}\r\n".encode()
            self.lines[agency] = line + b"Content-Length: "
        return self.lines[agency]


async def https_preflight(
    url: str, checked: CheckedHost, port: int, tls: TlsOptions, timeout_s: float
) -> None:
    """One TLS probe connection (`tls.probe`) carrying `OPTIONS *`, a request for the
    server itself rather than for any resource, so no event is sent."""
    host = checked.host if ":" not in checked.host else f"[{checked.host}]"
    hello = f"OPTIONS * HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n"
    await probe(checked, port, tls, tls.context(), url, hello.encode(), timeout_s)


class FastHttpTarget:
    """POSTs each event's JSON to http(s)://host:port/path over keep-alive connections.
    `tls` (given for https) makes every connection a verified TLS one."""

    def __init__(
        self,
        host: str,
        port: int,
        path: str,
        timeout_s: float = 30.0,
        tokens: Tokens | None = None,
        allow_remote: bool = False,
        tls: TlsOptions | None = None,
        shape: HttpShape | None = None,
    ) -> None:
        shape = shape or HttpShape()
        self.host, self.port, self.path = host, port, path
        self.checked = pinned(host, allow_remote)  # the addresses connections go to
        self.auth = AuthHeaders(tokens, shape.auth)
        self.timeout_s = timeout_s
        self.tls = tls
        self.ssl: ssl.SSLContext | None = None if tls is None else tls.context()
        self.server_name = None if tls is None else tls.sni(host)
        self.description = f"{'http' if tls is None else 'https'}://{host}:{port}{path}"
        self.template, self.rules = shape.request, shape.rules
        self.protocol = _BodyProtocol if self.rules.reads_body else _ResponseProtocol
        content_type = "application/json" if self.template is None else self.template.content_type
        fixed = (
            f"Host: {host}:{port}\r\n"
            f"Content-Type: {content_type}\r\nUser-Agent: pulsecheck-replay\r\n"
        ).encode()
        if self.template is None:
            self.head = f"POST {path} HTTP/1.1\r\n".encode() + fixed
        else:  # each event's request line and header lines come with its message
            self.head, self.fixed = b"", fixed
            self.method = self.template.method.encode()

    def prepare(self, payload: Payload, start: int, stop: int) -> list[tuple[bytes, bytes]]:
        """(Request head up to the Content-Length value, body) of each event."""
        if self.template is not None:
            return self._prepare_template(payload, start, stop)
        bodies = payload.http_jsons(start, stop)
        agencies = payload.agencies(start, stop)
        return [(self.auth.line(a), body) for a, body in zip(agencies, bodies, strict=True)]

    async def preflight(self) -> None:
        """For https: one probe connection, so a TLS failure is an InputError before any
        load is sent. Nothing to check for plain http."""
        if self.tls is not None:
            await https_preflight(
                self.description, self.checked, self.port, self.tls, self.timeout_s
            )

    def _prepare_template(
        self, payload: Payload, start: int, stop: int
    ) -> list[tuple[bytes, bytes]]:
        rendered = self.template.render(payload, start, stop, self.path)
        agencies = payload.agencies(start, stop)
        method, fixed, line = self.method, self.fixed, self.auth.line
        rows = zip(rendered.paths, rendered.headers, agencies, rendered.bodies, strict=True)
        return [
            (b"%s %s HTTP/1.1\r\n%s%s%s" % (method, path, fixed, headers, line(a)), body)
            for path, headers, a, body in rows
        ]

    async def open(self) -> FastHttpSession:
        """A session, connected now if possible (else at its first delivery)."""
        session = FastHttpSession(self)
        with contextlib.suppress(OSError, TimeoutError):
            session.proto = await session._connect()
        return session

    async def aclose(self) -> None:
        return None
