"""Reading received messages and SMTP command syntax."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulator.collect.message import MessageError, parse_message
from simulator.collect.smtp_wire import (
    SyntaxProblem,
    longest_line,
    parse_command,
    parse_path,
    unstuff,
)


def test_plain_message() -> None:
    raw = b"Subject: Re: week\r\nMessage-ID: <a@b>\r\nX-Pulsecheck-Round: r2\r\n\r\n- one\r\n"
    msg = parse_message(raw)
    assert (msg.message_id, msg.round, msg.subject, msg.text) == (
        "<a@b>",
        "r2",
        "Re: week",
        "- one\r\n",
    )
    assert msg.attachments == 0


def test_multipart_counts_attachments_and_finds_text() -> None:
    raw = (
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
        b"Content-Type: text/plain; charset=utf-8\r\n\r\nhello\r\n--b\r\n"
        b"Content-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n"
        b"\r\nAAAA\r\n--b--\r\n"
    )
    msg = parse_message(raw)
    assert msg.text.strip() == "hello" and msg.attachments == 1


def test_html_reply_text_is_its_html() -> None:
    html = "<html><body><p>Closed 12 tickets</p></body></html>"
    raw = ("From: a@dhs.example\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + html).encode()
    assert parse_message(raw).text == html  # screened later on its visible text
    alt = (
        b"From: a@dhs.example\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/alternative; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n"
        b"--b\r\nContent-Type: text/plain\r\n\r\nplain\r\n--b--\r\n"
    )
    assert parse_message(alt).text.strip() == "plain"  # the plain part when there is one


def test_encoded_subject_and_latin1_body() -> None:
    raw = (
        b"Subject: =?utf-8?q?caf=C3=A9?=\r\nContent-Type: text/plain; charset=latin-1\r\n"
        b"\r\ncaf\xe9\r\n"
    )
    msg = parse_message(raw)
    assert msg.subject == "café" and msg.text.strip() == "café"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"Content-Type: multipart/mixed\r\n\r\nx", "NoBoundaryInMultipartDefect"),
        (b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n\r\nx\r\n', "CloseBoundary"),
        (b"not a header\r\n\r\nbody", "malformed header"),
        (b"A: b\r\n\r\n\xff\xfe", "not valid UTF-8"),
        (b"A: b\rInjected: yes\r\n\r\nx", "bare CR"),
        (b"A: \x00\r\n\r\nx", "NUL"),
    ],
)
def test_malformed_messages(raw: bytes, reason: str) -> None:
    with pytest.raises(MessageError, match=reason):
        parse_message(raw)


@given(st.binary(max_size=2000))
def test_fuzz_message_raises_only_message_error(raw: bytes) -> None:
    with contextlib.suppress(MessageError):
        parse_message(raw)


def test_parse_path_and_params() -> None:
    assert parse_path("FROM:<A@B.example> SIZE=10", "FROM:") == ("a@b.example", {"SIZE": "10"})
    assert parse_path("FROM:<>", "FROM:") == ("", {})
    for bad in ("FROM:a@b", "FROM:<a@b", "TO:<a@b>", "FROM:<a b@c>"):
        with pytest.raises(SyntaxProblem):
            parse_path(bad, "FROM:")


def test_parse_command() -> None:
    assert parse_command(b"mail FROM:<a@b>") == ("MAIL", "FROM:<a@b>")
    with pytest.raises(SyntaxProblem):
        parse_command(b"MAIL \xff")


def test_unstuff_and_line_length() -> None:
    assert unstuff(b"..a\r\n..b\r\n") == b".a\r\n.b\r\n"
    assert longest_line(b"x" * 2000 + b"\r\nab") == 2000
    assert longest_line(b"short") == 0
