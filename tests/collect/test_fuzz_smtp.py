"""Property-based fuzzing of the mailbox on loopback: commands, line ends, MIME, AUTH.

Each example talks to one in-process mailbox (`running_mailbox`) and checks:
- every line the client ends with LF gets exactly one answer (a bare CR ends no line);
- no answer is 451 4.3.0 "internal error" (a bug the catch-all caught);
- every message answered 250 is in the store exactly once per collection;
- the server stays alive: a normal reply from a new client gets 250 and is stored.
Bounded: `max_examples` per test and a generous per-example deadline keep the file
well under 60 s; every read has its own timeout.
"""

from __future__ import annotations

import base64
import itertools
import os
import sqlite3
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from simulator.collect.directory import Directory
from simulator.collect.servers import Running, running_mailbox
from simulator.tokens import mint_token

from .conftest import COLLECTIONS, ROUNDS, SECRET, SmtpClient

pytestmark = pytest.mark.integration
ANN, CY = "ann.lee@dhs.example", "cy.diaz@dod.example"
ADDRESSES = [ANN, CY, "bo.chan@dhs.example", "hr@opm.example", "accountability@hq.dhs.example"]
ADDRESSES += ["consolidation@dod.example", "nobody@x.example", ""]
FUZZ = settings(
    max_examples=int(os.environ.get("PULSECHECK_FUZZ_EXAMPLES", "40")),
    deadline=timedelta(seconds=15),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
_ids = itertools.count()


@pytest.fixture
async def server(tmp_path: Path, directory: Directory) -> AsyncIterator[Running]:
    async with running_mailbox(
        tmp_path / "db",
        directory,
        ROUNDS,
        collections=COLLECTIONS,
        secret=SECRET,
        sync="normal",
        max_message_bytes=200_000,
    ) as srv:
        yield srv


def message_id() -> str:
    return f"<fuzz-{next(_ids)}@fuzz.example>"


def rows_of(db: Path, mid: str) -> list[tuple[str, str]]:
    """(table or collection, key) of every stored row whose key holds `mid`."""
    with sqlite3.connect(db) as conn:
        like = f"%{mid}%"
        replies = conn.execute(
            "SELECT collection, idem_key FROM replies WHERE idem_key LIKE ?", (like,)
        )
        out = [(str(c), str(k)) for c, k in replies]
        deliveries = conn.execute("SELECT idem_key FROM deliveries WHERE idem_key LIKE ?", (like,))
        return out + [("delivery", str(k)) for (k,) in deliveries]


def assert_stored_once(db: Path, mid: str) -> None:
    rows = rows_of(db, mid)
    assert rows, f"{mid} answered 250 but not stored"
    places = [place for place, _ in rows]
    assert len(places) == len(set(places)), rows  # once per collection


async def still_alive(srv: Running, db: Path) -> None:
    smtp = await SmtpClient.connect(srv.host, srv.port)
    await smtp.send(b"EHLO alive\r\n")
    mid = message_id()
    answers = await smtp.mail(CY, ["hr@opm.example"], b"- alive", f"Message-ID: {mid}\r\n".encode())
    await smtp.close()
    assert answers[-1].startswith("250"), answers
    assert_stored_once(db, mid)


def no_internal_error(answer: str) -> None:
    assert not answer.startswith("451 4.3.0 internal"), answer


# -- random command sequences with random line ends ------------------------------------
VERBS = ["EHLO", "HELO", "MAIL", "RCPT", "DATA", "RSET", "NOOP", "VRFY", "AUTH", "QUIT"]
VERBS += ["BDAT", "STARTTLS", "FOO", "mail", "ehlo"]


@st.composite
def command(draw: st.DrawFn) -> bytes:
    verb = draw(st.sampled_from(VERBS))
    address = draw(st.sampled_from(ADDRESSES))
    arg = draw(
        st.sampled_from(
            [
                "",
                "fuzz.example",
                f"FROM:<{address}>",
                f"TO:<{address}>",
                f"FROM:<{address}> SIZE={draw(st.integers(0, 10**7))}",
                "PLAIN",
                "LOGIN",
                "FROM:" + address,
                "TO:<" + address,
            ]
        )
    )
    junk = draw(st.binary(max_size=12)) if draw(st.booleans()) else b""
    return (f"{verb} {arg}".strip()).encode() + junk.replace(b"\n", b"")


ENDINGS = st.sampled_from([b"\r\n", b"\r\n", b"\n", b"\r"])


def body(mid: str) -> bytes:
    return f"Message-ID: {mid}\r\nSubject: fuzz\r\n\r\n- fuzzed\r\n.\r\n".encode()


ENVELOPE = [b"EHLO fuzz.example", f"MAIL FROM:<{ANN}>".encode(), b"RCPT TO:<hr@opm.example>"]
STEPS = st.lists(st.tuples(command(), ENDINGS), min_size=1, max_size=14)


@st.composite
def sequences(draw: st.DrawFn) -> list[tuple[bytes, bytes]]:
    """Random steps, often around a valid envelope so that some DATA gets through."""
    steps = draw(STEPS)
    if draw(st.booleans()):
        at = draw(st.integers(0, len(steps)))
        valid = [(line, draw(st.sampled_from([b"\r\n", b"\n"]))) for line in ENVELOPE]
        steps[at:at] = [*valid, (b"DATA", b"\r\n")]
    return steps


@FUZZ
@given(steps=sequences())
async def test_random_command_sequences(
    server: Running, tmp_path: Path, steps: list[tuple[bytes, bytes]]
) -> None:
    smtp = await SmtpClient.connect(server.host, server.port)
    acked: list[str] = []
    closed = False
    answer = ""
    for line, ending in steps:
        smtp.writer.write(line + ending)
        if b"\n" not in ending:
            continue  # a bare CR ends no line: the next LF ends this one too
        answer = await smtp.reply()
        no_internal_error(answer)
        if answer.startswith("354"):
            mid = message_id()
            smtp.writer.write(body(mid))
            final = await smtp.reply()
            no_internal_error(final)
            if final.startswith("250"):
                acked.append(mid)
        if answer.startswith(("221", "421")):
            closed = True
            break
    event(f"messages stored: {len(acked)}")
    if not closed and b"\n" not in steps[-1][1]:  # end the pending bare-CR line: one answer
        answer = (await smtp.send(b"\r\n"))[0]
        closed = answer.startswith(("221", "421"))
    if not closed and answer.startswith("334"):  # an AUTH exchange waits: cancel it (RFC 4954)
        assert (await smtp.send(b"*\r\n"))[0].startswith("501")
    if not closed:
        assert (await smtp.send(b"QUIT\r\n"))[0].startswith("221")
    await smtp.close()
    for mid in acked:
        assert_stored_once(tmp_path / "db", mid)
    await still_alive(server, tmp_path / "db")


# -- MIME trees -------------------------------------------------------------------------
CHARSETS = ["utf-8", "us-ascii", "iso-8859-1", "utf-7", "utf-16", "x-unknown", "", "utf-8\x00"]
TEXTS = st.sampled_from(["- did a", "+2AA-", "caf\u00e9 \u2603", "=C3=A9", "", "\ud800x"])


def encode_leaf(text: str, charset: str, cte: str) -> bytes:
    try:
        raw = text.encode(charset.strip("\x00") or "utf-8", "surrogatepass")
    except (LookupError, UnicodeError):
        raw = text.encode("utf-8", "surrogatepass")
    if cte == "base64":
        return base64.encodebytes(raw).replace(b"\n", b"\r\n")
    if cte == "quoted-printable":
        import quopri

        return quopri.encodestring(raw).replace(b"\n", b"\r\n")
    return raw


@st.composite
def leaf(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["text/plain", "text/html", "application/pdf", "message/rfc822"]))
    charset = draw(st.sampled_from(CHARSETS))
    cte = draw(st.sampled_from(["", "7bit", "8bit", "base64", "quoted-printable", "x-bogus"]))
    content = encode_leaf(draw(TEXTS), charset, cte)
    head = f"Content-Type: {kind}" + (f"; charset={charset}" if charset else "") + "\r\n"
    if cte:
        head += f"Content-Transfer-Encoding: {cte}\r\n"
    return head.encode("utf-8", "surrogatepass") + b"\r\n" + content


