"""Reading one received mail message: the few headers the mailbox needs, text, attachments.

Theory of operation: most replies are plain text, so the fast path splits the header
block by hand and decodes the body once. Anything MIME (multipart, base64, quoted-
printable, a non-UTF-8 charset) goes to the standard `email` parser, whose structural
defects (no boundary, missing start or end boundary, bad base64) make the message
malformed. Every problem raises `MessageError` with a reason that names the problem but
never quotes the message text.

Limits: before the `email` parser runs, the number of Content-Type header lines bounds
the parts and the nesting (each nested container declares its type), so a message with
more than `MAX_PARTS` is refused unparsed; after parsing, nesting deeper than
`MAX_DEPTH` is refused. Both keep the recursive parser far from Python's recursion limit;
a header the `email` package cannot parse without hitting it (thousands of nested
comments, folded over many lines) is malformed too.
Decoded text is always storable: a charset such as UTF-7 can decode to lone UTF-16
surrogates (`+2AA-`), which no UTF-8 encoder accepts; they become U+FFFD.
"""

from __future__ import annotations

import email.errors
import email.header
import email.parser
import email.policy
import re
from dataclasses import dataclass
from email.message import EmailMessage

ROUND_HEADER = "x-pulsecheck-round"
MAX_PARTS = 100  # MIME parts (containers and leaves) in one message
MAX_DEPTH = 10  # MIME containers nested in each other
_CONTENT_TYPE_LINE = re.compile(rb"(?im)^content-type[ \t]*:")
_SURROGATE = re.compile("[\ud800-\udfff]")

_FATAL_DEFECTS = (
    email.errors.NoBoundaryInMultipartDefect,
    email.errors.StartBoundaryNotFoundDefect,
    email.errors.CloseBoundaryNotFoundDefect,
    email.errors.MultipartInvariantViolationDefect,
    email.errors.InvalidBase64PaddingDefect,
    email.errors.InvalidBase64CharactersDefect,
    email.errors.InvalidBase64LengthDefect,
    email.errors.MissingHeaderBodySeparatorDefect,
)
_PLAIN_ENCODINGS = ("", "7bit", "8bit")
_TEXT_TYPES = ("text/plain", "text/html")  # the text screened; HTML as `screen.visible_text`
_UTF8_NAMES = ("", "utf-8", "utf8", "us-ascii", "ascii")


class MessageError(ValueError):
    """A message the mailbox refuses as malformed (answered 550 5.6.0)."""


@dataclass(frozen=True, slots=True)
class Message:
    message_id: str  # "" when the message has none
    round: str  # "" when the message does not say
    subject: str
    text: str
    attachments: int
    is_report: bool = False  # multipart/report: a delivery status notification (RFC 6522)


def storable(text: str) -> str:
    """`text` with lone surrogates replaced by U+FFFD, so it always encodes as UTF-8."""
    return text if text.isascii() else _SURROGATE.sub("\ufffd", text)


def parse_message(data: bytes) -> Message:
    """Read a message as received after DATA (CRLF line ends, dots unstuffed)."""
    head, body = _split(data)
    headers = parse_headers(head)
    content_type = headers.get("content-type", "text/plain")
    mime_type, params = _content_type(content_type)
    encoding = headers.get("content-transfer-encoding", "").strip().lower()
    charset = params.get("charset", "").lower()
    if mime_type in _TEXT_TYPES and encoding in _PLAIN_ENCODINGS and charset in _UTF8_NAMES:
        text, attachments = _utf8(body), 0
    else:
        text, attachments = _mime_content(data)
    return Message(
        message_id=headers.get("message-id", "").strip(),
        round=headers.get(ROUND_HEADER, "").strip(),
        subject=storable(_decoded(headers.get("subject", ""))),
        text=storable(text),
        attachments=attachments,
        is_report=mime_type == "multipart/report",
    )


def _split(data: bytes) -> tuple[bytes, bytes]:
    if data.startswith(b"\r\n"):
        return b"", data[2:]
    head, sep, body = data.partition(b"\r\n\r\n")
    return (head, body) if sep else (data, b"")


