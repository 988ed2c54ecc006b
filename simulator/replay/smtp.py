"""SMTP target: one transaction per event, many RCPT each, PIPELINING when offered.

Theory of operation: each session is one SMTP connection (EHLO once, then transaction
after transaction). When the server advertises PIPELINING (RFC 2920), MAIL FROM, every
RCPT TO and DATA go out in one write and their replies are read together; the message
follows on 354. So a broadcast to 500 recipients costs two round trips, not 503. Across
transactions too: when the next event is already due as a message is about to go out,
its MAIL/RCPT/DATA follow the message's end-of-data dot in the same write (RFC 2920 §3.2
allows commands after the dot), so under load each message costs one write and one
round trip. Nothing is sent before it is due: the engine hands over only due events.
Without PIPELINING the commands go one by one. Replies are parsed from `data_received`
without stream objects. Connections go to the address the loopback check resolved
(`safety.pinned`), never to the name again. 4xx replies are temporary: the outcome
carries a retry delay and the engine retries on the same connection (after RSET when the
envelope failed; the reply to the end of data ends a transaction either way, RFC 5321
§4.1.1.4). 421 closes the connection.

AUTH: given tokens (agency code -> `simulator.tokens.mint_token`), a reply from an
employee goes over a connection authenticated as the sender's agency (AUTH PLAIN, user =
agency code, password = token) when the server advertises AUTH; the broadcast and
bounces go unauthenticated. A connection carries one principal, so when the next message
needs another one the session parks its connection in the target's small idle pool
(`MAX_IDLE`, shared by all sessions; the oldest is QUIT when it is full) and takes one
of that principal from the pool, or opens one; it sends nothing ahead for it.

TLS and submission accounts: smtps:// speaks TLS from the first byte; with STARTTLS the
session greets, sends EHLO, STARTTLS, upgrades the connection in place
(`loop.start_tls`, the context and SNI from `TlsOptions`) and sends EHLO again, whose
answer (PIPELINING, AUTH) is the one that counts. Everything after, PIPELINING included,
runs over the TLS transport unchanged. Given submission accounts (`smtp_auth.Accounts`)
instead of tokens, every message logs in as its sender's account (or the one account),
with PLAIN when offered, else LOGIN. A refused login (535) is the outcome of the message
that needed it ("smtp 535 at auth: <server text>"). `preflight` makes one probe
connection before any load (greet, EHLO, STARTTLS, AUTH, QUIT) and turns a server
without STARTTLS, without a usable mechanism, refusing the login or failing the
handshake into an InputError naming the flag.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections import deque
from typing import cast

from simulator.replay import smtp_auth
from simulator.replay.smtp_auth import Accounts
from simulator.replay.targets import SMTP_TLS_MODES, Follow, Tokens
from simulator.replay.tls import TlsOptions
from simulator.safety import create_connection, pinned
from simulator.traffic.outcomes import (
    MAILBOX_FULL,
    OK,
    Outcome,
    classify,
    mailbox_full,
    partly_refused,
)
from simulator.traffic.payload import HELO_NAME, Payload, SmtpMessage
from simulator.validation import InputError

MAX_IDLE = 64  # parked connections of other principals, per target

Reply = tuple[int, bytes]
# MAIL/RCPT/DATA lines, RCPT count, dot-stuffed message, agency to authenticate as
Wire = tuple[bytes, int, bytes, str | None]


def dot_stuff(data: bytes) -> bytes:
    """Message bytes ready for DATA: CRLF-ended, leading dots doubled, then CRLF.CRLF."""
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    if data.startswith(b"."):
        data = b"." + data
    return data.replace(b"\r\n.", b"\r\n..") + b".\r\n"


def envelope(message: SmtpMessage) -> tuple[bytes, int]:
    """MAIL, RCPT..., DATA command lines for one transaction, and the RCPT count."""
    rcpts = "".join([f"RCPT TO:<{rcpt}>\r\n" for rcpt in message.rcpts])
    commands = f"MAIL FROM:<{message.mail_from}>\r\n{rcpts}DATA\r\n"
    return commands.encode(), len(message.rcpts)


def wire(message: SmtpMessage, principal: str | None = None) -> Wire:
    """A message as the session sends it: envelope commands, RCPT count, DATA bytes, and
    the agency its connection authenticates as (None: unauthenticated)."""
    commands, n_rcpt = envelope(message)
    return commands, n_rcpt, dot_stuff(message.data), principal


class Unusable(ConnectionError):
    """The server cannot take the session as configured (no STARTTLS, no mechanism)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field, self.reason = field, reason


