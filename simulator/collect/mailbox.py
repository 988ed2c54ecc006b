"""The SMTP mailbox server: a lean ESMTP receiver on asyncio that answers 250 only once durable.

Theory of operation: one `SmtpSession` (an `asyncio.Protocol`) per connection runs the
RFC 5321 state machine over a byte buffer, so pipelined commands are read and answered
in order with one write per read. At the end of DATA the message is checked (size,
line length, MIME, round, content rules) and turned into store records; the session
then stops reading commands until the store's group commit holding them is done, and
only then answers 250 (or 451 if the store is overloaded). This is hand-written instead
of aiosmtpd because aiosmtpd alone tops out near 1,000 msg/s here;
`benchmarks/bench_mailbox.py` measures both side by side.

What gets stored (see README.md): a transaction with one or more collection addresses
among its recipients is a reply: one `replies` row per collection address, with the
other accepted recipients (the managers) listed in `cc`. Any other transaction, such as
a broadcast batch to employees' addresses, is one `deliveries` row with its recipient
count. The idempotency key is `smtp:<principal>/<Message-ID>#<collection id>` (a SHA-256
of the message when it has no Message-ID; no `#` part for a delivery), where the
principal is the agency the session authenticated as, or `anon`. So a 250 always means
"this message is stored once in this collection", however an MTA splits or retries its
recipients, and a forged Message-ID of another principal collides with nothing.

Who may write (SMTP AUTH PLAIN/LOGIN, offered when the server has a secret): user =
agency code, password = a token of it (`simulator.tokens.mint_token(secret, agency)`;
expired and revoked tokens are refused, naming which). A collection
internal to an agency takes mail only from a session authenticated as that agency
(530 5.7.0 otherwise); other collections take unauthenticated mail too. An authenticated
session may only use its agency's directory addresses as MAIL FROM. The null sender <>
may send delivery reports (multipart/report, stored as deliveries) and nothing else.

Resource bounds: each command line must arrive within `command_timeout` and the whole
of a DATA within `data_timeout` (421 4.4.2 otherwise; a sweeper checks every session);
at most `max_sessions_per_client` sessions per client address and `max_sessions` in
all; the input buffered by all sessions together stays within `max_buffered_bytes`
(DATA is refused 452 4.3.1 past three quarters of it; a session that would go over
is closed 421 4.3.1), and a client that does not read its replies is not read either.
Any unexpected exception while handling a command or a message is answered 451 4.3.0
and logged by type only; log lines never carry message text or credentials.

Answers: 550 5.7.1 unknown sender, sender of another agency than the session's, or
collection internal to another department; 550
5.1.1 unknown recipient; 552 5.3.4 too big; 550 5.6.0 malformed message or line over
998 octets; 550 5.7.1 content rule (named, with the collection whose rules it breaks:
the round's rules plus the collection's own); 452 4.2.1 receiving limit; 552 5.2.2
mailbox full; 452 4.5.3 too many recipients; 451 4.3.0 store busy; 500 5.5.2 command
line too long; 530 5.7.0 authentication required; 535 5.7.8 bad credentials; 452 4.3.1
input budget nearly used (at DATA); 421 4.4.2 time limit; 421 4.7.0 too many sessions
from one address; 451 4.3.0 internal error (an unexpected exception).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, cast

from simulator.collect import smtp_wire as wire
from simulator.collect.directory import Directory
from simulator.collect.message import MessageError, parse_message
from simulator.collect.policy import MAILBOX_FULL, Policy
from simulator.collect.screen import violation
from simulator.collect.store import (
    AnyStore,
    Delivery,
    Overloaded,
    Rejection,
    Reply,
    StoreClosed,
)
from simulator.collections import Collection, CollectionIndex, RuleBook, rules_for
from simulator.rules import ContentRules
from simulator.tokens import RevocationList, TokenRejected, check_token

log = logging.getLogger("pulsecheck.collect.mailbox")

MAX_ERRORS = 20  # bad commands before the session is dropped (421)
PAUSE_BUFFER = 256 * 1024  # stop reading a busy session past this many buffered bytes
STORE_BUSY = "451 4.3.0 mail store busy, try again later"
INTERNAL_ERROR = "451 4.3.0 internal error while handling the message, try again later"
MEMORY_FULL = "452 4.3.1 mail system memory full, try again later"
MAX_MESSAGE_ID = 256  # longer Message-IDs are keyed by their digest
ANONYMOUS = "anon"  # the principal of a session that did not authenticate
WRITE_HIGH_WATER = 16 * 1024  # replies buffered per session before its reading pauses
FLUSH_EVERY = 64  # replies gathered before they are written (and the pause is checked)
DATA_SOFT_SHARE = 0.75  # DATA is refused once this share of the buffer budget is used


@dataclass
class MailboxConfig:
    directory: Directory
    collections: CollectionIndex
    rules_by_round: Mapping[str, ContentRules]
    default_round: str
    broadcast_sender: str = "hr@opm.example"
    max_message_bytes: int = 1_000_000
    max_recipients: int = 1_000
    max_sessions: int = 2_000
    max_sessions_per_client: int = 500  # per client IP address
    command_timeout: float = 300.0  # seconds for one command line (RFC 5321 4.5.3.2: 5 min)
    data_timeout: float = 600.0  # seconds for the whole of one DATA (RFC 5321: 10 min)
    max_buffered_bytes: int = 64 * 2**20  # input held by all sessions together
    secret: bytes = b""  # SMTP AUTH is offered only with a secret
    revoked: RevocationList | None = None  # revoked token key ids, re-read on change
    policy: Policy = field(default_factory=Policy)
    time_scale: float = 1.0
    hostname: str = "mailbox.pulsecheck.example"

    @cached_property
    def rulebook(self) -> RuleBook:
        """Per round and collection: the round's rules plus the collection's own."""
        return rules_for(self.rules_by_round, self.collections.all)


class Mailbox:
    """State shared by all sessions of one server."""

    def __init__(self, config: MailboxConfig, store: AnyStore) -> None:
        self.config = config
        self.store = store
        self.sessions: set[SmtpSession] = set()
        self.per_client: dict[str, int] = {}
        self.accepting = True
        self.buffered = 0  # input bytes held by all sessions
        self.buffered_peak = 0
        self._ehlo = _ehlo_lines(config)

    def verify(self, token: str) -> tuple[str | None, str]:
        """(agency, "") of a valid AUTH password (a `simulator.tokens` token), or (None, why)."""
        revoked = self.config.revoked.current() if self.config.revoked else frozenset()
        try:
            return check_token(self.config.secret, token, revoked).agency, ""
        except TokenRejected as err:
            return None, err.reason

    def now(self) -> float:
        return time.monotonic() * self.config.time_scale

    def protocol(self) -> SmtpSession:
        return SmtpSession(self)


def _ehlo_lines(config: MailboxConfig) -> bytes:
    words = [config.hostname, "PIPELINING", f"SIZE {config.max_message_bytes}", "8BITMIME"]
    words.append("ENHANCEDSTATUSCODES")
    if config.secret:
        words.insert(-1, "AUTH PLAIN LOGIN")
    lines = [f"250-{w}" for w in words[:-1]] + [f"250 {words[-1]}"]
    return ("\r\n".join(lines) + "\r\n").encode("ascii")


class SmtpSession(asyncio.Protocol):
    """One SMTP connection: buffer in, ordered replies out."""

    def __init__(self, mailbox: Mailbox) -> None:
        self.box = mailbox
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.held = 0  # len(buf) as counted in `mailbox.buffered`
        self.out: list[bytes] = []
        self.greeted = False
        self.in_data = False
        self.busy = False
        self.closing = False
        self.discarding = False
        self.paused = False
        self.write_paused = False
        self.errors = 0
        self.client = ""  # peer IP address, counted in `mailbox.per_client`
        self.agency: str | None = None  # the authenticated principal
        self.auth_step: tuple[str, str] | None = None  # (mechanism, user) mid-AUTH
        self.deadline = time.monotonic() + mailbox.config.command_timeout
        self.timeout_reply = "421 4.4.2 command timeout, closing"
        self._reset()

    def _reset(self) -> None:
        self.sender: str | None = None
        self.department = ""
        self.collections: list[Collection] = []
        self.people: list[str] = []
        self.scan = 0
        self.dropped = 0
        self.declared_size = 1

    # -- asyncio callbacks ----------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        transport = self.transport
        box = self.box
        if not box.accepting or len(box.sessions) >= box.config.max_sessions:
            transport.write(b"421 4.3.2 too many sessions or shutting down, try later\r\n")
            transport.close()
            return
        peer = transport.get_extra_info("peername")
        client = str(peer[0]) if isinstance(peer, tuple) and peer else ""
        if box.per_client.get(client, 0) >= box.config.max_sessions_per_client:
            transport.write(b"421 4.7.0 too many sessions from your address, try later\r\n")
            transport.close()
            return
        self.client = client
        box.per_client[client] = box.per_client.get(client, 0) + 1
        box.sessions.add(self)
        transport.set_write_buffer_limits(high=WRITE_HIGH_WATER)
        transport.write(f"220 {box.config.hostname} ESMTP pulsecheck\r\n".encode("ascii"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        box = self.box
        if self in box.sessions:
            box.sessions.discard(self)
            left = box.per_client.get(self.client, 1) - 1
            if left > 0:
                box.per_client[self.client] = left
            else:
                box.per_client.pop(self.client, None)
        self.buf.clear()
        self._account()

    def pause_writing(self) -> None:
        """The client is not reading its replies: stop reading its commands too."""
        self.write_paused = True
        if self.transport is not None and not self.paused:
            self.paused = True
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        self.write_paused = False
        if not self.closing:
            self._process()

    def data_received(self, data: bytes) -> None:
        box = self.box
        if self.closing:
            return
        if box.buffered + len(data) > box.config.max_buffered_bytes:
            return self._drop("421 4.3.1 mail system memory full, closing")
        self.buf += data
        self._account()
        if not self.busy:
            self._process()
        elif len(self.buf) > PAUSE_BUFFER and self.transport and not self.paused:
            self.paused = True
            self.transport.pause_reading()

    def _account(self) -> None:
        """Keep `mailbox.buffered` equal to the sum of all sessions' buffered input."""
        held = len(self.buf)
        if held != self.held:
            box = self.box
            box.buffered += held - self.held
            self.held = held
            if box.buffered > box.buffered_peak:
                box.buffered_peak = box.buffered

    def _drop(self, text: str) -> None:
        """Answer `text` and close the connection now (input is discarded)."""
        self.closing = True
        self.buf.clear()
        self._account()
        self.out.append(text.encode("ascii") + b"\r\n")
        self._flush()

    def expired(self, now: float) -> bool:
        """Whether a time limit ran out (never while the store holds a message of it)."""
        return now > self.deadline and not self.busy and not self.closing

    # -- the loop over buffered input ------------------------------------------------
    def _process(self) -> None:
        commands = 0
        while not self.busy and not self.closing and not self.write_paused:
            if self.in_data:
                if not self._take_data():
                    break
            else:
                line = self._take_line()
                if line is None:
                    break
                commands += 1
                self._command(line)
                if len(self.out) >= FLUSH_EVERY:
                    self._write_out()  # may pause writing: then this loop stops
        if commands and not self.in_data and not self.busy:
            self.deadline = time.monotonic() + self.box.config.command_timeout
            self.timeout_reply = "421 4.4.2 command timeout, closing"
        self._account()
        self._flush()

    def _write_out(self) -> None:
        transport = self.transport
        if self.out and transport is not None and not transport.is_closing():
            transport.write(b"".join(self.out))
        self.out.clear()

    def _flush(self) -> None:
        transport = self.transport
        self._write_out()
        if self.closing and transport is not None:
            transport.close()
        elif self.paused and not self.busy and not self.write_paused and transport is not None:
            self.paused = False
            transport.resume_reading()

    def _say(self, text: str) -> None:
        self.out.append(text.encode("ascii", "replace") + b"\r\n")

    def _take_line(self) -> bytes | None:
        while True:
            end = self.buf.find(b"\n")
            if end < 0:
                if len(self.buf) > wire.MAX_COMMAND_LINE:
                    self.discarding = True
                    self.buf.clear()
                return None
            line = bytes(self.buf[: end - 1 if end and self.buf[end - 1] == 13 else end])
            del self.buf[: end + 1]  # CRLF or a bare LF ends a line; another CR is in it
            if not self.discarding and len(line) <= wire.MAX_COMMAND_LINE:
                return line
            self.discarding = False
            self._error("500 5.5.2 line too long")

    def _error(self, text: str) -> None:
        self._say(text)
        self.errors += 1
        if self.errors >= MAX_ERRORS:
            self._say("421 4.7.0 too many errors, closing")
            self.closing = True

    # -- commands -------------------------------------------------------------------
    def _command(self, line: bytes) -> None:
        try:
            if self.auth_step is not None:
                return self._auth_response(line)
            verb, arg = wire.parse_command(line)
            handler = _HANDLERS.get(verb)
            if handler is None:
                self._error("500 5.5.2 command not recognized")
            else:
                handler(self, arg)
        except wire.SyntaxProblem as err:
            self._error(f"501 {err}")
        except Exception as err:  # a bug must not leave the client without an answer
            log.error("smtp command failed: %s", type(err).__name__)
            self._reset()
            self._say("451 4.3.0 internal error, try again later")

    def _ehlo(self, arg: str) -> None:
        if not arg:
            raise wire.SyntaxProblem("5.5.4 EHLO needs a domain")
        self._reset()
        self.greeted = True
        self.out.append(self.box._ehlo)

    def _helo(self, arg: str) -> None:
        if not arg:
            raise wire.SyntaxProblem("5.5.4 HELO needs a domain")
        self._reset()
        self.greeted = True
        self._say(f"250 {self.box.config.hostname}")

    # -- AUTH (RFC 4954): PLAIN (RFC 4616) and LOGIN ----------------------------------
    def _auth(self, arg: str) -> None:
        if not self.box.config.secret:
            return self._error("502 5.5.1 AUTH not offered")
        if not self.greeted:
            return self._error("503 5.5.1 send EHLO first")
        if self.agency is not None:
            return self._error("503 5.5.1 already authenticated")
        if self.sender is not None:
            return self._error("503 5.5.1 AUTH not allowed during a mail transaction")
        mechanism, _, initial = arg.partition(" ")
        mechanism, initial = mechanism.upper(), initial.strip()
        if mechanism == "PLAIN":
            if not initial:
                self.auth_step = ("PLAIN", "")
                return self._say("334 ")
            return self._login(*wire.decode_plain(initial))
        if mechanism == "LOGIN":
            if not initial:
                self.auth_step = ("LOGIN", "")
                return self._say("334 VXNlcm5hbWU6")  # "Username:"
            self.auth_step = ("LOGIN-PASSWORD", wire.decode_b64(initial))
            return self._say("334 UGFzc3dvcmQ6")  # "Password:"
        self._error("504 5.5.4 unrecognized authentication mechanism (PLAIN, LOGIN)")

    def _auth_response(self, line: bytes) -> None:
        mechanism, user = self.auth_step or ("", "")
        self.auth_step = None
        try:
            text = line.decode("ascii").strip()
        except UnicodeDecodeError:
            raise wire.SyntaxProblem("5.5.2 AUTH response must be base64") from None
        if text == "*":
            return self._error("501 5.0.0 authentication cancelled")
        if mechanism == "PLAIN":
            return self._login(*wire.decode_plain(text))
        if mechanism == "LOGIN":
            self.auth_step = ("LOGIN-PASSWORD", wire.decode_b64(text))
            return self._say("334 UGFzc3dvcmQ6")
        self._login(user, wire.decode_b64(text))

    def _login(self, user: str, password: str) -> None:
        agency, reason = wire.check_login(user, password, self.box.verify)
        if agency is None:
            return self._error(f"535 5.7.8 authentication credentials invalid: {reason}")
        self.agency = agency
        self._say("235 2.7.0 authentication successful")

    # -- the envelope ----------------------------------------------------------------
    def _mail(self, arg: str) -> None:
        if not self.greeted:
            return self._error("503 5.5.1 send HELO or EHLO first")
        if self.sender is not None:
            return self._error("503 5.5.1 nested MAIL command")
        address, params = wire.parse_path(arg, "FROM:")
        config = self.box.config
        if params.get("SIZE", "0").isdigit() and int(params.get("SIZE", "0")) > (
            config.max_message_bytes
        ):
            return self._say("552 5.3.4 message size exceeds the limit")
        department = config.directory.department(address) if address else None
        # The null reverse-path <> is how delivery reports (bounces) arrive (RFC 5321 4.5.5).
        if department is None and address and address != config.broadcast_sender:
            return self._say("550 5.7.1 sender is not in the workforce directory")
        if self.agency is not None and address and department != self.agency:
            return self._say(f"550 5.7.1 sender is not an address of agency {self.agency}")
        self.sender, self.department = address, department or ""
        size = params.get("SIZE", "")
        self.declared_size = int(size) if size.isdigit() else 1
        self._say("250 2.1.0 sender ok")

    def _rcpt(self, arg: str) -> None:
        if self.sender is None:
            return self._error("503 5.5.1 need MAIL before RCPT")
        address, _ = wire.parse_path(arg, "TO:")
        if len(self.collections) + len(self.people) >= self.box.config.max_recipients:
            return self._say("452 4.5.3 too many recipients")
        refusal = self._refuse_rcpt(address)
        if refusal is not None:
            return self._say(refusal)
        self._say("250 2.1.5 recipient ok")

    def _refuse_rcpt(self, address: str) -> str | None:
        config = self.box.config
        collection = config.collections.by_address(address)
        if collection is not None:
            if self.sender == config.broadcast_sender:
                return "550 5.7.1 the broadcast sender cannot reply to a collection"
            if collection.internal_to is not None:
                if self.agency is None:
                    return f"530 5.7.0 authentication required for collection {collection.id}"
                if self.agency != collection.internal_to:
                    return f"550 5.7.1 collection is internal to {collection.internal_to}"
        elif address not in config.directory:
            return "550 5.1.1 unknown recipient"
        if config.policy.active:
            broken = config.policy.check(address, self.declared_size, self.box.now())
            if broken == MAILBOX_FULL:
                return "552 5.2.2 mailbox full"
            if broken is not None:
                return "452 4.2.1 mailbox receiving limit per hour reached, try later"
        if collection is not None:
            if collection not in self.collections:
                self.collections.append(collection)
        else:
            self.people.append(address)
        return None

    def _data(self, arg: str) -> None:
        if self.sender is None:
            return self._error("503 5.5.1 need MAIL before DATA")
        if not self.collections and not self.people:
            return self._error("554 5.5.1 no valid recipients")
        box = self.box
        if box.buffered > box.config.max_buffered_bytes * DATA_SOFT_SHARE:
            return self._say(MEMORY_FULL)
        self.in_data = True
        self.scan = 0
        self.dropped = 0
        self.deadline = time.monotonic() + box.config.data_timeout
        self.timeout_reply = "421 4.4.2 DATA timeout, closing"
        self._say("354 end data with <CR><LF>.<CR><LF>")

    def _rset(self, arg: str) -> None:
        self._reset()
        self._say("250 2.0.0 ok")

    def _noop(self, arg: str) -> None:
        self._say("250 2.0.0 ok")

    def _quit(self, arg: str) -> None:
        self._say("221 2.0.0 bye")
        self.closing = True

    def _vrfy(self, arg: str) -> None:
        self._say("252 2.5.0 cannot verify, send and see")

    def _not_offered(self, arg: str) -> None:
        self._error("502 5.5.1 command not implemented")

    # -- DATA ------------------------------------------------------------------------
    def _take_data(self) -> bool:
        buf = self.buf
        if self.dropped == 0 and buf[:3] == b".\r\n":
            del buf[:3]
            self._end_data(b"")
            return True
        end = buf.find(b"\r\n.\r\n", max(0, self.scan - 4))
        if end < 0:
            self._bound_data()
            return False
        message = bytes(buf[: end + 2])
        del buf[: end + 5]
        self._end_data(message)
        return True

    def _bound_data(self) -> None:
        """Keep buffered DATA within the size limit; drop the excess but find the end."""
        buf = self.buf
        if len(buf) > self.box.config.max_message_bytes + 4:
            self.dropped += len(buf) - 4
            del buf[:-4]
        self.scan = len(buf)

    def _end_data(self, raw: bytes) -> None:
        self.in_data = False
        self.deadline = time.monotonic() + self.box.config.command_timeout
        self.timeout_reply = "421 4.4.2 command timeout, closing"
        try:
            self._check_and_submit(raw)
        except Exception as err:  # a parser or screening bug: answer, log the type only
            log.error("smtp message handling failed: %s", type(err).__name__)
            self._finish(INTERNAL_ERROR)

    def _check_and_submit(self, raw: bytes) -> None:
        size = len(raw) + self.dropped
        if size > self.box.config.max_message_bytes:
            return self._finish("552 5.3.4 message size exceeds the limit")
        if self.box.store.full:  # shed before parsing and screening the message
            return self._finish(STORE_BUSY)
        data = wire.unstuff(raw)
        if wire.longest_line(data) > wire.MAX_TEXT_LINE:
            return self._finish("550 5.6.0 message has a line longer than 998 octets")
        try:
            records = self._records(data)
        except MessageError as err:
            return self._finish(f"550 5.6.0 malformed message: {err}")
        except _Refused as err:
            return self._finish(str(err))
        if self._over_quota(len(data)):
            return self._finish("552 5.2.2 mailbox full")
        self._submit(records, len(data))

    def _over_quota(self, size: int) -> bool:
        policy = self.box.config.policy
        if policy.quota_bytes is None:
            return False
        now = self.box.now()
        mailboxes = [c.address for c in self.collections] + self.people
        return any(policy.check(m, size, now) == MAILBOX_FULL for m in mailboxes)

    def _records(self, data: bytes) -> list[Reply | Delivery]:
        config = self.box.config
        message = parse_message(data)
        round_id = message.round or config.default_round
        if round_id not in config.rules_by_round:
            raise _Refused(f"550 5.6.0 unknown round; known: {', '.join(config.rules_by_round)}")
        principal = self.agency or ANONYMOUS
        key = f"smtp:{principal}/{_message_key(message.message_id, data)}"
        now_us = time.time_ns() // 1000
        assert self.sender is not None
        if not self.sender:  # the null sender: delivery reports only (RFC 3464/6522)
            if not message.is_report:
                raise _Refused("550 5.7.1 the null sender may only send delivery reports")
            rcpts = len(self.collections) + len(self.people)
            return [Delivery(key, now_us, self.sender, round_id, rcpts, len(data))]
        if not self.collections:
            return [Delivery(key, now_us, self.sender, round_id, len(self.people), len(data))]
        broken = self._broken_rule(message.text, message.attachments, round_id)
        if broken is not None:
            rule, collection_id = broken
            for c in self.collections:
                self.box.store.note(
                    Rejection(now_us, "smtp", c.id, self.department, round_id, rule)
                )
            raise _Refused(f"550 5.7.1 content rule broken: {rule} (collection {collection_id})")
        return [
            Reply(
                idem_key=f"{key}#{c.id}",
                received_us=now_us,
                channel="smtp",
                collection=c.id,
                agency=self.department,
                sender=self.sender,
                round=round_id,
                cc=tuple(self.people),
                subject=message.subject,
                body=message.text,
                attachments=message.attachments,
                size_bytes=len(data),
            )
            for c in self.collections
        ]

    def _broken_rule(self, text: str, attachments: int, round_id: str) -> tuple[str, str] | None:
        """The first rule a recipient collection's rules forbid, and that collection."""
        config = self.box.config
        names, own = config.directory.names, config.directory.name(self.sender or "")
        verdicts: dict[ContentRules, str | None] = {}
        for c in self.collections:
            rules = config.rulebook[(round_id, c.id)]
            if rules not in verdicts:
                verdicts[rules] = violation(text, attachments, rules, names, own)
            rule = verdicts[rules]
            if rule is not None:
                return rule, c.id
        return None

    def _submit(self, records: list[Reply | Delivery], size: int) -> None:
        try:
            futures = [self.box.store.submit(r) for r in records]
        except Overloaded:
            return self._finish(STORE_BUSY)
        except StoreClosed:
            return self._finish("451 4.3.2 shutting down, try again later")
        self.busy = True
        waiter = futures[0] if len(futures) == 1 else asyncio.gather(*futures)
        waiter.add_done_callback(lambda f: self._stored(f, size))

    def _stored(self, waiter: asyncio.Future[Any], size: int) -> None:
        self.busy = False
        self.deadline = time.monotonic() + self.box.config.command_timeout
        if waiter.exception() is not None:
            self._finish("451 4.3.0 mail store write failed, try again later")
        else:
            self._charge(size)
            self._finish("250 2.0.0 stored")
        if not self.closing:
            self._process()

    def _charge(self, size: int) -> None:
        policy = self.box.config.policy
        if policy.active:
            now = self.box.now()
            for mailbox in [c.address for c in self.collections] + self.people:
                policy.charge(mailbox, size, now)

    def _finish(self, text: str) -> None:
        self._say(text)
        self._reset()