def container(children: st.SearchStrategy[list[bytes]]) -> st.SearchStrategy[bytes]:
    @st.composite
    def build(draw: st.DrawFn) -> bytes:
        subtype = draw(st.sampled_from(["mixed", "alternative", "report", "related"]))
        boundary = draw(st.sampled_from(["b", "=_x", "a b", "", "--", "b" * 80]))
        parts = draw(children)
        closing = draw(st.sampled_from([True, True, True, False]))
        head = f'Content-Type: multipart/{subtype}; boundary="{boundary}"\r\n\r\n'.encode()
        inner = b"".join(f"--{boundary}\r\n".encode() + p + b"\r\n" for p in parts)
        return head + inner + (f"--{boundary}--\r\n".encode() if closing else b"")

    return build()


MIME = st.recursive(leaf(), lambda kids: container(st.lists(kids, max_size=4)), max_leaves=16)


@FUZZ
@given(tree=MIME, sender=st.sampled_from([ANN, ""]), ending=st.sampled_from([b"\r\n", b"\n"]))
async def test_mime_trees(
    server: Running, tmp_path: Path, tree: bytes, sender: str, ending: bytes
) -> None:
    smtp = await SmtpClient.connect(server.host, server.port)
    await smtp.send(b"EHLO mime" + ending)
    mid = message_id()
    headers = f"Message-ID: {mid}\r\nMIME-Version: 1.0\r\n".encode()
    answers = await smtp.mail(sender, ["hr@opm.example"], tree, headers)
    await smtp.close()
    for answer in answers:
        no_internal_error(answer)
    final = answers[-1]
    event(f"answer {final[:9]}")
    assert final[:1] in ("2", "4", "5"), final
    if final.startswith("250"):
        assert_stored_once(tmp_path / "db", mid)
        with sqlite3.connect(tmp_path / "db") as conn:
            for subject, text in conn.execute("SELECT subject, body FROM replies"):
                str(subject).encode("utf-8")
                str(text).encode("utf-8")
    await still_alive(server, tmp_path / "db")