class AuthRefused(ConnectionError):
    """The server refused the login; `outcome` is what the message that needed it got."""

    def __init__(self, code: int, text: bytes) -> None:
        self.outcome = classify(code, 0, "auth", text)
        super().__init__(self.outcome.error)


class _ReplyProtocol(asyncio.Protocol):
    """Splits the server's bytes into complete (code, text) replies."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.text: list[bytes] = []
        self.replies: deque[Reply] = deque()
        self.waiter: asyncio.Future[None] | None = None
        self.wanted = 0
        self.lost: Exception | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        lines = (self.buffer + data if self.buffer else data).split(b"\r\n")
        self.buffer = lines.pop()
        for line in lines:
            text = line[4:]
            if line[3:4] == b"-":  # a continuation: the reply goes on
                self.text.append(text)
                continue
            if self.text:
                text = b"\n".join([*self.text, text])
                self.text = []
            try:
                code = int(line[:3])
            except ValueError:
                code = 0
            self.replies.append((code, text))
        self._wake()

    def write(self, data: bytes) -> None:
        if self.transport is None:
            raise self.lost or ConnectionResetError("connection closed")
        self.transport.write(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.lost = exc or ConnectionResetError("connection closed by server")
        self._wake()

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is None or waiter.done():
            return
        if len(self.replies) >= self.wanted:
            waiter.set_result(None)
        elif self.lost is not None:
            waiter.set_exception(self.lost)

    async def read(self, count: int, timeout_s: float) -> list[Reply]:
        if len(self.replies) < count:
            if self.lost is not None:
                raise self.lost
            loop = asyncio.get_running_loop()
            self.wanted = count
            self.waiter = waiter = loop.create_future()
            timer = loop.call_later(timeout_s, _expire, waiter)
            try:
                await waiter
            finally:
                timer.cancel()
                self.waiter = None
        return [self.replies.popleft() for _ in range(count)]


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


async def _ehlo(proto: _ReplyProtocol, timeout: float) -> list[bytes]:
    """EHLO; the reply's lines in upper case (the extensions the server offers)."""
    proto.write(b"EHLO " + HELO_NAME + b"\r\n")
    ((code, text),) = await proto.read(1, timeout)
    if code != 250:
        raise ConnectionError(f"SMTP EHLO {code}")
    return text.upper().split(b"\n")


async def _login(
    proto: _ReplyProtocol, mechanism: bytes | None, user: str, password: str, timeout: float
) -> None:
    """AUTH PLAIN (one round trip) or LOGIN (three); AuthRefused unless 235."""
    lines = smtp_auth.login_lines(user, password) if mechanism == b"LOGIN" else None
    if lines is None:
        proto.write(smtp_auth.plain(user, password))
        ((code, text),) = await proto.read(1, timeout)
    else:
        for line in lines:
            proto.write(line)
            ((code, text),) = await proto.read(1, timeout)
            if code != 334:
                break
    if code != 235:
        if code == 334:  # a challenge after the password: leave the exchange (RFC 4954)
            proto.write(b"*\r\n")
        _quit(proto)
        raise AuthRefused(code, text)


