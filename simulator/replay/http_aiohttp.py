"""The general HTTP target on aiohttp: TLS, redirects and proxies come with it.

Theory of operation: one shared `ClientSession` with a connection pool; every engine
session is a thin handle on it. Slower per request than `http_fast`, but it speaks all of
HTTP, so it is the one to use for anything beyond plain HTTP/1.1 on loopback.

Connecting: the connector's resolver answers from the loopback check (`safety.pinned`),
so a name is looked up once, by the check, and connections go to the checked addresses
while the URL keeps the name (Host header, TLS SNI). A redirect to another name is
checked the same way; its socket factory refuses any non-loopback address the resolver
never saw (an IP literal in a redirect) unless remote hosts were allowed.

TLS: for https:// the connector takes the verifying context of `TlsOptions`; the URL
keeps the name, so aiohttp sends it as SNI and checks the certificate against it (or
against `--tls-server-name`, passed as the request's `server_hostname`). `preflight` is
the lean client's probe connection (`http_fast.https_preflight`).
A request template (`targets.HttpShape`) gives each event's method, path, headers and
body, and its response rules classify the answers, as in `http_fast`.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from simulator.replay.http_fast import https_preflight
from simulator.replay.targets import Follow, HttpShape, Tokens, bearer, parse_target
from simulator.replay.tls import TlsOptions
from simulator.safety import CheckedHost, pinned
from simulator.traffic.outcomes import Outcome
from simulator.traffic.payload import Payload
from simulator.validation import InputError

_JSON = {"Content-Type": "application/json", "User-Agent": "pulsecheck-replay"}


class AiohttpSession:
    def __init__(self, target: AiohttpTarget) -> None:
        self.target = target

    async def deliver(self, message: tuple[Any, ...], follow: Follow | None = None) -> Outcome:
        """Send (headers, body), or (headers, body, url) for a templated request."""
        target = self.target
        headers, body = message[0], message[1]
        url = message[2] if len(message) > 2 else target.url
        client = await target.client()
        try:
            async with client.request(
                target.method, url, data=body, headers=headers, server_hostname=target.server_name
            ) as answer:
                text = await answer.read()
                retry_after = answer.headers.get("Retry-After")
                return target.rules.outcome(answer.status, retry_after, len(body), text)
        except aiohttp.ClientConnectionError as err:
            raise ConnectionError(str(err)) from err

    async def close(self) -> None:
        return None


def _header_dict(lines: bytes) -> dict[str, str]:
    """Header lines "Name: value\r\n" as a dict."""
    pairs = (line.split(": ", 1) for line in lines.decode().split("\r\n") if line)
    return {name: value for name, value in pairs}


class PinnedResolver(AbstractResolver):
    """Answers every lookup from the loopback check: the checked addresses, no new DNS."""

    def __init__(self, remote_allowed: bool) -> None:
        self.remote_allowed = remote_allowed

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        try:
            checked = await asyncio.to_thread(pinned, host, self.remote_allowed)
        except InputError as err:
            raise OSError(str(err)) from None
        return [_result(host, address, port) for address in checked.addresses]

    async def close(self) -> None:
        return None


def _result(host: str, address: str, port: int) -> ResolveResult:
    v6 = ipaddress.ip_address(address).version == 6
    return {
        "hostname": host,
        "host": address,
        "port": port,
        "family": socket.AF_INET6 if v6 else socket.AF_INET,
        "proto": 0,
        "flags": socket.AI_NUMERICHOST | socket.AI_NUMERICSERV,
    }


def guarded_socket_factory(checked: CheckedHost) -> Any:
    """A socket factory that refuses a non-loopback peer unless remote hosts are allowed."""

    def factory(addr_info: Any) -> socket.socket:
        family, kind, proto, _, sockaddr = addr_info
        peer = str(sockaddr[0])
        if not checked.remote_allowed and not ipaddress.ip_address(peer).is_loopback:
            raise OSError(f"refused to connect to {peer}: not a loopback address")
        return socket.socket(family, kind, proto)

    return factory


class AiohttpTarget:
    def __init__(
        self,
        url: str,
        timeout_s: float = 30.0,
        tokens: Tokens | None = None,
        allow_remote: bool = False,
        tls: TlsOptions | None = None,
        shape: HttpShape | None = None,
    ) -> None:
        shape = shape or HttpShape()
        self.url = url
        parts = urlsplit(url)
        self.origin, self.path = f"{parts.scheme}://{parts.netloc}", parts.path or "/"
        _, host, self.port, _ = parse_target(url)
        self.checked = pinned(host, allow_remote)
        self.tls = tls
        self.ssl = None if tls is None else tls.context()  # None: aiohttp's own for https
        self.server_name = None if tls is None else tls.server_name
        self.header = shape.auth if shape.auth is not None else bearer(tokens)
        self.template, self.rules = shape.request, shape.rules
        self.method = "POST" if self.template is None else self.template.method
        content_type = "application/json" if self.template is None else self.template.content_type
        self.fixed = {**_JSON, "Content-Type": content_type}
        self.headers: dict[str, dict[str, str]] = {}
        self.description = url
        self.timeout_s = timeout_s
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._client: aiohttp.ClientSession | None = None

    async def client(self) -> aiohttp.ClientSession:
        if self._client is None or self._client.closed:
            connector = aiohttp.TCPConnector(
                limit=0,
                resolver=PinnedResolver(self.checked.remote_allowed),
                use_dns_cache=False,
                socket_factory=guarded_socket_factory(self.checked),
                ssl=True if self.ssl is None else self.ssl,
            )
            self._client = aiohttp.ClientSession(connector=connector, timeout=self.timeout)
        return self._client

    def prepare(self, payload: Payload, start: int, stop: int) -> list[tuple[Any, ...]]:
        agencies = payload.agencies(start, stop)
        if self.template is None:
            bodies = payload.http_jsons(start, stop)
            return [(self._headers(a), body) for a, body in zip(agencies, bodies, strict=True)]
        rendered = self.template.render(payload, start, stop, self.path)
        out = []
        for path, lines, agency, body in zip(
            rendered.paths, rendered.headers, agencies, rendered.bodies, strict=True
        ):
            headers = self._headers(agency)
            if lines:
                headers = {**headers, **_header_dict(lines)}
            out.append((headers, body, self.origin + path.decode()))
        return out

    def _headers(self, agency: str) -> dict[str, str]:
        headers = self.headers.get(agency)
        if headers is None:
            header = self.header(agency)
            auth = {} if header is None else {header[0]: header[1]}
            headers = self.headers[agency] = {**self.fixed, **auth}
        return headers

    async def preflight(self) -> None:
        """For https: one probe connection before any load (see `http_fast`)."""
        if self.tls is not None:
            await https_preflight(self.url, self.checked, self.port, self.tls, self.timeout_s)

    async def open(self) -> AiohttpSession:
        return AiohttpSession(self)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
