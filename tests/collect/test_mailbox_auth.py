"""SMTP AUTH per agency: who may write where, as whom; keys scoped by principal.

User = agency code, password = `mint_token(secret, agency)`, as the API's tokens. AUTH is
required for collections internal to an agency and optional elsewhere; an authenticated
session sends only from its agency's addresses; the null sender files no replies. The
replay engine's SMTP client logs in when given the secret.
"""

from __future__ import annotations

import base64
import logging
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from simulator.collect import store as store_mod
from simulator.collect.directory import Directory
from simulator.collect.servers import Running, running_mailbox
from simulator.replay.smtp import SmtpTarget, wire
from simulator.tokens import kid_of, mint_token
from simulator.traffic.payload import SmtpMessage

from .conftest import COLLECTIONS, ROUNDS, SECRET, SmtpClient

pytestmark = pytest.mark.integration
ANN, BO, CY = "ann.lee@dhs.example", "bo.chan@dhs.example", "cy.diaz@dod.example"
HR, DHS_BOX = "hr@opm.example", "accountability@hq.dhs.example"
DOD_BOX = "consolidation@dod.example"
REPORT = (
    b"Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n"
    b"Message-ID: <dsn-1@x>\r\n",
    b"--b\r\nContent-Type: text/plain\r\n\r\nundeliverable\r\n"
    b"--b\r\nContent-Type: message/delivery-status\r\n\r\nStatus: 5.1.1\r\n--b--",
)


@pytest.fixture
async def server(tmp_path: Path, directory: Directory) -> AsyncIterator[Running]:
    async with running_mailbox(
        tmp_path / "db", directory, ROUNDS, collections=COLLECTIONS, secret=SECRET
    ) as srv:
        yield srv


async def session(srv: Running) -> SmtpClient:
    smtp = await SmtpClient.connect(srv.host, srv.port)
    assert "AUTH PLAIN LOGIN" in (await smtp.send(b"EHLO t\r\n"))[0]
    return smtp


def replies(tmp_path: Path) -> list[tuple[str, str, str, str]]:
    with sqlite3.connect(tmp_path / "db") as conn:
        rows = conn.execute("SELECT collection, agency, sender, body FROM replies ORDER BY id")
        return [(str(c), str(a), str(s), str(b).strip()) for c, a, s, b in rows]


def b64(text: str) -> bytes:
    return base64.b64encode(text.encode())


async def test_internal_collection_needs_its_agency(server: Running, tmp_path: Path) -> None:
    anon = await session(server)
    refused = await anon.mail(ANN, [DHS_BOX], b"- a")
    assert refused[1].startswith("530 5.7.0 authentication required")
    await anon.close()
    dod = await session(server)
    assert (await dod.auth("DOD")).startswith("235")
    assert (await dod.mail(CY, [DHS_BOX], b"- a"))[1].startswith("550 5.7.1 collection is internal")
    assert (await dod.mail(CY, [DOD_BOX], b"- a"))[-1].startswith("250")
    await dod.close()
    dhs = await session(server)
    assert (await dhs.auth("DHS")).startswith("235")
    assert (await dhs.mail(ANN, [DHS_BOX, BO], b"- b"))[-1].startswith("250")
    await dhs.close()
    assert replies(tmp_path) == [
        ("dod-consolidation", "DOD", CY, "- a"),
        ("dhs-accountability", "DHS", ANN, "- b"),
    ]


async def test_authenticated_session_sends_only_as_its_agency(server: Running) -> None:
    dod = await session(server)
    assert (await dod.auth("DOD")).startswith("235")
    answers = await dod.send(f"MAIL FROM:<{ANN}>\r\nMAIL FROM:<hr@opm.example>\r\n".encode(), 2)
    assert answers[0].startswith("550 5.7.1 sender is not an address of agency DOD")
    assert answers[1].startswith("550 5.7.1")
    assert (await dod.mail(CY, [HR], b"- fine"))[-1].startswith("250")
    await dod.close()


async def test_unauthenticated_mail_to_open_collections_still_works(
    server: Running, tmp_path: Path
) -> None:
    smtp = await session(server)
    assert (await smtp.mail(ANN, [HR, BO], b"- a"))[-1].startswith("250")
    await smtp.close()
    assert replies(tmp_path) == [("opm-hr", "DHS", ANN, "- a")]