class SmtpSession:
    def __init__(self, target: SmtpTarget) -> None:
        self.target = target
        self.proto: _ReplyProtocol | None = None
        self.pipelining = False
        self.dirty = False  # a failed envelope needs RSET before the next one
        self.ahead: Wire | None = None  # a message whose commands are on the wire already
        self.principal: str | None = None  # the agency (or account) the connection is for

    async def _connect(self, principal: str | None = None) -> _ReplyProtocol:
        target, timeout = self.target, self.target.timeout_s
        implicit = target.tls_mode == "implicit"
        _, proto = await asyncio.wait_for(
            create_connection(
                _ReplyProtocol,
                target.checked,
                target.port,
                target.context if implicit else None,
                target.server_name if implicit else None,
            ),
            timeout,
        )
        try:
            return await self._open(proto, principal)
        except BaseException:
            if proto.transport is not None:
                proto.transport.abort()
            raise

    async def _open(self, proto: _ReplyProtocol, principal: str | None) -> _ReplyProtocol:
        """Greeting, EHLO (and STARTTLS, EHLO again), AUTH on a new connection."""
        target, timeout = self.target, self.target.timeout_s
        ((code, _),) = await proto.read(1, timeout)
        if code != 220:
            raise ConnectionError(f"SMTP greeting {code}")
        words = await _ehlo(proto, timeout)
        if target.tls_mode == "starttls":
            if b"STARTTLS" not in words:
                raise Unusable(target.tls_field, "the server does not offer STARTTLS")
            proto.write(b"STARTTLS\r\n")
            ((code, _),) = await proto.read(1, timeout)
            if code != 220:
                raise Unusable(target.tls_field, f"the server answered {code} to STARTTLS")
            assert proto.transport is not None and target.context is not None
            proto.transport = await asyncio.get_running_loop().start_tls(
                proto.transport,
                proto,
                target.context,
                server_hostname=target.server_name,
                ssl_handshake_timeout=timeout,
            )
            words = await _ehlo(proto, timeout)
        self.pipelining = b"PIPELINING" in words
        self.dirty = False
        self.ahead = None
        self.principal = principal
        login = target.login(principal)
        if login is not None:
            mechanism = smtp_auth.choose(words)
            if target.accounts is not None and mechanism is None:
                raise Unusable(target.auth_field, "the server offers no AUTH PLAIN or LOGIN")
            if mechanism == b"PLAIN" or (target.accounts is not None and mechanism):
                await _login(proto, mechanism, *login, timeout)
        return proto

    async def deliver(self, message: Wire, follow: Follow | None = None) -> Outcome:
        proto = self.proto
        if proto is not None and proto.transport is not None and message[3] != self.principal:
            self._park()  # this connection is another agency's
            proto = self._unpark(message[3])
        if proto is None or proto.transport is None:
            try:
                proto = self.proto = await self._connect(message[3])
            except AuthRefused as refused:
                return refused.outcome
        try:
            out = await self._transaction(proto, message, follow if self.pipelining else None)
        except BaseException:
            self._drop()
            raise
        if out.status == 421:
            self._drop()
        return out

    async def _envelope(self, proto: _ReplyProtocol, message: Wire) -> tuple[list[Reply], int]:
        """Replies to MAIL, each RCPT and DATA (sending them unless already sent ahead)."""
        commands, n_rcpt, _, _ = message
        if self.ahead is message:  # they went out behind the previous message's dot
            self.ahead = None
            return await proto.read(n_rcpt + 2, self.target.timeout_s), len(commands)
        if self.dirty:
            commands = b"RSET\r\n" + commands
        replies = await self._commands(proto, commands, n_rcpt + 2 + self.dirty)
        return (replies[1:] if self.dirty else replies), len(commands)

    async def _commands(self, proto: _ReplyProtocol, commands: bytes, count: int) -> list[Reply]:
        timeout = self.target.timeout_s
        if self.pipelining:
            proto.write(commands)
            return await proto.read(count, timeout)
        replies = []
        for line in commands.split(b"\r\n")[:count]:
            proto.write(line + b"\r\n")
            replies += await proto.read(1, timeout)
        return replies

    async def _transaction(
        self, proto: _ReplyProtocol, message: Wire, follow: Follow | None
    ) -> Outcome:
        replies, nbytes = await self._envelope(proto, message)
        self.dirty = True
        mail_code, mail_text = replies[0]
        if mail_code >= 400:
            return classify(mail_code, nbytes, "MAIL", mail_text)
        refused = [reply for reply in replies[1:-1] if reply[0] >= 400]
        data_code, data_text = replies[-1]
        if data_code != 354:
            code, text = min(refused) if refused else (data_code, data_text)  # 4xx: retry
            return classify(code, nbytes, "RCPT" if refused else "DATA", text)
        data = message[2]
        nbytes += len(data)
        following: Wire | None = follow() if follow is not None else None
        if following is None or following[3] != self.principal:
            proto.write(data)  # a message for another principal goes on another connection
        else:  # the next due transaction rides behind the dot
            proto.write(data + following[0])
            self.ahead = following
        ((code, text),) = await proto.read(1, self.target.timeout_s)
        self.dirty = False  # the reply to the dot ends the transaction, whatever it says
        out = classify(code, nbytes, "end of data", text)
        if out.outcome == OK and refused:
            code, text = min(refused)
            why = MAILBOX_FULL if mailbox_full(code, text) else f"smtp {code}"
            return out._replace(error=partly_refused(len(refused), message[1], why))
        return out

    def _park(self) -> None:
        """Hand the connection to the target's idle pool (a clean one; else QUIT it)."""
        proto, self.proto, self.ahead = self.proto, None, None
        if proto is None or proto.transport is None:
            return
        if self.dirty or proto.replies:
            _quit(proto)
        else:
            self.target.park(self.principal, proto, self.pipelining)

    def _unpark(self, principal: str | None) -> _ReplyProtocol | None:
        """A live idle connection of `principal` from the pool, made this session's."""
        taken = self.target.unpark(principal)
        if taken is None:
            return None
        self.proto, self.pipelining = taken
        self.principal, self.dirty = principal, False
        return self.proto

    def _drop(self) -> None:
        if self.proto is not None and self.proto.transport is not None:
            self.proto.transport.abort()
        self.proto = None
        self.ahead = None

    async def close(self) -> None:
        proto = self.proto
        self.proto = None
        self.ahead = None
        if proto is None or proto.transport is None:
            return
        proto.transport.write(b"QUIT\r\n")
        with contextlib.suppress(TimeoutError, OSError):
            await proto.read(1, min(1.0, self.target.timeout_s))
        if proto.transport is not None:
            proto.transport.close()


