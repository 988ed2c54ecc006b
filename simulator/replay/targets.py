"""The one seam between the engine and a collection system: `Session.deliver`.

Theory of operation: the engine knows nothing of HTTP or SMTP. A `Target` renders a run
of consecutive events into its own message type (`prepare`, called in event order, a
batch at a time) and opens `Session`s, one per concurrent connection;
`Session.deliver(message, follow)` sends one message and returns an `Outcome`. A session
that can pipeline one message's last write with the next message's first (SMTP) may call
`follow()` once, just before that write: it returns the next message if one is already
due (the engine then delivers it next on the same session), else None.
Adapters (fast HTTP, aiohttp, SMTP, in-memory fake) each implement this and own their
timeouts, so the engine's hot loop stays free of per-request timers.

A request template (`TargetOptions.template`: the tables of a `--request` file or of a
scenario's `[target]`) is compiled here by `simulator.traffic.request`, and its `[auth]`
credentials are read here, from their files or environment variables, when the target
is made: `auth_header` gives each agency's header (name, value), cached by the clients.
No secret is kept in the options, so none reaches a worker's pickle, a log or a record.
timeouts, so the engine's hot loop stays free of per-request timers. A target that can
tell before any load whether the run can work at all (a TLS handshake, STARTTLS, a
login) has an async `preflight()` raising an InputError; `preflight(target)` calls it
where there is one.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import os
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from simulator.replay.smtp_auth import SmtpAuth
from simulator.replay.tls import TlsOptions
from simulator.traffic.outcomes import REFERENCE_RULES, Outcome, ResponseRules
from simulator.traffic.payload import Payload
from simulator.traffic.request import AuthSpec, Template, compile_template
from simulator.validation import InputError

Follow = Callable[[], Any]  # the next message if one is due now, else None


class Session(Protocol):
    """One connection to a collection system; delivers one message at a time."""

    async def deliver(self, message: Any, follow: Follow | None = None) -> Outcome: ...

    async def close(self) -> None: ...


class Target(Protocol):
    """A collection system: how to render events for it and how to connect to it."""

    description: str

    def prepare(self, payload: Payload, start: int, stop: int) -> Sequence[Any]: ...

    async def preflight(self) -> None:
        """Called once before the replay sends anything: check what would make every
        delivery fail the same way (a TLS certificate the client cannot verify, or a
        client certificate the server refuses) and raise an InputError naming the option
        to fix. A no-op for targets with nothing to check (plain HTTP, the fake)."""
        ...

    async def open(self) -> Session: ...

    async def aclose(self) -> None: ...


SMTP_TLS_MODES = ("none", "starttls", "implicit")
SCHEMES = {"http": 80, "https": 443, "smtp": 25, "smtps": 465}  # and their default ports


def parse_target(url: str) -> tuple[str, str, int, str]:
    """Split a target URL into (scheme, host, port, path); reject unknown schemes."""
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES or not parts.hostname:
        raise InputError(
            "command line",
            "--target",
            url,
            "must be http(s)://HOST:PORT/PATH or smtp(s)://HOST:PORT",
        )
    try:
        port = parts.port or SCHEMES[parts.scheme]
    except ValueError:
        raise InputError("command line", "--target", url, "port must be 1..65535") from None
    return parts.scheme, parts.hostname, port, parts.path or "/"


Tokens = Callable[[str], str | None]  # agency code -> bearer token, or None for no header
AuthHeader = Callable[[str], tuple[str, str] | None]  # agency -> (header name, value)


@dataclass(frozen=True)
class TargetOptions:
    """How to reach a collection system beyond its URL. Plain data (paths, not secrets
    or callables), so a worker process receives it pickled and opens the files itself."""

    timeout_s: float = 30.0  # per request or SMTP reply
    fast_http: bool = True  # the lean HTTP/1.1 client, else aiohttp
    token_secret: Path | None = None  # the reference API's secret: per-agency tokens
    allow_remote: bool = False  # the target was allowed off loopback (checked by the caller)
    tls: TlsOptions = field(default_factory=TlsOptions)  # for https, smtps and STARTTLS
    template: Mapping[str, Any] | None = None  # [request], [response], [auth] tables
    template_source: str = ""  # the file they came from: errors and relative paths
    template_prefix: str = ""  # where they sit in it ("target." in a scenario)
    smtp_tls: str = "none"  # "none", "starttls" or "implicit" (smtps:// is implicit)
    smtp_auth: SmtpAuth | None = None  # submission accounts (user/password or per sender)
    source: str = "command line"  # where these were given (or the scenario), for errors
    # with no template: the JSON field of a refusal that names why (the reference API's
    # "rule"), read into the reason as a template's [response] reason_field would be
    reason_field: tuple[str, ...] = ()


def load_template(options: TargetOptions) -> Template | None:
    """The options' request template, compiled (an `InputError` if it is bad)."""
    if options.template is None:
        return None
    source = options.template_source
    return compile_template(options.template, source, options.template_prefix, Path(source).parent)


