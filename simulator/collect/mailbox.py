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
count. The idempotency key is `<sender>/<Message-ID>` (or a SHA-256 of the message when
it has no Message-ID), so a retried message is stored once and still answered 250.

Answers: 550 5.7.1 unknown sender or collection internal to another department; 550
5.1.1 unknown recipient; 552 5.3.4 too big; 550 5.6.0 malformed message or line over
998 octets; 550 5.7.1 content rule (named, with the collection whose rules it breaks:
the round's rules plus the collection's own); 452 4.2.1 receiving limit; 552 5.2.2
mailbox full; 452 4.5.3 too many recipients; 451 4.3.0 store busy; 500 5.5.2 command
line too long.
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

log = logging.getLogger("pulsecheck.collect.mailbox")

MAX_ERRORS = 20  # bad commands before the session is dropped (421)
PAUSE_BUFFER = 256 * 1024  # stop reading a busy session past this many buffered bytes
STORE_BUSY = "451 4.3.0 mail store busy, try again later"


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
    idle_timeout: float = 300.0
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
        self.accepting = True
        self._ehlo = _ehlo_lines(config)

    def now(self) -> float:
        return time.monotonic() * self.config.time_scale

    def protocol(self) -> SmtpSession:
        return SmtpSession(self)


def _ehlo_lines(config: MailboxConfig) -> bytes:
    words = [config.hostname, "PIPELINING", f"SIZE {config.max_message_bytes}", "8BITMIME"]
    words.append("ENHANCEDSTATUSCODES")
    lines = [f"250-{w}" for w in words[:-1]] + [f"250 {words[-1]}"]
    return ("\r\n".join(lines) + "\r\n").encode("ascii")


class SmtpSession(asyncio.Protocol):
    """One SMTP connection: buffer in, ordered replies out."""

    def __init__(self, mailbox: Mailbox) -> None:
        self.box = mailbox
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.out: list[bytes] = []
        self.greeted = False
        self.in_data = False
        self.busy = False
        self.closing = False
        self.discarding = False
        self.paused = False
        self.errors = 0
        self.last_active = time.monotonic()
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
        box.sessions.add(self)
        transport.write(f"220 {box.config.hostname} ESMTP pulsecheck\r\n".encode("ascii"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        self.box.sessions.discard(self)

    def data_received(self, data: bytes) -> None:
        self.last_active = time.monotonic()
        self.buf += data
        if not self.busy:
            self._process()
        elif len(self.buf) > PAUSE_BUFFER and self.transport and not self.paused:
            self.paused = True
            self.transport.pause_reading()

    # -- the loop over buffered input ------------------------------------------------
    def _process(self) -> None:
        while not self.busy and not self.closing:
            if self.in_data:
                if not self._take_data():
                    break
            else:
                line = self._take_line()
                if line is None:
                    break
                self._command(line)
        self._flush()

    def _flush(self) -> None:
        transport = self.transport
        if self.out and transport is not None and not transport.is_closing():
            transport.write(b"".join(self.out))
        self.out.clear()
        if self.closing and transport is not None:
            transport.close()
        elif self.paused and not self.busy and transport is not None:
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
            line = bytes(self.buf[:end]).rstrip(b"\r")
            del self.buf[: end + 1]
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
            verb, arg = wire.parse_command(line)
            handler = _HANDLERS.get(verb)
            if handler is None:
                self._error("500 5.5.2 command not recognized")
            else:
                handler(self, arg)
        except wire.SyntaxProblem as err:
            self._error(f"501 {err}")

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
            if self.sender == config.broadcast_sender or not collection.admits(self.department):
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
            self.collections.append(collection)
        else:
            self.people.append(address)
        return None

    def _data(self, arg: str) -> None:
        if self.sender is None:
            return self._error("503 5.5.1 need MAIL before DATA")
        if not self.collections and not self.people:
            return self._error("554 5.5.1 no valid recipients")
        self.in_data = True
        self.scan = 0
        self.dropped = 0
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
        key = f"{self.sender}/{message.message_id or _digest(data)}"
        now_us = time.time_ns() // 1000
        assert self.sender is not None
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
        many = len(self.collections) > 1
        return [
            Reply(
                idem_key=f"{key}#{c.id}" if many else key,
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
        if waiter.exception() is not None:
            self._finish("451 4.3.0 mail store write failed, try again later")
        else:
            self._charge(size)
            self._finish("250 2.0.0 stored")
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


_HANDLERS = {
    "EHLO": SmtpSession._ehlo,
    "HELO": SmtpSession._helo,
    "MAIL": SmtpSession._mail,
    "RCPT": SmtpSession._rcpt,
    "DATA": SmtpSession._data,
    "RSET": SmtpSession._rset,
    "NOOP": SmtpSession._noop,
    "QUIT": SmtpSession._quit,
    "VRFY": SmtpSession._vrfy,
    "EXPN": SmtpSession._not_offered,
    "STARTTLS": SmtpSession._not_offered,
    "AUTH": SmtpSession._not_offered,
    "BDAT": SmtpSession._not_offered,
    "TURN": SmtpSession._not_offered,
}


async def idle_sweeper(mailbox: Mailbox, every: float = 5.0) -> None:
    """Close sessions idle longer than the configured timeout (never busy ones)."""
    while True:
        await asyncio.sleep(every)
        limit = time.monotonic() - mailbox.config.idle_timeout
        for session in list(mailbox.sessions):
            if session.last_active < limit and not session.busy and session.transport:
                session.transport.write(b"421 4.4.2 idle timeout\r\n")
                session.transport.close()