# -- AUTH exchanges ---------------------------------------------------------------------
def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


GOOD_PLAIN = b64(f"\0DHS\0{mint_token(SECRET, 'DHS')}".encode())
AUTH_LINES = st.one_of(
    st.sampled_from(
        [
            "AUTH PLAIN " + GOOD_PLAIN,
            "AUTH PLAIN",
            "AUTH LOGIN",
            "AUTH LOGIN " + b64(b"DHS"),
            "AUTH PLAIN =",
            "AUTH CRAM-MD5",
            "AUTH",
            GOOD_PLAIN,
            b64(b"DHS"),
            b64(mint_token(SECRET, "DHS").encode()),
            "*",
            "NOOP",
        ]
    ),
    st.binary(max_size=60).map(b64),
    st.binary(max_size=40).map(lambda b: b.decode("latin-1").replace("\n", "")),
)


@st.composite
def auth_exchanges(draw: st.DrawFn) -> list[tuple[str, bytes]]:
    """Random AUTH lines, often with a valid login (two-step or not) among them."""
    lines = draw(st.lists(st.tuples(AUTH_LINES, ENDINGS), min_size=1, max_size=8))
    login = ["AUTH LOGIN", b64(b"DHS"), b64(mint_token(SECRET, "DHS").encode())]
    good = draw(
        st.sampled_from([[], [f"AUTH PLAIN {GOOD_PLAIN}"], ["AUTH PLAIN", GOOD_PLAIN], login])
    )
    at = draw(st.integers(0, len(lines)))
    lines[at:at] = [(line, b"\r\n") for line in good]
    return lines


@FUZZ
@given(lines=auth_exchanges())
async def test_auth_exchanges(
    server: Running, tmp_path: Path, lines: list[tuple[str, bytes]]
) -> None:
    smtp = await SmtpClient.connect(server.host, server.port)
    await smtp.send(b"EHLO auth\r\n")
    authenticated = False
    closed = False
    for text, ending in lines:
        smtp.writer.write(text.encode("latin-1") + ending)
        if b"\n" not in ending:
            continue
        answer = await smtp.reply()
        no_internal_error(answer)
        assert "DHS." not in answer  # no reply echoes a credential
        authenticated = authenticated or answer.startswith("235")
        if answer.startswith("421"):
            closed = True
            break
    event(f"authenticated: {authenticated}")
    if not closed:
        await smtp.send(b"*\r\n")  # ends a pending line, or cancels a pending AUTH step
        mid = message_id()
        answers = await smtp.mail(
            ANN, ["accountability@hq.dhs.example"], b"- ok", f"Message-ID: {mid}\r\n".encode()
        )
        if authenticated:
            assert answers[-1].startswith("250"), answers
            assert_stored_once(tmp_path / "db", mid)
        else:
            assert answers[1].startswith(("530", "503")), answers
    await smtp.close()
    await still_alive(server, tmp_path / "db")
