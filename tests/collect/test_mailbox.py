"""The SMTP mailbox on loopback: durable 250s, refusals with reasons, malformed sessions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.collect import store as store_mod
from simulator.collect.directory import Directory
from simulator.collect.policy import Policy
from simulator.collect.servers import Running, running_mailbox

from .conftest import COLLECTIONS, ROUNDS, SECRET, SmtpClient

pytestmark = pytest.mark.integration
ANN, BO, CY = "ann.lee@dhs.example", "bo.chan@dhs.example", "cy.diaz@dod.example"


@pytest.fixture
async def box(tmp_path: Path, directory: Directory) -> AsyncIterator[tuple[Running, SmtpClient]]:
    async with running_mailbox(
        tmp_path / "db",
        directory,
        ROUNDS,
        collections=COLLECTIONS,
        max_message_bytes=50_000,
        secret=SECRET,
    ) as srv:
        client = await SmtpClient.connect(srv.host, srv.port)
        await client.send(b"EHLO test\r\n")
        yield srv, client
        await client.close()


def stats(tmp_path: Path) -> list[tuple[str, str, str, int]]:
    return store_mod.stats(store_mod.open_reader(tmp_path / "db"))


async def test_reply_with_cc_is_one_row(box: tuple[Running, SmtpClient], tmp_path: Path) -> None:
    _, smtp = box
    answers = await smtp.mail(ANN, ["hr@opm.example", BO], b"- did a", b"Message-ID: <m1@x>\r\n")
    assert [a[:3] for a in answers] == ["250", "250", "250", "354", "250"]
    again = await smtp.mail(ANN, ["hr@opm.example", BO], b"- did a", b"Message-ID: <m1@x>\r\n")
    assert again[-1].startswith("250")  # retried message: acknowledged, stored once
    rows = store_mod.replies_for(store_mod.open_reader(tmp_path / "db"), "DHS")
    assert len(rows) == 1 and rows[0]["cc"] == [BO] and rows[0]["collection"] == "opm-hr"


async def test_broadcast_batch_is_one_delivery_row(
    box: tuple[Running, SmtpClient], tmp_path: Path
) -> None:
    _, smtp = box
    answers = await smtp.mail("hr@opm.example", [ANN, BO, CY], b"What did you do last week?")
    assert answers[-1].startswith("250")
    conn = store_mod.open_reader(tmp_path / "db")
    assert store_mod.delivery_totals(conn) == (1, 3)


async def test_null_sender_delivery_reports_are_accepted(box: tuple[Running, SmtpClient]) -> None:
    _, smtp = box  # bounces arrive with MAIL FROM:<> (RFC 5321 4.5.5)
    answers = await smtp.send(b"MAIL FROM:<>\r\nRCPT TO:<hr@opm.example>\r\nRSET\r\n", 3)
    assert answers[0].startswith("250") and answers[1].startswith("250")


async def test_internal_collection_of_another_agency_is_refused(
    box: tuple[Running, SmtpClient],
) -> None:
    _, smtp = box
    assert (await smtp.auth("DOD")).startswith("235")
    answers = await smtp.send(
        f"MAIL FROM:<{CY}>\r\nRCPT TO:<accountability@hq.dhs.example>\r\n".encode(), 2
    )
    assert answers[1].startswith("550 5.7.1 collection is internal to DHS")


@pytest.mark.parametrize(
    ("sender", "rcpt", "code"),
    [
        ("stranger@x.example", "hr@opm.example", "550 5.7.1"),  # sender not in directory
        (CY, "accountability@hq.dhs.example", "530 5.7.0"),  # DHS-internal: AUTH required
        (ANN, "nobody@opm.example", "550 5.1.1"),  # unknown recipient
        ("hr@opm.example", "hr@opm.example", "550 5.7.1"),  # broadcast sender cannot reply
    ],
)
async def test_envelope_refusals(
    box: tuple[Running, SmtpClient], sender: str, rcpt: str, code: str
) -> None:
    _, smtp = box
    answers = await smtp.send(f"MAIL FROM:<{sender}>\r\nRCPT TO:<{rcpt}>\r\nRSET\r\n".encode(), 3)
    assert code in (answers[0] + answers[1])


@pytest.mark.parametrize(
    ("headers", "body", "expected"),
    [
        (b"", b"see https://x.example", "550 5.7.1 content rule broken: link"),
        (
            b"X-Pulsecheck-Round: r2\r\n",
            b"helped Bo Chan",
            "550 5.7.1 content rule broken: coworker_name",
        ),
        (b"X-Pulsecheck-Round: r9\r\n", b"ok", "550 5.6.0 unknown round"),
        (b"Content-Type: multipart/mixed\r\n", b"x", "550 5.6.0 malformed message"),
        (b"Bad header line\r\n", b"x", "550 5.6.0 malformed message"),
        (b"", b"\xff\xfe bad utf8", "550 5.6.0 malformed message"),
        (b"", b"x" * 100_000, "552 5.3.4"),  # over the size limit
        (b"", b"y" * 20_000, "550 5.6.0 message has a line longer"),  # a 20 kB line
    ],
)
async def test_message_refusals(
    box: tuple[Running, SmtpClient], tmp_path: Path, headers: bytes, body: bytes, expected: str
) -> None:
    _, smtp = box
    answers = await smtp.mail(ANN, ["hr@opm.example"], body, headers)
    assert answers[-1].startswith(expected)
    ok = await smtp.mail(ANN, ["hr@opm.example"], b"- fine", b"Message-ID: <after@x>\r\n")
    assert ok[-1].startswith("250")  # the session keeps serving


async def test_100kb_command_line_and_session_survives(box: tuple[Running, SmtpClient]) -> None:
    _, smtp = box
    answer = await smtp.send(b"MAIL FROM:<" + b"a" * 100_000 + b">\r\n")
    assert answer[0].startswith("500 5.5.2 line too long")
    assert (await smtp.mail(ANN, ["hr@opm.example"], b"- ok"))[-1].startswith("250")


async def test_sequence_errors(box: tuple[Running, SmtpClient]) -> None:
    _, smtp = box
    answers = await smtp.send(b"RCPT TO:<hr@opm.example>\r\nDATA\r\nFOO\r\nNOOP\r\n", 4)
    assert [a[:3] for a in answers] == ["503", "503", "500", "250"]


async def test_policy_limits(tmp_path: Path, directory: Directory) -> None:
    async with running_mailbox(
        tmp_path / "db",
        directory,
        ROUNDS,
        collections=COLLECTIONS,
        policy=Policy(per_hour=2, quota_bytes=10_000),
    ) as srv:
        smtp = await SmtpClient.connect(srv.host, srv.port)
        await smtp.send(b"EHLO t\r\n")
        for i in range(2):
            ok = await smtp.mail(
                ANN, ["hr@opm.example"], b"- a", f"Message-ID: <{i}@x>\r\n".encode()
            )
            assert ok[-1].startswith("250")
        limited = await smtp.mail(ANN, ["hr@opm.example"], b"- a")
        assert limited[1].startswith("452 4.2.1")
        full = await smtp.mail(ANN, [BO], (b"x" * 900 + b"\r\n") * 11)
        assert full[-1].startswith("250")
        refused = await smtp.mail(ANN, [BO], b"- a" * 100)  # fits at RCPT, not at DATA
        assert refused[-1].startswith("552 5.2.2 mailbox full")
        refused = await smtp.send(f"MAIL FROM:<{ANN}> SIZE=500\r\nRCPT TO:<{BO}>\r\n".encode(), 2)
        assert refused[1].startswith("552 5.2.2 mailbox full")  # declared SIZE over quota
        await smtp.close()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(junk=st.binary(max_size=400))
async def test_fuzz_session_then_valid_mail(box: tuple[Running, SmtpClient], junk: bytes) -> None:
    srv, _ = box
    fuzz = await SmtpClient.connect(srv.host, srv.port)
    fuzz.writer.write(junk.replace(b"\n", b"\r\n") + b"\r\nQUIT\r\n")
    await fuzz.writer.drain()
    await fuzz.close()
    smtp = await SmtpClient.connect(srv.host, srv.port)
    await smtp.send(b"EHLO t\r\n")
    assert (await smtp.mail(ANN, ["hr@opm.example"], b"- ok"))[-1].startswith("250")
    await smtp.close()
