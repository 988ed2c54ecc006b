"""Request templates: a user's own HTTP request shape, compiled once, rendered in batches.

Theory of operation: a template file (or a scenario's `[target.request]`, `[target.
response]`, `[target.auth]`) holds three tables. `compile_template` checks them once
(`validation.Fields`: unknown keys, types, unknown placeholders are `InputError`s naming
the file, the field path and what is allowed) and turns `[request]` into *pieces*: byte
strings already escaped for where they sit, and slots naming a placeholder together with
the encoder of its position. Rendering a batch of events asks `Payload.values` for the
placeholders the template uses (each one a list), encodes each slot's column, and joins
each event's row of pieces: no template is parsed and no document goes through
`json.dumps` per event.

A placeholder is `{name}` with a name from `payload.FIELDS`; `{{` and `}}` are literal
braces. Where it sits decides its encoding:
- a JSON string that is exactly one placeholder keeps the placeholder's JSON type (cc and
  bullets are arrays of strings, size and event_id numbers); text around placeholders is
  one JSON string (a list is joined with ", ", bullets with CRLF);
- form fields are percent-encoded (`application/x-www-form-urlencoded`);
- multipart fields are raw text parts; an "attachment" reply adds a file part of the size
  the schedule counts for its attachment (`writing.attachment_file`);
- the path is percent-encoded; header values take only one-line placeholders.

`[response]` becomes `outcomes.ResponseRules`; `[auth]` an `AuthSpec`: where each secret
is (a file, resolved against the template's directory, or an environment variable),
never the secret itself, which the IO edge reads when the target is made.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from json import dumps
from json.encoder import encode_basestring_ascii as json_string
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

from simulator.behaviour.writing import attachment_file
from simulator.traffic.outcomes import HTTP_REFUSALS, HTTP_TEMPORARY, ResponseRules
from simulator.traffic.payload import FIELDS, JSON_BODY, JSON_BULLETS, Payload
from simulator.validation import Fields, InputError

METHODS = ("POST", "PUT", "PATCH")
FORMATS = ("json", "form", "multipart")
AUTH_KINDS = ("bearer", "agency_tokens", "basic", "header")
CONTENT_TYPES = {
    "json": "application/json",
    "form": "application/x-www-form-urlencoded",
}
BOUNDARY = "pulsecheck-form-boundary-7MA4YWxkTrZu0gW"  # in no address, grammar or base64 line
MULTILINE = ("body", "bullets")  # placeholders that may not go into a header
FIXED_HEADERS = ("host", "content-length", "transfer-encoding", "connection")
TOP_TABLES = ("request", "response", "auth")
_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")

Encoder = Callable[[Any], bytes]
Piece = bytes | tuple[str, Encoder]
Pieces = tuple[Piece, ...]


def _text(name: str, value: Any) -> str:
    """A value as text inside a longer string."""
    if isinstance(value, list):
        return ("\r\n" if name == "bullets" else ", ").join(value)
    return str(value)


def _json_whole(name: str) -> Encoder:
    kind = FIELDS[name]
    if kind == "list":
        return lambda v: ("[" + ",".join(map(json_string, v)) + "]").encode()
    if kind == "number":
        return lambda v: str(int(v)).encode()
    return lambda v: json_string(v).encode()


def _json_text(name: str) -> Encoder:
    return lambda v: json_string(_text(name, v))[1:-1].encode()


def _form(name: str) -> Encoder:
    return lambda v: quote_plus(_text(name, v)).encode()


def _raw(name: str) -> Encoder:
    return lambda v: _text(name, v).encode()


def _path(name: str) -> Encoder:
    return lambda v: quote(_text(name, v), safe="").encode()


def _parse(
    source: str,
    where: str,
    text: str,
    literal: Callable[[str], bytes],
    slot: Callable[[str], Encoder],
    forbidden: Sequence[str] = (),
) -> list[Piece]:
    """Text with placeholders as pieces: literals through `literal`, slots with `slot`."""
    pieces: list[Piece] = []
    allowed = [n for n in FIELDS if n not in forbidden]
    at, chunk = 0, []
    for match in _PLACEHOLDER.finditer(text):
        chunk.append(text[at : match.start()])
        at = match.end()
        token = match.group(0)
        if token in ("{{", "}}"):
            chunk.append(token[0])
            continue
        name = match.group(1)
        if name is None:
            raise InputError(source, where, text, "a lone '{' or '}' (write {{ or }} for a brace)")
        if name not in allowed:
            known = ", ".join(allowed)
            raise InputError(source, where, text, f"unknown placeholder {{{name}}}; known: {known}")
        if chunk:
            pieces.append(literal("".join(chunk)))
            chunk = []
        if name == "body" and slot is _json_text:
            pieces.append((JSON_BODY, str.encode))
        else:
            pieces.append((name, slot(name)))
    chunk.append(text[at:])
    if "".join(chunk):
        pieces.append(literal("".join(chunk)))
    return pieces


def _whole(text: str) -> str | None:
    """The placeholder name if `text` is exactly one placeholder, else None."""
    match = _PLACEHOLDER.fullmatch(text)
    return None if match is None else match.group(1)


def _join(pieces: Sequence[Piece]) -> Pieces:
    """Adjacent literal pieces merged into one."""
    out: list[Piece] = []
    for piece in pieces:
        if isinstance(piece, bytes) and out and isinstance(out[-1], bytes):
            out[-1] = out[-1] + piece
        elif piece != b"":
            out.append(piece)
    return tuple(out)


def _json_value(source: str, where: str, value: Any) -> list[Piece]:
    """A TOML value at `where` as JSON pieces."""
    if isinstance(value, Mapping):
        pieces: list[Piece] = [b"{"]
        for i, name in enumerate(value):
            pieces += [b"," if i else b"", f"{json_string(str(name))}:".encode()]
            pieces += _json_value(source, f"{where}.{name}", value[name])
        return [*pieces, b"}"]
    if isinstance(value, list):
        pieces = [b"["]
        for i, item in enumerate(value):
            pieces += [b"," if i else b"", *_json_value(source, f"{where}[{i}]", item)]
        return [*pieces, b"]"]
    if isinstance(value, str):
        name = _whole(value)
        if name == "body":  # the text comes JSON-escaped from the batch renderer
            return [b'"', (JSON_BODY, str.encode), b'"']
        if name == "bullets":
            return [(JSON_BULLETS, str.encode)]
        if name is not None and name in FIELDS:
            return [(name, _json_whole(name))]
        literal: Callable[[str], bytes] = lambda s: json_string(s)[1:-1].encode()  # noqa: E731
        return [b'"', *_parse(source, where, value, literal, _json_text), b'"']
    if isinstance(value, bool | int | float):
        return [dumps(value).encode()]
    raise InputError(source, where, value, "must be a string, number, boolean, table or array")


def _fields_table(f: Fields, body: Mapping[str, Any], key: str) -> list[tuple[str, str]]:
    """A form or multipart body: field name -> text (numbers and booleans as text)."""
    out = []
    for name, value in body.items():
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, int | float):
            value = str(value)
        if not isinstance(value, str) or not str(name) or not str(name).isprintable():
            raise InputError(
                f.source, f"{f.where(key)}.{name}", value, "must be text (one form field)"
            )
        out.append((str(name), value))
    return out


@dataclass(frozen=True)
class Rendered:
    """A batch of requests: per event, its path, extra header lines and body."""

    paths: list[bytes]
    headers: list[bytes]  # "Name: value\r\n" lines, b"" for none
    bodies: list[bytes]


@dataclass(frozen=True)
class RequestTemplate:
    method: str
    path: Pieces | None  # None: the target URL's path
    headers: Pieces  # header lines; the target adds Host, User-Agent, auth, length
    content_type: str
    body: Pieces
    format: str
    file_field: str = "attachment"  # multipart: the name of an attachment's file part

    @property
    def names(self) -> frozenset[str]:
        return frozenset(
            p[0] for p in (*(self.path or ()), *self.headers, *self.body) if isinstance(p, tuple)
        )

    def render(self, payload: Payload, start: int, stop: int, url_path: str) -> Rendered:
        """The requests of events [start, stop); `url_path` when the template gives none."""
        n = stop - start
        values = payload.values(start, stop, self.names)
        path = self.path if self.path is not None else (url_path.encode(),)
        bodies = _render(self.body, values, n)
        if self.format == "multipart":
            files = payload.attachment_files(start, stop)
            bodies = [b + self._file(i) + _closing() for b, i in zip(bodies, files, strict=True)]
        return Rendered(_render(path, values, n), _render(self.headers, values, n), bodies)

    def _file(self, index: int) -> bytes:
        if index < 0:
            return b""
        name, media, content = attachment_file(index)
        return (
            (
                f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{self.file_field}"; '
                f'filename="{name}"\r\nContent-Type: {media}\r\n\r\n'
            ).encode()
            + content
            + b"\r\n"
        )


def _closing() -> bytes:
    return f"--{BOUNDARY}--\r\n".encode()


def _render(pieces: Pieces, values: Mapping[str, list[Any]], n: int) -> list[bytes]:
    """Each event's row of pieces joined; a template of literals only costs no join."""
    if all(isinstance(p, bytes) for p in pieces):
        return [b"".join(p for p in pieces if isinstance(p, bytes))] * n
    columns: list[Any] = [
        itertools.repeat(p, n) if isinstance(p, bytes) else list(map(p[1], values[p[0]]))
        for p in pieces
    ]
    return [b"".join(row) for row in zip(*columns, strict=False)]  # repeat() is endless