class _Refused(Exception):
    """A whole message refused with the given SMTP reply."""


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _message_key(message_id: str, data: bytes) -> str:
    """The Message-ID as is (the run's store check finds event ids in it); a digest of
    the message when it has none, and of the Message-ID when that is very long."""
    if not message_id:
        return _digest(data)
    if len(message_id) > MAX_MESSAGE_ID:
        return "sha256-id:" + hashlib.sha256(message_id.encode()).hexdigest()
    return message_id


_HANDLERS = {
    "EHLO": SmtpSession._ehlo,
    "HELO": SmtpSession._helo,
    "AUTH": SmtpSession._auth,
    "MAIL": SmtpSession._mail,
    "RCPT": SmtpSession._rcpt,
    "DATA": SmtpSession._data,
    "RSET": SmtpSession._rset,
    "NOOP": SmtpSession._noop,
    "QUIT": SmtpSession._quit,
    "VRFY": SmtpSession._vrfy,
    "EXPN": SmtpSession._not_offered,
    "STARTTLS": SmtpSession._not_offered,
    "BDAT": SmtpSession._not_offered,
    "TURN": SmtpSession._not_offered,
}


def sweep_every(config: MailboxConfig) -> float:
    """How often the sweeper looks: a quarter of the shortest limit, at most 5 s."""
    return max(0.01, min(5.0, config.command_timeout / 4, config.data_timeout / 4))


async def idle_sweeper(mailbox: Mailbox, every: float | None = None) -> None:
    """Close sessions past their command or DATA time limit (never busy ones) with 421."""
    period = sweep_every(mailbox.config) if every is None else every
    while True:
        await asyncio.sleep(period)
        now = time.monotonic()
        for session in list(mailbox.sessions):
            if session.expired(now) and session.transport is not None:
                session._drop(session.timeout_reply)
