"""The reference API's OpenAPI document: valid, served, and honest about the validation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate

from simulator.collect.api import BadRequest, parse_reply
from simulator.collect.directory import Directory
from simulator.collect.openapi import openapi_document, reply_schema
from simulator.traffic.payload import Payload
from tests.replay.tables import schedule, workforce

from .conftest import ROUNDS, api_session, body

RULES = {"1": ROUNDS["r1"], **ROUNDS}
VALIDATOR = OAS31Validator(reply_schema(sorted(RULES)))


def test_document_is_valid_openapi() -> None:
    validate(openapi_document(sorted(RULES)))  # type: ignore[arg-type]


def test_pulsecheck_bodies_validate_against_the_request_schema() -> None:
    kinds = ["reply", "broadcast", "auto_reply", "bounce"] * 10
    payload = Payload(schedule(kinds, gap_us=0), workforce(50), seed=4, html_share=0.5)
    for i in range(len(kinds)):
        doc = json.loads(payload.http_json(i))
        VALIDATOR.validate(doc)
        parse_reply(json.dumps(doc).encode(), RULES)  # and the API takes it


TOO_LONG = "x" * 20_001
CASES: list[dict[str, Any]] = [
    body(),
    body(body="text", bullets=None),
    body(sender="a\r\nBcc: x@y.example"),
    body(round="r9"),
    body(cc=[f"c{i}@dhs.example" for i in range(51)]),
    body(subject="s" * 1001),
    body(idempotency_key=""),
    body(idempotency_key="k" * 201),
    body(attachments=1001),
    body(attachments=-1),
    body(extra=1),
    body(cc="one@dhs.example"),
]


@pytest.mark.parametrize("doc", CASES)
def test_schema_and_parser_agree(doc: dict[str, Any]) -> None:
    doc = {k: v for k, v in doc.items() if v is not None}
    if "body" in doc:
        doc.pop("bullets", None)
    schema_ok = VALIDATOR.is_valid(doc)
    try:
        parse_reply(json.dumps(doc).encode(), RULES)
        parsed = True
    except BadRequest:
        parsed = False
    assert schema_ok == parsed


def test_body_and_bullets_together_are_refused_by_both() -> None:
    doc = body(body="text")
    assert not VALIDATOR.is_valid(doc)
    with pytest.raises(BadRequest):
        parse_reply(json.dumps(doc).encode(), RULES)
    long_doc = {k: v for k, v in body(body=TOO_LONG).items() if k != "bullets"}
    assert not VALIDATOR.is_valid(long_doc)


@pytest.mark.integration
async def test_served_without_a_token(tmp_path: Path, directory: Directory) -> None:
    async with (
        api_session(tmp_path, directory) as (_srv, http),
        http.get("/openapi.json") as answer,
    ):
        assert answer.status == 200
        doc = await answer.json()
    validate(doc)
    assert doc["components"]["schemas"]["Reply"]["properties"]["round"]["enum"] == ["r1", "r2"]