def read_secret(spec: AuthSpec, source: str, field: str) -> str:
    """One secret from its file or environment variable: stripped, one printable line."""
    if spec.env is not None:
        value = os.environ.get(spec.env)
        if value is None:
            raise InputError(source, field, spec.env, "environment variable is not set")
    else:
        assert spec.file is not None
        try:
            value = spec.file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            reason = getattr(err, "strerror", None) or "not UTF-8 text"
            raise InputError(source, field, str(spec.file), f"cannot be read: {reason}") from None
    value = value.strip()
    if not value or not value.isprintable():
        raise InputError(source, field, "(hidden)", "must be one non-empty printable line")
    return value


def _token_table(path: Path, source: str, field: str) -> dict[str, str]:
    """agency -> token from a TOML table or a CSV file with columns agency,token."""
    try:
        text = path.read_text(encoding="utf-8")
        if path.suffix.lower() == ".csv":
            table = {r["agency"]: r["token"] for r in csv.DictReader(io.StringIO(text))}
        else:
            table = tomllib.loads(text)
    except (OSError, UnicodeDecodeError, KeyError, tomllib.TOMLDecodeError):
        allowed = "must be a readable TOML table or CSV file (agency,token) of agency -> token"
        raise InputError(source, field, str(path), allowed) from None
    for agency, token in table.items():
        if not isinstance(token, str) or not token.strip() or not token.strip().isprintable():
            raise InputError(source, field, str(path), f"the token of {agency!r} is not text")
    return {str(agency): token.strip() for agency, token in table.items()}


def auth_header(template: Template) -> AuthHeader | None:
    """Each agency's credential header from the template's `[auth]`, secrets read now."""
    import base64

    spec = template.auth
    if spec is None:
        return None
    field = f"{template.prefix}auth"
    if spec.kind == "agency_tokens":
        assert spec.file is not None
        if not spec.tokens_table:
            if not spec.file.is_file():
                raise InputError(template.source, field, str(spec.file), "secret file not found")
            tokens = secret_tokens(spec.file)
            return lambda agency: ("Authorization", f"Bearer {tokens(agency)}")
        table = _token_table(spec.file, template.source, field)
        return lambda agency: (
            None if agency not in table else ("Authorization", f"Bearer {table[agency]}")
        )
    secret = read_secret(spec, template.source, field)
    if spec.kind == "basic":
        pair = base64.b64encode(f"{spec.user}:{secret}".encode()).decode("ascii")
        value = f"Basic {pair}"
    elif spec.kind == "bearer":
        value = f"Bearer {secret}"
    else:
        value = secret
    header = (spec.header, value)
    return lambda agency: header


def bearer(tokens: Tokens | None) -> AuthHeader:
    """The reference API's header: `Authorization: Bearer <the agency's token>`."""

    def header(agency: str) -> tuple[str, str] | None:
        token = tokens(agency) if tokens else None
        return None if token is None else ("Authorization", f"Bearer {token}")

    return header


def secret_tokens(path: Path) -> Tokens:
    """Bearer tokens of the reference collection API (`simulator.tokens`) from its secret."""
    from simulator.tokens import mint_token

    secret = path.read_bytes().strip()

    def token(agency: str) -> str:
        return mint_token(secret, agency)

    return token


def make_target(
    url: str, options: TargetOptions | None = None, tokens: Tokens | None = None
) -> Target:
    """The adapter for a target URL: lean HTTP/1.1 client, aiohttp, or SMTP. Tokens come
    from `tokens` if given, else from the options' token secret."""
    options = options or TargetOptions()
    scheme, host, port, path = parse_target(url)
    if tokens is None and options.token_secret is not None:
        tokens = secret_tokens(options.token_secret)
    timeout_s, allow_remote = options.timeout_s, options.allow_remote
    if scheme in ("smtp", "smtps"):
        from simulator.replay import smtp_auth
        from simulator.replay.smtp import SmtpTarget

        auth = options.smtp_auth
        accounts = smtp_auth.load(auth) if auth is not None and auth.given else None
        mode = "implicit" if scheme == "smtps" else options.smtp_tls
        return SmtpTarget(
            host, port, timeout_s, tokens, allow_remote, mode, options.tls, accounts, options.source
        )
    tls = options.tls if scheme == "https" else None
    template = load_template(options)
    reference = REFERENCE_RULES
    if options.reason_field:  # the reference API names the content rule it applied
        reference = dataclasses.replace(reference, reason_field=tuple(options.reason_field))
    shape = (
        HttpShape(rules=reference)
        if template is None
        else HttpShape(template.request, template.rules, auth_header(template))
    )
    if shape.auth is None:
        shape = HttpShape(shape.request, shape.rules, bearer(tokens))
    if options.fast_http:
        from simulator.replay.http_fast import FastHttpTarget

        return FastHttpTarget(host, port, path, timeout_s, tokens, allow_remote, tls, shape)
    from simulator.replay.http_aiohttp import AiohttpTarget

    return AiohttpTarget(url, timeout_s, tokens, allow_remote, tls, shape)


@dataclass(frozen=True)
class HttpShape:
    """What an HTTP target sends and how it reads answers: the request template (None:
    pulsecheck's own JSON body), the response rules and the credential header."""

    request: Any = None  # simulator.traffic.request.RequestTemplate
    rules: ResponseRules = REFERENCE_RULES
    auth: AuthHeader | None = None  # None: bearer tokens from `tokens`