@pytest.mark.parametrize(
    ("exchange", "first", "last"),
    [
        ([b"AUTH PLAIN " + b64("\0DHS\0wrong")], "535 5.7.8", "535 5.7.8"),
        ([b"AUTH PLAIN " + b64(f"\0DOD\0{mint_token(SECRET, 'DHS')}")], "535", "535"),
        ([b"AUTH PLAIN " + b64(f"\0DHS\0{mint_token(b'x' * 32, 'DHS')}")], "535", "535"),
        ([b"AUTH PLAIN", b64(f"\0DHS\0{mint_token(SECRET, 'DHS')}")], "334", "235 2.7.0"),
        ([b"AUTH LOGIN", b64("DHS"), b64(mint_token(SECRET, "DHS"))], "334", "235 2.7.0"),
        ([b"AUTH LOGIN " + b64("DHS"), b64(mint_token(SECRET, "DHS"))], "334", "235 2.7.0"),
        ([b"AUTH LOGIN", b64("DHS"), b64("nope")], "334", "535 5.7.8"),
        ([b"AUTH PLAIN", b"*"], "334", "501 5.0.0"),
        ([b"AUTH PLAIN !!notbase64"], "501 5.5.2", "501 5.5.2"),
        ([b"AUTH CRAM-MD5"], "504 5.5.4", "504 5.5.4"),
        ([b"AUTH PLAIN " + b64("onlyone")], "501 5.5.2", "501 5.5.2"),
    ],
    ids=[
        "wrong-password",
        "other-agencys-token",
        "other-secret",
        "plain-two-step",
        "login",
        "login-initial",
        "login-wrong",
        "cancel",
        "not-base64",
        "unknown-mechanism",
        "plain-malformed",
    ],
)
async def test_auth_exchanges(
    server: Running,
    exchange: list[bytes],
    first: str,
    last: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    smtp = await session(server)
    with caplog.at_level(logging.DEBUG):
        answers = [(await smtp.send(line + b"\r\n"))[0] for line in exchange]
        noop = await smtp.send(b"NOOP\r\n")
    assert answers[0].startswith(first) and answers[-1].startswith(last), answers
    assert noop[0].startswith("250")  # every step answered, the session goes on
    await smtp.close()
    token = mint_token(SECRET, "DHS")
    assert token not in caplog.text and token.split(".")[-1] not in caplog.text


async def test_auth_is_once_per_session_and_not_mid_transaction(server: Running) -> None:
    smtp = await session(server)
    answers = await smtp.send(f"MAIL FROM:<{ANN}>\r\n".encode())
    assert answers[0].startswith("250")
    assert (await smtp.auth("DHS")).startswith("503")
    await smtp.send(b"RSET\r\n")
    assert (await smtp.auth("DHS")).startswith("235")
    assert (await smtp.auth("DHS")).startswith("503 5.5.1 already authenticated")
    await smtp.close()


async def test_no_secret_no_auth(tmp_path: Path, directory: Directory) -> None:
    async with running_mailbox(tmp_path / "db", directory, ROUNDS, collections=COLLECTIONS) as srv:
        smtp = await SmtpClient.connect(srv.host, srv.port)
        assert "AUTH" not in (await smtp.send(b"EHLO t\r\n"))[0]
        assert (await smtp.auth("DHS")).startswith("502")
        assert (await smtp.mail(ANN, [DHS_BOX], b"- a"))[1].startswith("530")
        await smtp.close()


async def test_null_sender_files_delivery_reports_only(server: Running, tmp_path: Path) -> None:
    smtp = await session(server)
    reply = await smtp.mail("", [HR], b"- I am a reply with no sender")
    assert reply[-1].startswith("550 5.7.1 the null sender may only send delivery reports")
    headers, body = REPORT
    assert (await smtp.mail("", [HR], body, headers))[-1].startswith("250")
    await smtp.close()
    assert replies(tmp_path) == []
    assert store_mod.delivery_totals(store_mod.open_reader(tmp_path / "db")) == (1, 1)


async def test_forged_message_id_first_does_not_swallow_the_genuine_reply(
    server: Running, tmp_path: Path
) -> None:
    mid = b"Message-ID: <42.7@pulsecheck.example>\r\n"  # predictable: EVENT.SEED
    forger = await session(server)  # no credentials: it can only write as `anon`
    assert (await forger.mail(ANN, [HR], b"- forged", mid))[-1].startswith("250")
    await forger.close()
    genuine = await session(server)
    assert (await genuine.auth("DHS")).startswith("235")
    assert (await genuine.mail(ANN, [HR], b"- genuine", mid))[-1].startswith("250")
    assert (await genuine.mail(ANN, [HR], b"- genuine", mid))[-1].startswith("250")  # retry
    await genuine.close()
    assert [body for *_, body in replies(tmp_path)] == ["- forged", "- genuine"]
    with sqlite3.connect(tmp_path / "db") as conn:
        keys = sorted(k for (k,) in conn.execute("SELECT idem_key FROM replies"))
    assert keys == [
        "smtp:DHS/<42.7@pulsecheck.example>#opm-hr",
        "smtp:anon/<42.7@pulsecheck.example>#opm-hr",
    ]


def message(sender: str, rcpts: list[str], n: int) -> SmtpMessage:
    data = f"From: {sender}\r\nMessage-ID: <{n}.1@pulsecheck.example>\r\n\r\n- item {n}\r\n"
    return SmtpMessage(sender, rcpts, data.encode())


async def test_replay_client_authenticates_per_agency(server: Running, tmp_path: Path) -> None:
    target = SmtpTarget(server.host, server.port, 10.0, lambda a: mint_token(SECRET, a))
    session_ = await target.open()
    plan = [
        (message(ANN, [DHS_BOX, BO], 1), "DHS"),
        (message(CY, [DOD_BOX], 2), "DOD"),  # another agency: a new connection
        (message(ANN, [HR], 3), "DHS"),
        (message("hr@opm.example", [ANN, CY], 4), None),  # the broadcast, unauthenticated
    ]
    outcomes = [await session_.deliver(wire(m, agency)) for m, agency in plan]
    assert server.mailbox is not None  # DHS's connection was parked and taken up again:
    assert len(server.mailbox.sessions) == 3  # one per principal (DHS, DOD, none)
    await session_.close()
    await target.aclose()
    assert [o.status for o in outcomes] == [250, 250, 250, 250]
    assert [(c, a) for c, a, *_ in replies(tmp_path)] == [
        ("dhs-accountability", "DHS"),
        ("dod-consolidation", "DOD"),
        ("opm-hr", "DHS"),
    ]
    unauthenticated = SmtpTarget(server.host, server.port, 10.0)
    session_ = await unauthenticated.open()
    out = await session_.deliver(wire(message(ANN, [DHS_BOX], 5)))
    await session_.close()
    assert out.status == 530


def test_replay_target_prepares_principals_from_the_payload() -> None:
    class FakePayload:
        broadcast_sender = "hr@opm.example"

        def smtp_messages(self, start: int, stop: int) -> list[SmtpMessage]:
            return [message(ANN, [HR], 1), message("hr@opm.example", [ANN], 2)]

        def agencies(self, start: int, stop: int) -> list[str]:
            return ["DHS", "DHS"]

    target = SmtpTarget("127.0.0.1", 1, tokens=lambda a: mint_token(SECRET, a))
    wires = target.prepare(FakePayload(), 0, 2)  # type: ignore[arg-type]
    assert [w[3] for w in wires] == ["DHS", None]
    assert [w[3] for w in SmtpTarget("127.0.0.1", 1).prepare(FakePayload(), 0, 2)] == [None, None]  # type: ignore[arg-type]


async def test_expired_and_revoked_tokens_are_refused_naming_which(
    tmp_path: Path, directory: Directory
) -> None:
    revoked_file = tmp_path / "revoked"
    revoked = mint_token(SECRET, "DHS")
    revoked_file.write_text(kid_of(revoked) + "\n")
    expired = mint_token(SECRET, "DHS", ttl_s=60, now=time.time() - 3600)
    async with running_mailbox(
        tmp_path / "db",
        directory,
        ROUNDS,
        collections=COLLECTIONS,
        secret=SECRET,
        revoked_path=str(revoked_file),
    ) as srv:
        smtp = await session(srv)
        for token, why in ((expired, "token expired at"), (revoked, "token revoked")):
            plain = b"AUTH PLAIN " + b64(f"\0DHS\0{token}") + b"\r\n"
            answer = (await smtp.send(plain))[0]
            assert answer.startswith(f"535 5.7.8 authentication credentials invalid: {why}")
            assert token.split(".")[-1] not in answer
        assert (await smtp.auth("DHS")).startswith("235")  # a fresh token still works
        await smtp.close()
