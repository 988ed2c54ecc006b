"""Replay into a real submission server: the mail stack's Postfix (STARTTLS required,
Dovecot SASL) delivering into Dovecot Maildirs, its certificate from a trustme CA.

Every recipient of every acknowledged message must turn up as one delivered file; the
sessions must have pipelined over TLS; a wrong password is a refused login for the
messages that needed it; a full mailbox is refused with the reason "mailbox full".
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from simulator.collect.mailstack import CATCH_ALL, MailStack
from simulator.replay import ReplayOptions, replay
from simulator.replay.smtp import SmtpSession
from simulator.replay.smtp_auth import SmtpAuth
from simulator.replay.targets import TargetOptions, make_target
from simulator.replay.tls import TlsOptions
from simulator.traffic.payload import Payload
from tests.mailstack import StackFactory
from tests.replay.tables import schedule, workforce

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BOX = "hr@opm.example"
COLLECTIONS = {"opm": BOX}


def delivered(stack: MailStack, expected: int, limit_s: float = 60.0) -> int:
    """Message files in every mailbox, once `expected` are there (or the time is up)."""

    def count() -> int:
        root = stack.dir / "mail"
        return sum(1 for p in root.glob("*/*/Maildir/*/*") if p.parent.name in ("new", "cur"))

    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline and count() < expected:
        time.sleep(0.2)
    time.sleep(1.0)  # anything extra would show up now
    return count()


def mailboxes(stack: MailStack, payload: Payload, i: int) -> set[str]:
    """The mailboxes message `i` lands in: its own for each address the stack has, the
    catch-all for the others (Postfix delivers a message once per final mailbox)."""
    return {r if r in stack.users else CATCH_ALL for r in payload.smtp_message(i).rcpts}


def submission(stack: MailStack, tmp_path: Path, **auth: Any) -> tuple[str, TargetOptions]:
    options = TargetOptions(
        timeout_s=10.0,
        tls=TlsOptions(ca_file=stack.ca_file),
        smtp_tls="starttls",
        smtp_auth=SmtpAuth(**auth),
    )
    return f"smtp://127.0.0.1:{stack.submission_port}", options


def password_file(stack: MailStack, tmp_path: Path, address: str, wrong: bool = False) -> Path:
    path = tmp_path / f"{address}.pw"
    path.write_text(("wrong-" if wrong else "") + stack.users[address])
    return path


async def test_starttls_and_auth_acknowledged_equals_delivered(
    mailstack: MailStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipelined: list[bool] = []
    original = SmtpSession._transaction

    async def watching(self: SmtpSession, *args: Any) -> Any:
        pipelined.append(self.pipelining and self.proto is not None and _tls(self))
        return await original(self, *args)

    monkeypatch.setattr(SmtpSession, "_transaction", watching)
    kinds = ["broadcast"] * 3 + ["reply"] * 60 + ["auto_reply"] * 2
    first = [0, 30, 60] + [-1] * 62
    events = schedule(kinds, gap_us=1000, rcpt_first=first, rcpt_count=[30] * 3 + [2] * 62)
    wf = workforce(200)
    url, opts = submission(
        mailstack, tmp_path, user=BOX, password_file=password_file(mailstack, tmp_path, BOX)
    )
    target = make_target(url, opts)
    await target.preflight()
    options = ReplayOptions(concurrency=4, speedup=2.0, collections=COLLECTIONS)
    result = await asyncio.wait_for(replay(events, wf, target, options), 120)
    assert result.summary["acknowledged"] == len(kinds), result.summary["outcomes"]
    payload = Payload(events, wf, COLLECTIONS)
    boxes = sum(len(mailboxes(mailstack, payload, i)) for i in range(len(kinds)))
    assert boxes == 3 * 1 + 60 * 2 + 2  # a broadcast's employees share the catch-all
    assert await asyncio.to_thread(delivered, mailstack, boxes) == boxes, mailstack.log()
    assert pipelined and all(pipelined)  # every transaction: PIPELINING over TLS


def _tls(session: SmtpSession) -> bool:
    proto = session.proto
    transport = None if proto is None else proto.transport
    return transport is not None and transport.get_extra_info("ssl_object") is not None


async def test_per_sender_accounts_and_a_refused_login(
    mailstack_factory: StackFactory, tmp_path: Path
) -> None:
    alice, bob = "user1@dhs.example", "user2@dhs.example"
    stack = mailstack_factory(users=[BOX, alice, bob])
    creds = tmp_path / "senders.csv"
    creds.write_text(
        "sender,user,password\n"
        f"{alice},{alice},{stack.users[alice]}\n"
        f"{bob},{bob},not-{stack.users[bob]}\n"
    )
    url, opts = submission(
        stack,
        tmp_path,
        credentials=creds,
        user=BOX,
        password_file=password_file(stack, tmp_path, BOX),
    )
    senders = [1, 2, 3, 1, 2, 3]  # user3 has no entry: the one account (BOX)
    events = schedule(["reply"] * 6, gap_us=2000, sender=senders)
    target = make_target(url, opts)
    await target.preflight()
    options = ReplayOptions(concurrency=2, collections=COLLECTIONS)
    result = await asyncio.wait_for(replay(events, workforce(60), target, options), 60)
    outcomes = result.results.column("outcome").to_pylist()
    errors = result.results.column("error").to_pylist()
    acknowledged = [o in ("ok", "late") for o, s in zip(outcomes, senders, strict=True) if s != 2]
    assert acknowledged == [True] * 4
    bobs = {(o, e) for o, e, s in zip(outcomes, errors, senders, strict=True) if s == 2}
    ((outcome, error),) = bobs
    assert outcome == "rejected" and error.startswith("smtp 535 at auth: 5.7.8"), error
    # 4 messages, each to the collection box and a cc (user0, in the catch-all)
    assert await asyncio.to_thread(delivered, stack, 8) == 8, stack.log()


async def test_a_full_mailbox_is_refused_as_mailbox_full(
    mailstack_factory: StackFactory, tmp_path: Path
) -> None:
    stack = mailstack_factory(quota_messages=3)  # three messages, then full
    url, opts = submission(
        stack, tmp_path, user=BOX, password_file=password_file(stack, tmp_path, BOX)
    )
    events = schedule(["reply"] * 12, gap_us=300_000, cc=[-1] * 12)
    target = make_target(url, opts)
    options = ReplayOptions(concurrency=1, collections=COLLECTIONS)
    result = await asyncio.wait_for(replay(events, workforce(60), target, options), 90)
    outcomes = result.results.column("outcome").to_pylist()
    errors = result.results.column("error").to_pylist()
    full = [o for o, e in zip(outcomes, errors, strict=True) if e == "mailbox full"]
    assert full and set(full) == {"rejected"}, list(zip(outcomes, errors, strict=True))
    assert all(o in ("ok", "late") for o in outcomes[:3])  # the first three fit
    assert len(stack.messages(BOX)) == 3
