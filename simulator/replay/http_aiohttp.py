"""The general HTTP target on aiohttp: TLS, redirects and proxies come with it.

Theory of operation: one shared `ClientSession` with a connection pool; every engine
session is a thin handle on it. Slower per request than `http_fast`, but it speaks all of
HTTP, so it is the one to use for anything beyond plain HTTP/1.1 on loopback.
"""

from __future__ import annotations

import aiohttp

from simulator.replay.targets import Follow, Tokens
from simulator.traffic.outcomes import Outcome, http_outcome
from simulator.traffic.payload import Payload

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
            async with client.post(self.target.url, data=body, headers=headers) as response:
                await response.read()
                return http_outcome(response.status, response.headers.get("Retry-After"), len(body))
        except aiohttp.ClientConnectionError as err:
            raise ConnectionError(str(err)) from err

    async def close(self) -> None:
        return None


class AiohttpTarget:
    def __init__(self, url: str, timeout_s: float = 30.0, tokens: Tokens | None = None) -> None:
        self.url = url
        self.tokens = tokens
        self.headers: dict[str, dict[str, str]] = {}
        self.description = url
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._client: aiohttp.ClientSession | None = None

    async def client(self) -> aiohttp.ClientSession:
        if self._client is None or self._client.closed:
            connector = aiohttp.TCPConnector(limit=0)
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

    async def open(self) -> AiohttpSession:
        return AiohttpSession(self)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
