"""The HTTP storm's body: accepted by the reference API's parser, keyed like the mailbox."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simulator.collect.api import parse_reply
from simulator.locust.http_reply import AgencyTokens, api_reply, idempotency_key, read_secret
from simulator.rules import ContentRules
from simulator.tokens import agency_of
from simulator.traffic.payload import Payload
from simulator.validation import InputError
from tests.locust.tables import SECRET, storm_schedule, workforce

EVENTS = storm_schedule(replies=5, auto_replies=0, span_s=60.0)
PAYLOAD = Payload(EVENTS, workforce(8), {"opm-hr": "hr@opm.example"})
REPLY = EVENTS.column("kind").to_pylist().index("reply")


def test_body_parses_with_routing_from_the_payload() -> None:
    reply = parse_reply(api_reply(PAYLOAD, REPLY), {"1": ContentRules()})
    assert reply.sender == PAYLOAD.sender_address(REPLY)
    assert reply.to == "hr@opm.example"
    assert list(reply.cc) == PAYLOAD.cc_addresses(REPLY)
    assert reply.text == PAYLOAD.body(REPLY)


def test_body_is_the_native_engines_and_names_its_key() -> None:
    body = api_reply(PAYLOAD, REPLY)
    assert body == PAYLOAD.http_json(REPLY)
    assert json.loads(body)["idempotency_key"] == idempotency_key(PAYLOAD, REPLY)


def test_token_proves_the_senders_agency() -> None:
    agency = str(PAYLOAD.agency[REPLY])
    header = AgencyTokens(SECRET).headers(agency)["Authorization"]
    assert agency_of(SECRET, header) == agency


def test_short_or_missing_secret_is_refused(tmp_path: Path) -> None:
    short = tmp_path / "short"
    short.write_bytes(b"abc\n")
    with pytest.raises(InputError, match="16 bytes"):
        read_secret(short)
    with pytest.raises(InputError, match="api-secret-file"):
        read_secret(tmp_path / "missing")
