"""SMTP command syntax (RFC 5321), as pure functions over one command line.

Theory of operation: the session reads CRLF-terminated lines and asks `parse_command`
for the verb and argument, then `parse_path` for `MAIL FROM:<...>` / `RCPT TO:<...>`
with their ESMTP parameters. Anything it cannot read raises `SyntaxProblem`, which the
session answers with 501. Addresses are returned lower-cased.

SMTP AUTH (RFC 4954) PLAIN (RFC 4616) and LOGIN carry base64 text; `decode_plain` and
`decode_b64` turn a client's response into text, raising `SyntaxProblem` (501) when it
is not base64 or not the mechanism's form. `check_login` checks that the password is a
valid token (`simulator.tokens.check_token`) of the agency named as user. None of them
puts a credential in its error.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable

MAX_COMMAND_LINE = 2048  # RFC 5321 says 512; extensions may add to it
MAX_TEXT_LINE = 998  # RFC 5322 §2.1.1, excluding CRLF

_AGENCY = re.compile(r"[A-Z][A-Z0-9_\-]{0,31}")
_ADDRESS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.\-]{1,64}@[A-Za-z0-9.\-]{1,253}")


class SyntaxProblem(ValueError):
    """A command argument that does not parse (answered 501)."""


def parse_command(line: bytes) -> tuple[str, str]:
    """(VERB, argument) of one command line without its CRLF."""
    try:
        text = line.decode("ascii")
    except UnicodeDecodeError:
        raise SyntaxProblem("5.5.2 command must be ASCII") from None
    if any(ch in text for ch in "\r\n\x00"):
        raise SyntaxProblem("5.5.2 bare CR, LF or NUL in command")
    verb, _, arg = text.partition(" ")
    return verb.upper(), arg.strip()


def parse_path(arg: str, prefix: str) -> tuple[str, dict[str, str]]:
    """`FROM:<a@b> SIZE=10` -> ("a@b", {"SIZE": "10"}); "" for the null path <>."""
    if arg[: len(prefix)].upper() != prefix:
        raise SyntaxProblem(f"5.5.4 syntax: expected {prefix}<address>")
    rest = arg[len(prefix) :].lstrip()
    if not rest.startswith("<"):
        raise SyntaxProblem("5.5.4 syntax: address must be in angle brackets")
    end = rest.find(">")
    if end < 0:
        raise SyntaxProblem("5.5.4 syntax: missing '>'")
    address = rest[1:end]
    if address and not _ADDRESS.fullmatch(address):
        raise SyntaxProblem("5.1.3 bad address syntax")
    return address.lower(), _params(rest[end + 1 :])


def _params(text: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for word in text.split():
        key, _, value = word.partition("=")
        params[key.upper()] = value
    return params


def unstuff(data: bytes) -> bytes:
    """Undo dot-stuffing (RFC 5321 §4.5.2) of a message that begins at a line start."""
    if b"\r\n.." in data:
        data = data.replace(b"\r\n..", b"\r\n.")
    return data[1:] if data.startswith(b"..") else data


def longest_line(data: bytes) -> int:
    """Length of the longest CRLF-delimited line (0 for short messages, cheaply)."""
    if len(data) <= MAX_TEXT_LINE:
        return 0
    return max(len(line) for line in data.split(b"\r\n"))


def decode_b64(text: str) -> str:
    """One base64 AUTH response as UTF-8 text (RFC 4954 §4)."""
    try:
        return base64.b64decode(text.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise SyntaxProblem("5.5.2 AUTH response is not base64 of UTF-8 text") from None


def decode_plain(text: str) -> tuple[str, str]:
    """(user, password) of a PLAIN response `[authzid] NUL authcid NUL passwd` (RFC 4616)."""
    fields = decode_b64(text).split("\x00")
    if len(fields) != 3 or (fields[0] and fields[0] != fields[1]):
        raise SyntaxProblem("5.5.2 AUTH PLAIN response must be [authzid] NUL user NUL password")
    return fields[1], fields[2]


def check_login(
    user: str, password: str, verify: Callable[[str], tuple[str | None, str]]
) -> tuple[str | None, str]:
    """(agency, "") when `password` is a valid token of agency `user`, else (None, reason).

    `verify(token)` checks the token (signature in constant time, expiry, revocation) and
    gives (its agency, "") or (None, why); the reason never holds the token."""
    if not _AGENCY.fullmatch(user):
        return None, "user must be an agency code"
    agency, reason = verify(password)
    if agency is None:
        return None, reason
    if agency != user:
        return None, "token of another agency"
    return agency, ""
