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
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from simulator.replay.http_fast import https_preflight
from simulator.replay.targets import Follow, Tokens, parse_target
from simulator.replay.tls import TlsOptions
from simulator.safety import CheckedHost, pinned
from simulator.traffic.outcomes import Outcome, http_outcome
from simulator.traffic.payload import Payload
from simulator.validation import InputError

_JSON = {"Content-Type": "application/json", "User-Agent": "pulsecheck-replay"}


class AiohttpSession:
    def __init__(self, target: AiohttpTarget) -> None:
        self.target = target

    async def deliver(
        self, message: tuple[dict[str, str], bytes], follow: Follow | None = None
    ) -> Outcome:
        headers, body = message
        client = await self.target.client()
        try:
            async with client.post(
                self.target.url,
                data=body,
                headers=headers,
                server_hostname=self.target.server_name,
            ) as response:
                await response.read()
                return http_outcome(response.status, response.headers.get("Retry-After"), len(body))
        except aiohttp.ClientConnectionError as err:
            raise ConnectionError(str(err)) from err

    async def close(self) -> None:
        return None


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
    ) -> None:
        self.url = url
        _, host, self.port, _ = parse_target(url)
        self.checked = pinned(host, allow_remote)
        self.tls = tls
        self.ssl = None if tls is None else tls.context()  # None: aiohttp's own for https
        self.server_name = None if tls is None else tls.server_name
        self.tokens = tokens
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

    def prepare(
        self, payload: Payload, start: int, stop: int
    ) -> list[tuple[dict[str, str], bytes]]:
        bodies = payload.http_jsons(start, stop)
        agencies = payload.agencies(start, stop)
        return [(self._headers(a), body) for a, body in zip(agencies, bodies, strict=True)]

    def _headers(self, agency: str) -> dict[str, str]:
        headers = self.headers.get(agency)
        if headers is None:
            token = self.tokens(agency) if self.tokens else None
            auth = {} if token is None else {"Authorization": f"Bearer {token}"}
            headers = self.headers[agency] = {**_JSON, **auth}
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