@dataclass(frozen=True)
class AuthSpec:
    """Where an HTTP request's credentials come from (never the secret itself)."""

    kind: str  # one of AUTH_KINDS
    file: Path | None = None  # token, password, header value, secret or token table
    env: str | None = None  # or the environment variable that holds it
    user: str = ""  # basic
    header: str = "Authorization"  # the header it goes in
    tokens_table: bool = False  # agency_tokens: `file` maps agency -> token (TOML or CSV)


@dataclass(frozen=True)
class Template:
    """A compiled template file: the request shape (None: pulsecheck's own JSON body),
    how answers are classified, and where credentials come from."""

    request: RequestTemplate | None
    rules: ResponseRules
    auth: AuthSpec | None
    source: str
    prefix: str = ""  # where the tables sit in their file ("target." in a scenario)


def compile_template(
    tables: Mapping[str, Any], source: str, prefix: str = "", base: Path | None = None
) -> Template:
    """Check and compile `[request]`, `[response]` and `[auth]`; `prefix` places them in
    their file ("target." in a scenario) and `base` is where relative paths start."""
    top = Fields(tables, source, prefix.rstrip("."))
    request = _request(top.table("request")) if top.has("request") else None
    rules = _response(top.table("response"))
    auth = _auth(top.table("auth"), base or Path(source).parent) if top.has("auth") else None
    for key in top.keys():
        if key not in TOP_TABLES:
            raise top.fail(key, top.peek(key), f"unknown table; known: {', '.join(TOP_TABLES)}")
    return Template(request, rules, auth, source, prefix)


