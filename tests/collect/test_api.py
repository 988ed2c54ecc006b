"""The HTTP collection API on loopback: answers, access rules, malformed input, logs."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.collect.directory import Directory
from simulator.tokens import mint_token

from .conftest import SECRET, api_session, body

pytestmark = pytest.mark.integration
DHS = {"Authorization": f"Bearer {mint_token(SECRET, 'DHS')}"}
DOD = {"Authorization": f"Bearer {mint_token(SECRET, 'DOD')}"}


async def post(http: Any, payload: Any, headers: Any = DHS) -> tuple[int, Any, Any]:
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    async with http.post("/replies", data=data, headers=headers) as r:
        return r.status, await r.json(content_type=None), r.headers


async def test_stored_then_idempotent_repeat(api: Any) -> None:
    _, http = api
    assert (await post(http, body()))[:2] == (201, {"status": "stored", "key": "k-1"})
    assert (await post(http, body()))[:2] == (200, {"status": "duplicate", "key": "k-1"})
    async with http.get("/counts", headers=DHS) as r:
        assert (await r.json())["counts"] == {"r1": {"opm-hr": 1}}


@pytest.mark.parametrize(
    ("payload", "status", "field"),
    [
        (b"{not json", 400, "body"),  # bad JSON
        (b'{"sender": "\xff"}', 400, "body"),  # invalid UTF-8
        (b"[1, 2]", 400, "body"),  # not an object
        (body(round=3), 400, "round"),  # wrong type
        (body(round="r9"), 400, "round"),  # unknown round
        (body(attachments="two"), 400, "attachments"),  # wrong type
        (body(cc="bo.chan@dhs.example"), 400, "cc"),  # not a list
        (body(subject="hi\r\nBcc: all@x.example"), 400, "subject"),  # header injection
        (body(body="text"), 400, "body"),  # both body and bullets
        (body(extra=1), 400, "extra"),  # unknown field
        (body(to="nobody@opm.example"), 400, "to"),  # not a collection
        (body(cc=["stranger@x.example"]), 400, "cc"),  # cc outside the directory
    ],
)
async def test_bad_requests(api: Any, payload: Any, status: int, field: str) -> None:
    _, http = api
    code, answer, _ = await post(http, payload)
    assert (code, answer["field"]) == (status, field)


async def test_ten_megabyte_body_is_refused_and_server_keeps_serving(api: Any) -> None:
    _, http = api
    async with http.post("/replies", data=b"x" * 10_000_000, headers=DHS) as r:
        assert r.status == 413
    assert (await post(http, body(idempotency_key="after")))[0] == 201


async def test_content_rule_gives_422_with_rule(api: Any) -> None:
    _, http = api
    code, answer, _ = await post(http, body(bullets=["see https://x.example"]))
    assert (code, answer) == (
        422,
        {"error": "content_rule", "rule": "link", "collection": "opm-hr"},
    )
    code, answer, _ = await post(http, body(attachments=1))
    assert answer["rule"] == "attachment"
    code, answer, _ = await post(http, body(round="r2", bullets=["helped Bo Chan"]))
    assert answer["rule"] == "coworker_name"


async def test_access_rules(api: Any) -> None:
    _, http = api
    assert (await post(http, body(), headers={}))[0] == 401
    assert (await post(http, body(), headers={"Authorization": "Bearer DHS.bad"}))[0] == 401
    assert (await post(http, body(), headers=DOD))[0] == 403  # DoD token, DHS sender
    assert (await post(http, body(sender="nobody@dhs.example")))[0] == 403
    dod_to_dhs = body(sender="cy.diaz@dod.example", to="accountability@hq.dhs.example", cc=[])
    code, answer, _ = await post(http, dod_to_dhs, headers=DOD)
    assert code == 403 and "internal to DHS" in answer["reason"]


async def test_reads_are_scoped_by_agency(api: Any) -> None:
    _, http = api
    await post(http, body(to="accountability@hq.dhs.example"))
    async with http.get("/agencies/DHS/replies", headers=DHS) as r:
        replies = (await r.json())["replies"]
        assert [x["collection"] for x in replies] == ["dhs-accountability"]
    async with http.get("/agencies/DHS/replies", headers=DOD) as r:
        assert r.status == 403
    async with http.get("/counts", headers=DOD) as r:
        assert (await r.json())["counts"] == {}


async def test_logs_never_hold_reply_text(api: Any, caplog: pytest.LogCaptureFixture) -> None:
    _, http = api
    caplog.set_level(logging.DEBUG)
    secret_text = "zebra-quartz-marker"
    await post(http, body(bullets=[secret_text], idempotency_key="log-1"))
    await post(http, body(bullets=[secret_text, "http://x.example"], idempotency_key="log-2"))
    await post(http, body(subject=secret_text + "\n", idempotency_key="log-3"))
    assert secret_text not in caplog.text


async def test_overload_answers_503_with_retry_after(tmp_path: Path, directory: Directory) -> None:
    async with (
        api_session(tmp_path, directory, max_pending=0) as (_srv, http),
    ):
        code, answer, headers = await post(http, body())
    assert code == 503 and headers["Retry-After"] == "1" and answer["error"] == "overloaded"


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    payload=st.one_of(
        st.binary(max_size=300),
        st.dictionaries(
            st.sampled_from(
                [
                    "sender",
                    "round",
                    "to",
                    "cc",
                    "body",
                    "bullets",
                    "idempotency_key",
                    "attachments",
                    "x",
                ]
            ),
            st.one_of(
                st.none(), st.integers(), st.text(max_size=30), st.lists(st.text(max_size=5))
            ),
        ).map(lambda d: json.dumps(d).encode()),
    )
)
async def test_fuzz_never_5xx(api: Any, payload: bytes) -> None:
    _, http = api
    code, _, _ = await post(http, payload)
    assert 400 <= code < 500
