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
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections import deque
from typing import cast

from simulator.replay.targets import Follow, Tokens
from simulator.safety import create_connection, pinned
from simulator.traffic.outcomes import OK, Outcome, classify
from simulator.traffic.payload import HELO_NAME, Payload, SmtpMessage

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


def auth_plain(agency: str, token: str) -> bytes:
    """The AUTH PLAIN command with its initial response (RFC 4616)."""
    return b"AUTH PLAIN " + base64.b64encode(f"\0{agency}\0{token}".encode()) + b"\r\n"


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


class SmtpSession:
    def __init__(self, target: SmtpTarget) -> None:
        self.target = target
        self.proto: _ReplyProtocol | None = None
        self.pipelining = False
        self.dirty = False  # a failed envelope needs RSET before the next one
        self.ahead: Wire | None = None  # a message whose commands are on the wire already
        self.principal: str | None = None  # the agency the connection is for

    async def _connect(self, principal: str | None = None) -> _ReplyProtocol:
        timeout = self.target.timeout_s
        _, proto = await asyncio.wait_for(
            create_connection(_ReplyProtocol, self.target.checked, self.target.port), timeout
        )
        ((code, _),) = await proto.read(1, timeout)
        if code != 220:
            raise ConnectionError(f"SMTP greeting {code}")
        proto.write(b"EHLO " + HELO_NAME + b"\r\n")
        ((code, text),) = await proto.read(1, timeout)
        if code != 250:
            raise ConnectionError(f"SMTP EHLO {code}")
        words = text.upper().split(b"\n")
        self.pipelining = b"PIPELINING" in words
        self.dirty = False
        self.ahead = None
        self.principal = principal
        token = self.target.token(principal)
        if token is not None and any(w.startswith(b"AUTH ") and b"PLAIN" in w for w in words):
            assert principal is not None
            proto.write(auth_plain(principal, token))
            ((code, _),) = await proto.read(1, timeout)
            if code != 235:
                proto.write(b"QUIT\r\n")
                raise ConnectionError(f"SMTP AUTH {code}")
        return proto

    async def deliver(self, message: Wire, follow: Follow | None = None) -> Outcome:
        proto = self.proto
        if proto is not None and proto.transport is not None and message[3] != self.principal:
            self._park()  # this connection is another agency's
            proto = self._unpark(message[3])
        if proto is None or proto.transport is None:
            proto = self.proto = await self._connect(message[3])
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
            return out._replace(error=f"{len(refused)} of {message[1]} rcpt refused")
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
    """Sends each event as one SMTP transaction to smtp://host:port."""

    def __init__(
        self,
        host: str,
        port: int,
        timeout_s: float = 30.0,
        tokens: Tokens | None = None,
        allow_remote: bool = False,
    ) -> None:
        self.host, self.port = host, port
        self.checked = pinned(host, allow_remote)  # the addresses connections go to
        self.timeout_s = timeout_s
        self.tokens = tokens
        self.description = f"smtp://{host}:{port}"
        self._idle: deque[tuple[str | None, _ReplyProtocol, bool]] = deque()

    def token(self, principal: str | None) -> str | None:
        """The AUTH password of `principal`, or None (no tokens, or no principal)."""
        if principal is None or self.tokens is None:
            return None
        return self.tokens(principal)

    def prepare(self, payload: Payload, start: int, stop: int) -> list[Wire]:
        messages = payload.smtp_messages(start, stop)
        if self.tokens is None:
            return [wire(message) for message in messages]
        own = ("", payload.broadcast_sender)  # the broadcast and bounces: no agency's
        return [
            wire(message, None if message.mail_from in own else agency)
            for message, agency in zip(messages, payload.agencies(start, stop), strict=True)
        ]

    async def preflight(self) -> None:
        """Nothing to check before the replay over plain SMTP."""
        return None

    async def open(self) -> SmtpSession:
        """A session, connected now if possible (else at its first delivery)."""
        session = SmtpSession(self)
        with contextlib.suppress(OSError, TimeoutError):
            session.proto = await session._connect()
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