def _request(f: Fields) -> RequestTemplate:
    method = f.str("method", "POST", choices=METHODS)
    fmt = f.str("format", "json", choices=FORMATS)
    path = None
    if f.has("path"):
        text = f.line("path")
        if not text.startswith("/") or " " in text:
            raise f.fail("path", text, "must start with / and hold no spaces")
        path = _join(_parse(f.source, f.where("path"), text, str.encode, _path))
    headers: list[Piece] = []
    content_type = CONTENT_TYPES.get(fmt, f"multipart/form-data; boundary={BOUNDARY}")
    table = f.table("headers")
    for name in table.keys():
        value = table.line(name)
        if not re.fullmatch(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+", name):
            raise table.fail(name, value, "must be an HTTP header name (letters, digits, -)")
        if name.lower() in (*FIXED_HEADERS, "authorization"):
            raise table.fail(name, value, "is set by pulsecheck ([auth] for Authorization)")
        if name.lower() == "content-type":
            content_type = value
            continue
        headers += [
            f"{name}: ".encode(),
            *_parse(table.source, table.where(name), value, str.encode, _raw, MULTILINE),
        ]
        headers.append(b"\r\n")
    table.done()
    if not f.has("body"):
        raise f.fail("body", None, "is required: the document (json) or the fields to send")
    body = f._get("body", None)
    file_field = f.line("file_field", "attachment") if fmt == "multipart" else "attachment"
    if '"' in file_field:
        raise f.fail("file_field", file_field, 'must not hold a "')
    if fmt == "json":
        if not isinstance(body, Mapping | list):
            raise f.fail("body", body, "must be a table or an array (the JSON document)")
        pieces = _json_value(f.source, f.where("body"), body)
    else:
        if not isinstance(body, Mapping):
            raise f.fail("body", body, "must be a table of field = text")
        fields = _fields_table(f, body, "body")
        pieces = _form_pieces(f, fields) if fmt == "form" else _multipart_pieces(f, fields)
    f.done()
    return RequestTemplate(
        method, path, _join(headers), content_type, _join(pieces), fmt, file_field
    )


def _form_pieces(f: Fields, fields: list[tuple[str, str]]) -> list[Piece]:
    pieces: list[Piece] = []
    sub = Fields(dict(fields), f.source, f.where("body"))
    for i, (name, value) in enumerate(fields):
        pieces.append(f"{'&' if i else ''}{quote_plus(name)}=".encode())
        pieces += _parse(
            sub.source, sub.where(name), value, lambda s: quote_plus(s).encode(), _form
        )
    return pieces


def _multipart_pieces(f: Fields, fields: list[tuple[str, str]]) -> list[Piece]:
    pieces: list[Piece] = []
    sub = Fields(dict(fields), f.source, f.where("body"))
    for name, value in fields:
        if '"' in name:
            raise sub.fail(name, value, 'a multipart field name may not hold a "')
        head = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
        pieces += [
            head.encode(),
            *_parse(sub.source, sub.where(name), value, str.encode, _raw),
            b"\r\n",
        ]
    return pieces


def _statuses(f: Fields, key: str, default: tuple[int, ...]) -> tuple[int, ...]:
    value = f._get(key, list(default))
    if not isinstance(value, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) and 100 <= v <= 599 for v in value
    ):
        raise f.fail(key, value, "must be a list of HTTP statuses (100..599)")
    return tuple(value)


