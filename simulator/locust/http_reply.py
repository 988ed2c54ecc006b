"""The HTTP storm's delivery: one reply event -> POST to the collection API, via Locust.

Theory of operation: routing and text come from `replay.payload.Payload` (the native
engine's code): sender, collection address, manager in cc, subject, body. This module
only puts them into the body the reference API takes (`collect.api.parse_reply`), with
the Message-ID as idempotency key (the store keys it by sender, as the mailbox does),
and authenticates as the sender's department with a bearer token minted from the API's
secret. The POST goes through the user's Locust client, so Locust's stats show it too.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from simulator.collect.auth import mint_token
from simulator.replay.payload import Payload
from simulator.replay.targets import ERROR, Outcome, http_outcome
from simulator.validation import InputError

MIN_SECRET_BYTES = 16  # as `collect.auth.load_or_create_secret` requires


def message_id(payload: Payload, i: int) -> str:
    """The Message-ID `Payload.smtp_message` gives event `i`."""
    return f"<{int(payload.event_id[i])}.{payload.seed}@pulsecheck.example>"


def api_reply(payload: Payload, i: int) -> bytes:
    """The JSON body of `POST /replies` for reply event `i`."""
    sender = payload.sender_address(i)
    doc = {
        "sender": sender,
        "round": str(payload.round[i]),
        "to": payload.to_addresses(i)[0],
        "cc": payload.cc_addresses(i),
        "subject": payload.subject(i),
        "body": payload.body(i),
        "idempotency_key": message_id(payload, i),
    }
    return json.dumps(doc, separators=(",", ":")).encode()


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


class Tokens:
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
    client: Any, path: str, payload: Payload, tokens: Tokens
) -> Callable[[int], Outcome]:
    """A `deliver(i) -> Outcome` posting through a Locust FastHttpUser client."""

    def deliver(i: int) -> Outcome:
        body = api_reply(payload, i)
        headers = tokens.headers(str(payload.agency[i]))
        name = f"POST {path}"
        with client.post(
            path, data=body, headers=headers, name=name, catch_response=True
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
