"""No single message can disable the store or leave a session without an answer.

A UTF-7 body or encoded-word subject can decode to a lone UTF-16 surrogate, which SQLite
cannot encode; MIME nested thousands deep blew Python's recursion limit. Each such
message must get its own answer (250 with the text made storable, or 550 naming the
reason), and a normal message from another client must still be stored afterwards.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from simulator.collect import mailbox as mailbox_mod
from simulator.collect import store as store_mod
from simulator.collect.directory import Directory
from simulator.collect.servers import Running, running_mailbox

from .conftest import COLLECTIONS, ROUNDS, SmtpClient

pytestmark = pytest.mark.integration
ANN, BO, CY = "ann.lee@dhs.example", "bo.chan@dhs.example", "cy.diaz@dod.example"
UTF7_BODY = (
    b"Content-Type: text/plain; charset=utf-7\r\nMessage-ID: <bad-body@x>\r\n",
    b"- did +2AA- things",
)
UTF7_SUBJECT = (b"Subject: =?utf-7?q?+2AA-?=\r\nMessage-ID: <bad-subject@x>\r\n", b"- ok")
REPORT_UTF7 = (
    b"Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n"
    b"Subject: =?utf-7?q?+2AA-?=\r\nMessage-ID: <bad-report@x>\r\n",
    b"--b\r\nContent-Type: text/plain; charset=utf-7\r\n\r\n+2AA-\r\n"
    b"--b\r\nContent-Type: message/delivery-status\r\n\r\nStatus: 5.1.1\r\n--b--",
)


@pytest.fixture
async def server(tmp_path: Path, directory: Directory) -> AsyncIterator[Running]:
    async with running_mailbox(tmp_path / "db", directory, ROUNDS, collections=COLLECTIONS) as srv:
        yield srv


async def session(srv: Running) -> SmtpClient:
    smtp = await SmtpClient.connect(srv.host, srv.port)
    await smtp.send(b"EHLO t\r\n")
    return smtp


def rows(tmp_path: Path) -> list[dict[str, object]]:
    reader = store_mod.open_reader(tmp_path / "db")
    return [*store_mod.replies_for(reader, "DHS"), *store_mod.replies_for(reader, "DOD")]


async def normal_reply_from_another_client(srv: Running, tmp_path: Path, mid: str) -> None:
    other = await session(srv)
    answers = await other.mail(CY, ["hr@opm.example"], b"- fine", f"Message-ID: {mid}\r\n".encode())
    await other.close()
    assert answers[-1].startswith("250"), answers[-1]
    assert any(str(r["body"]).strip() == "- fine" and r["sender"] == CY for r in rows(tmp_path))


@pytest.mark.parametrize(
    ("sender", "message"),
    [(ANN, UTF7_BODY), (ANN, UTF7_SUBJECT), ("", UTF7_BODY), ("", REPORT_UTF7)],
    ids=["utf7-body", "utf7-subject", "null-sender-body", "null-sender-report"],
)
async def test_lone_surrogate_does_not_disable_the_store(
    server: Running, tmp_path: Path, sender: str, message: tuple[bytes, bytes]
) -> None:
    headers, body = message
    smtp = await session(server)
    answers = await smtp.mail(sender, ["hr@opm.example"], body, headers)
    await smtp.close()
    assert answers[-1][:3] in ("250", "550"), answers[-1]  # its own answer, not 451
    await normal_reply_from_another_client(server, tmp_path, f"<after-{len(headers)}@x>")
    for row in rows(tmp_path):  # whatever was stored is valid text
        str(row["subject"]).encode("utf-8")
        str(row["body"]).encode("utf-8")


async def test_surrogates_become_replacement_characters(server: Running, tmp_path: Path) -> None:
    smtp = await session(server)
    for headers, body in (UTF7_BODY, UTF7_SUBJECT):
        assert (await smtp.mail(ANN, ["hr@opm.example"], body, headers))[-1].startswith("250")
    await smtp.close()
    stored = {f"{r['subject']}|{str(r['body']).strip()}" for r in rows(tmp_path)}
    assert stored == {"|- did \ufffd things", "\ufffd|- ok"}


def nested(depth: int) -> tuple[bytes, bytes]:
    """A multipart/mixed tree `depth` containers deep with one text leaf."""
    head = b"Content-Type: multipart/mixed; boundary=b0\r\n"
    body = b""
    for level in range(1, depth):
        part = f"--b{level - 1}\r\nContent-Type: multipart/mixed; boundary=b{level}\r\n\r\n"
        body += part.encode()
    body += f"--b{depth - 1}\r\nContent-Type: text/plain\r\n\r\n- deep\r\n".encode()
    for level in range(depth - 1, -1, -1):
        body += f"--b{level}--\r\n".encode()
    return head, body


def many_parts(count: int) -> tuple[bytes, bytes]:
    head = b"Content-Type: multipart/mixed; boundary=b\r\n"
    part = b"--b\r\nContent-Type: text/plain\r\n\r\n- part\r\n"
    return head, part * count + b"--b--\r\n"


def deep_comment() -> tuple[bytes, bytes]:
    """A part whose Content-Disposition nests 5,000 comments, folded into short lines."""
    value = b"(" * 5_000 + b")" * 5_000
    folded = b"\r\n ".join(value[i : i + 500] for i in range(0, len(value), 500))
    head = b"Content-Type: multipart/mixed; boundary=b\r\n"
    part = b"--b\r\nContent-Disposition: attachment; x=" + folded + b"\r\n\r\nhi\r\n--b--\r\n"
    return head, part


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (deep_comment(), "550 5.6.0 malformed message: header or MIME structure nested too deep"),
        (nested(2_000), "550 5.6.0 malformed message: too many MIME parts (limit 100)"),
        (nested(40), "550 5.6.0 malformed message: MIME nested too deep (limit 10 levels)"),
        (many_parts(500), "550 5.6.0 malformed message: too many MIME parts (limit 100)"),
    ],
    ids=["deep-comment", "nested-2000", "nested-40", "parts-500"],
)
async def test_mime_bombs_are_refused_naming_the_limit(
    server: Running, tmp_path: Path, message: tuple[bytes, bytes], reason: str
) -> None:
    headers, body = message
    smtp = await session(server)
    answers = await smtp.mail(ANN, ["hr@opm.example"], body, headers)
    assert answers[-1] == reason
    ok = await smtp.mail(ANN, ["hr@opm.example"], b"- fine", b"Message-ID: <after@x>\r\n")
    assert ok[-1].startswith("250")
    await smtp.close()


async def test_a_modest_mime_tree_is_still_read(server: Running, tmp_path: Path) -> None:
    headers, body = nested(8)
    smtp = await session(server)
    assert (await smtp.mail(ANN, ["hr@opm.example"], body, headers))[-1].startswith("250")
    await smtp.close()
    assert [str(r["body"]).strip() for r in rows(tmp_path)] == ["- deep"]


async def test_an_unexpected_exception_is_answered_451_and_logged_by_type_only(
    server: Running, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(data: bytes) -> object:
        raise KeyError("secret reply text")

    monkeypatch.setattr(mailbox_mod, "parse_message", broken)
    smtp = await session(server)
    with caplog.at_level(logging.ERROR, logger="pulsecheck.collect.mailbox"):
        answers = await smtp.mail(ANN, ["hr@opm.example"], b"- secret reply text")
    assert answers[-1].startswith("451 4.3.0")
    assert (await smtp.send(b"NOOP\r\n"))[0].startswith("250")  # the session goes on
    await smtp.close()
    assert "KeyError" in caplog.text and "secret reply text" not in caplog.text