def _ranges(f: Fields, key: str) -> tuple[tuple[int, int], ...]:
    """Statuses as numbers or "lo-hi" ranges: ["200-299"], [200, 202]."""
    value = f._get(key, ["200-299"])
    allowed = 'must be a list of statuses or "lo-hi" ranges, e.g. ["200-299"] (100..599)'
    if not isinstance(value, list):
        raise f.fail(key, value, allowed)
    out = []
    for item in value:
        if isinstance(item, int) and not isinstance(item, bool):
            lo = hi = item
        elif isinstance(item, str) and re.fullmatch(r"\d{3}-\d{3}", item):
            lo, hi = (int(x) for x in item.split("-"))
        else:
            raise f.fail(key, value, allowed)
        if not 100 <= lo <= hi <= 599:
            raise f.fail(key, value, allowed)
        out.append((lo, hi))
    return tuple(out)


def _response(f: Fields) -> ResponseRules:
    reason = f.str("reason_field", "")
    if reason and not all(reason.split(".")):
        raise f.fail("reason_field", reason, "must be a dotted path into the JSON answer")
    rules = ResponseRules(
        ok=_ranges(f, "ok"),
        duplicate=_statuses(f, "duplicate", (409,)),
        refused=_statuses(f, "refused", HTTP_REFUSALS),
        retry=_statuses(f, "retry", HTTP_TEMPORARY),
        max_retry_s=f.float("max_retry_s", 5.0, lo=0.0, hi=3600.0),
        reason_field=tuple(reason.split(".")) if reason else (),
    )
    f.done()
    return rules


SECRET_KEYS = ("token", "password", "value", "secret")


def _auth(f: Fields, base: Path) -> AuthSpec:
    kind = f.str("type", choices=AUTH_KINDS)
    for key in SECRET_KEYS:
        if f.has(key):
            raise f.fail(
                key, "(hidden)", f"a secret is never written inline: use {key}_file or {key}_env"
            )
    file_keys = {
        "bearer": ("token_file", "token_env"),
        "basic": ("password_file", "password_env"),
        "header": ("value_file", "value_env"),
        "agency_tokens": ("secret_file", "tokens_file"),
    }[kind]
    given = [k for k in file_keys if f.has(k)]
    if len(given) != 1:
        raise f.fail(file_keys[0], None, f"give exactly one of {' or '.join(file_keys)}")
    key = given[0]
    text = f.line(key)
    spec = AuthSpec(
        kind,
        file=None if key.endswith("_env") else base / text,
        env=text if key.endswith("_env") else None,
        tokens_table=key == "tokens_file",
    )
    if kind == "basic":
        user = f.line("user")
        if ":" in user:
            raise f.fail("user", user, "must not hold ':' (RFC 7617)")
        spec = AuthSpec(kind, spec.file, spec.env, user=user)
    if kind == "header":
        name = f.line("name")
        if not re.fullmatch(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+", name) or name.lower() in FIXED_HEADERS:
            raise f.fail("name", name, "must be an HTTP header name other than Host or Content-*")
        spec = AuthSpec(kind, spec.file, spec.env, header=name)
    f.done()
    return spec
