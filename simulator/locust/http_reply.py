"""The HTTP storm's delivery: one reply event -> POST to the collection API, via Locust.

Theory of operation: the body, its routing and its idempotency key come from
`traffic.payload.Payload.http_json`, byte for byte what the native engine posts. This
module adds what Locust needs around it: a bearer token per sender department, minted
from the API's secret (`simulator.tokens.mint_token`), and the POST through the user's
Locust client, so Locust's stats show every request too.

Connecting: for an http:// host the POST goes to the address the storm's loopback check
resolved (`safety.pinned`), with the name in the Host header, so the client never looks
the name up again (DNS rebinding); redirects are not followed. An https:// host is
posted to by name, because the Locust client takes the TLS server name from the URL.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from simulator.safety import pinned
from simulator.tokens import mint_token
from simulator.traffic.outcomes import ERROR, Outcome, http_outcome
from simulator.traffic.payload import Payload
from simulator.validation import InputError

MIN_SECRET_BYTES = 16  # as `simulator.tokens.load_or_create_secret` requires


def api_reply(payload: Payload, i: int) -> bytes:
    """The JSON body of `POST /replies` for reply event `i`: the native engine's bytes."""
    return payload.http_json(i)


def idempotency_key(payload: Payload, i: int) -> str:
    """The key `Payload.http_json` gives event `i` (the store keys it by sender too)."""
    return f"{payload.seed}-{int(payload.event_id[i])}"


def read_secret(path: Path) -> bytes:
    """The API's token secret, as the server reads it (stripped bytes)."""
    try:
        secret = path.read_bytes().strip()
    except OSError as err:
        raise InputError(str(path), "--api-secret-file", str(path), str(err)) from None
    if len(secret) < MIN_SECRET_BYTES:
        raise InputError(
            str(path), "--api-secret-file", f"{len(secret)} bytes", "must hold >= 16 bytes"
        )
    return secret


class AgencyTokens:
    """Bearer headers per department, minted once each."""

    def __init__(self, secret: bytes) -> None:
        self.secret = secret
        self.cache: dict[str, dict[str, str]] = {}

    def headers(self, agency: str) -> dict[str, str]:
        found = self.cache.get(agency)
        if found is None:
            token = mint_token(self.secret, agency)
            found = self.cache[agency] = {
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json",
            }
        return found


def http_delivery(
    client: Any, path: str, payload: Payload, tokens: AgencyTokens
) -> Callable[[int], Outcome]:
    """A `deliver(i) -> Outcome` posting through a Locust FastHttpUser client."""
    url, host_header = pinned_url(str(client.base_url), path)
    pinned_headers: dict[str, dict[str, str]] = {}

    def headers_of(agency: str) -> dict[str, str]:
        found = pinned_headers.get(agency)
        if found is None:
            found = pinned_headers[agency] = {**tokens.headers(agency), **host_header}
        return found

    def deliver(i: int) -> Outcome:
        body = api_reply(payload, i)
        headers = headers_of(payload.agency_of(i))
        name = f"POST {path}"
        with client.post(
            url,
            data=body,
            headers=headers,
            name=name,
            catch_response=True,
            allow_redirects=False,
        ) as response:
            status = int(response.status_code or 0)
            if status == 0:
                reason = type(response.error).__name__ if response.error else "no answer"
                response.failure(reason)
                return Outcome(0, ERROR, len(body), reason)
            out = http_outcome(status, response.headers.get("Retry-After"), len(body))
            if out.error:
                response.failure(out.error)
            else:
                response.success()
            return out

    return deliver


def pinned_url(base_url: str, path: str) -> tuple[str, dict[str, str]]:
    """The URL to post `path` to and the Host header to send with it: for http://, the
    checked address and the name; for https://, the name (TLS needs it in the URL)."""
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    checked = pinned(host, field="--host")
    if parts.scheme != "http":
        return path, {}
    port = parts.port or 80
    address = checked.addresses[0]
    shown = f"[{address}]" if ipaddress.ip_address(address).version == 6 else address
    name = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}{path}", {"Host": name if port == 80 else f"{name}:{port}"}
