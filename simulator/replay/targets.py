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
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from simulator.replay.tls import TlsOptions
from simulator.traffic.outcomes import Outcome
from simulator.traffic.payload import Payload
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


@dataclass(frozen=True)
class TargetOptions:
    """How to reach a collection system beyond its URL. Plain data (paths, not secrets
    or callables), so a worker process receives it pickled and opens the files itself."""

    timeout_s: float = 30.0  # per request or SMTP reply
    fast_http: bool = True  # the lean HTTP/1.1 client, else aiohttp
    token_secret: Path | None = None  # the reference API's secret: per-agency tokens
    allow_remote: bool = False  # the target was allowed off loopback (checked by the caller)
    tls: TlsOptions = field(default_factory=TlsOptions)  # for https, smtps and STARTTLS


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
        from simulator.replay.smtp import SmtpTarget

        return SmtpTarget(host, port, timeout_s, tokens, allow_remote)
    tls = options.tls if scheme == "https" else None
    if options.fast_http:
        from simulator.replay.http_fast import FastHttpTarget

        return FastHttpTarget(host, port, path, timeout_s, tokens, allow_remote, tls)
    from simulator.replay.http_aiohttp import AiohttpTarget

    return AiohttpTarget(url, timeout_s, tokens, allow_remote, tls)