def parse_headers(head: bytes) -> dict[str, str]:
    """Header name (lower case) -> first value, continuation lines unfolded."""
    if b"\x00" in head:
        raise MessageError("header contains NUL")
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        raise MessageError("header is not valid UTF-8") from None
    headers: dict[str, str] = {}
    name = ""
    for line in text.split("\r\n") if text else ():
        if "\r" in line or "\n" in line:
            raise MessageError("header has a bare CR or LF")
        if line[:1] in (" ", "\t") and name:
            headers[name] += " " + line.strip()
            continue
        key, colon, value = line.partition(":")
        if not colon or not key or key != key.strip() or " " in key:
            raise MessageError("malformed header line")
        name = key.lower()
        if name in headers:
            name = "\x00dup"  # keep the first value; later copies are ignored
            headers.setdefault(name, "")
            continue
        headers[name] = value.strip()
    headers.pop("\x00dup", None)
    return headers


def _content_type(value: str) -> tuple[str, dict[str, str]]:
    parts = value.split(";")
    params: dict[str, str] = {}
    for part in parts[1:]:
        key, _, val = part.partition("=")
        params[key.strip().lower()] = val.strip().strip('"')
    return parts[0].strip().lower(), params


def _utf8(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise MessageError("body is not valid UTF-8 (declare a charset)") from None


def _decoded(subject: str) -> str:
    if "=?" not in subject:
        return subject
    try:
        return str(email.header.make_header(email.header.decode_header(subject)))
    except (email.errors.HeaderParseError, LookupError, UnicodeDecodeError):
        raise MessageError("subject has a malformed encoded word") from None


def _mime_content(data: bytes) -> tuple[str, int]:
    try:
        return _read_mime(data)
    except RecursionError:  # e.g. a header with thousands of nested comments, folded
        raise MessageError("header or MIME structure nested too deep") from None


def _read_mime(data: bytes) -> tuple[str, int]:
    if len(_CONTENT_TYPE_LINE.findall(data)) > MAX_PARTS:
        raise MessageError(f"too many MIME parts (limit {MAX_PARTS})")
    parser = email.parser.BytesParser(_class=EmailMessage, policy=email.policy.default)
    message = parser.parsebytes(data)
    parts = _parts(message)
    if len(parts) > MAX_PARTS:
        raise MessageError(f"too many MIME parts (limit {MAX_PARTS})")
    attachments = 0
    texts: dict[str, str] = {}  # the first plain and the first HTML part
    for part in parts:
        for defect in part.defects:
            if isinstance(defect, _FATAL_DEFECTS):
                raise MessageError(f"malformed MIME: {type(defect).__name__}")
        if part.is_multipart():
            continue
        subtype = part.get_content_subtype()
        if part.is_attachment() or part.get_content_maintype() != "text":
            attachments += 1
        elif subtype in ("plain", "html") and subtype not in texts:
            texts[subtype] = _part_text(part)
    return texts.get("plain", texts.get("html", "")), attachments


def _parts(message: EmailMessage) -> list[EmailMessage]:
    """Every part, depth first, without recursion; refuses nesting over `MAX_DEPTH`."""
    out: list[EmailMessage] = []
    stack: list[tuple[EmailMessage, int]] = [(message, 0)]
    while stack:
        part, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise MessageError(f"MIME nested too deep (limit {MAX_DEPTH} levels)")
        out.append(part)
        if len(out) > MAX_PARTS:
            raise MessageError(f"too many MIME parts (limit {MAX_PARTS})")
        children = part.get_payload() if part.is_multipart() else []
        if isinstance(children, list):
            parts = [c for c in reversed(children) if isinstance(c, EmailMessage)]
            stack.extend((child, depth + 1) for child in parts)
    return out


def _part_text(part: EmailMessage) -> str:
    try:
        content = part.get_content()
    except (LookupError, UnicodeDecodeError, ValueError):
        raise MessageError("text part has an unknown charset or bad encoding") from None
    if not isinstance(content, str):
        raise MessageError("text part is not text")
    return content