class SmtpTarget:
    """Sends each event as one SMTP transaction to smtp://host:port (or smtps://)."""

    def __init__(
        self,
        host: str,
        port: int,
        timeout_s: float = 30.0,
        tokens: Tokens | None = None,
        allow_remote: bool = False,
        tls_mode: str = "none",
        tls: TlsOptions | None = None,
        accounts: Accounts | None = None,
        source: str = "command line",  # where the options were given, for preflight errors
    ) -> None:
        if tls_mode not in SMTP_TLS_MODES:
            raise ValueError(f"tls_mode must be one of {SMTP_TLS_MODES}")
        self.host, self.port = host, port
        self.checked = pinned(host, allow_remote)  # the addresses connections go to
        self.timeout_s = timeout_s
        self.tokens = tokens
        self.accounts = accounts
        self.tls_mode = tls_mode
        tls = tls or TlsOptions()
        self.tls = tls
        self.context: ssl.SSLContext | None = None if tls_mode == "none" else tls.context()
        self.server_name = tls.sni(host)
        self.source = source
        flags = source == "command line"
        self.tls_field = "--smtp-tls" if flags else "target.smtp_tls"
        self.auth_field = "--smtp-user" if flags else "target.smtp_auth"
        scheme = "smtps" if tls_mode == "implicit" else "smtp"
        self.description = f"{scheme}://{host}:{port}"
        self.first = smtp_auth.DEFAULT if accounts and accounts.default else None
        self._idle: deque[tuple[str | None, _ReplyProtocol, bool]] = deque()

    def token(self, principal: str | None) -> str | None:
        """The AUTH password of `principal`, or None (no tokens, or no principal)."""
        if principal is None or self.tokens is None:
            return None
        return self.tokens(principal)

    def login(self, principal: str | None) -> tuple[str, str] | None:
        """(user, password) a connection for `principal` logs in with, or None."""
        if self.accounts is not None:
            account = None if principal is None else self.accounts.account(principal)
            return None if account is None else (account.user, account.password)
        token = self.token(principal)
        return None if token is None or principal is None else (principal, token)

    async def preflight(self) -> None:
        """One probe connection (greet, EHLO, STARTTLS, AUTH, QUIT) before any load: a
        server that cannot take the run as configured is an InputError naming the flag.
        Plain SMTP without accounts has nothing to check: no probe."""
        if self.tls_mode == "none" and self.accounts is None:
            return
        session = SmtpSession(self)
        principal = self.first
        if principal is None and self.accounts is not None and self.accounts.senders:
            principal = next(iter(self.accounts.senders))
        try:
            await session._connect(principal)
        except Unusable as err:
            raise InputError(self.source, err.field, self.description, err.reason) from None
        except AuthRefused as err:
            raise InputError(
                self.source, self.auth_field, self.description, f"login refused: {err}"
            ) from None
        except ssl.SSLError as err:
            why = err.reason or str(err)
            if isinstance(err, ssl.SSLCertVerificationError):
                why = f"certificate verify failed: {err.verify_message}"
            reason = f"TLS handshake with {self.description} failed ({why})"
            if self.tls.ca_file is not None:
                raise InputError(self.source, "--ca-file", str(self.tls.ca_file), reason) from None
            raise InputError(self.source, self.tls_field, self.tls_mode, reason) from None
        except (OSError, TimeoutError) as err:
            reason = f"cannot open an SMTP session ({type(err).__name__}: {err})"
            field = "--target" if self.source == "command line" else "target.url"
            raise InputError(self.source, field, self.description, reason) from None
        await session.close()

    def prepare(self, payload: Payload, start: int, stop: int) -> list[Wire]:
        messages = payload.smtp_messages(start, stop)
        accounts = self.accounts
        if accounts is not None:  # each message as the account of its From: address
            return [
                wire(message, accounts.principal(payload.sender_address(i)))
                for i, message in enumerate(messages, start)
            ]
        if self.tokens is None:
            return [wire(message) for message in messages]
        own = ("", payload.broadcast_sender)  # the broadcast and bounces: no agency's
        return [
            wire(message, None if message.mail_from in own else agency)
            for message, agency in zip(messages, payload.agencies(start, stop), strict=True)
        ]

    async def open(self) -> SmtpSession:
        """A session, connected now if possible (else at its first delivery)."""
        session = SmtpSession(self)
        if self.accounts is None or self.first is not None:
            with contextlib.suppress(OSError, TimeoutError):
                session.proto = await session._connect(self.first)
        return session

    def park(self, principal: str | None, proto: _ReplyProtocol, pipelining: bool) -> None:
        self._idle.append((principal, proto, pipelining))
        while len(self._idle) > MAX_IDLE:
            _quit(self._idle.popleft()[1])

    def unpark(self, principal: str | None) -> tuple[_ReplyProtocol, bool] | None:
        for entry in self._idle:
            if entry[0] == principal:
                self._idle.remove(entry)
                if entry[1].transport is not None:  # the server may have closed it
                    return entry[1], entry[2]
                return self.unpark(principal)
        return None

    async def aclose(self) -> None:
        while self._idle:
            _quit(self._idle.popleft()[1])


def _quit(proto: _ReplyProtocol) -> None:
    """QUIT and close without waiting for the 221."""
    if proto.transport is not None:
        proto.transport.write(b"QUIT\r\n")
        proto.transport.close()
