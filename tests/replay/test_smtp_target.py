"""The SMTP adapter: wire helpers, and a run against aiosmtpd on loopback."""

import asyncio
import socket
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from simulator.replay import ReplayOptions, replay
from simulator.replay.smtp import SmtpSession, SmtpTarget, dot_stuff, envelope
from simulator.traffic.payload import SmtpMessage
from tests.replay.tables import schedule, workforce


@pytest.mark.parametrize(
    ("data", "wire"),
    [
        (b"a\r\nb", b"a\r\nb\r\n.\r\n"),  # a CRLF is added before the end marker
        (b".top\r\n", b"..top\r\n.\r\n"),  # a leading dot is doubled
        (b"x\r\n.\r\ny\r\n", b"x\r\n..\r\ny\r\n.\r\n"),  # a lone dot line is not the end
    ],
)
def test_dot_stuffing(data: bytes, wire: bytes) -> None:
    assert dot_stuff(data) == wire


def test_envelope_pipelines_every_rcpt() -> None:
    commands, count = envelope(SmtpMessage("a@x.example", ["b@y.example", "c@y.example"], b""))
    assert count == 2
    assert commands == (
        b"MAIL FROM:<a@x.example>\r\nRCPT TO:<b@y.example>\r\nRCPT TO:<c@y.example>\r\nDATA\r\n"
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Handler:
    """Keeps envelopes; answers 451 to the first `defer` transactions."""

    def __init__(self, defer: int = 0) -> None:
        self.envelopes: list[tuple[str, list[str], bytes]] = []
        self.defer = defer

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.defer > 0:
            self.defer -= 1
            return "451 4.3.0 try again later"
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


@pytest.mark.integration
async def test_broadcast_and_replies_reach_aiosmtpd() -> None:
    handler = Handler(defer=2)
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        kinds = ["broadcast", "broadcast"] + ["reply"] * 10 + ["auto_reply", "bounce"]
        events = schedule(
            kinds,
            gap_us=1000,
            rcpt_first=[0, 25] + [-1] * 12,
            rcpt_count=[25, 25] + [2] * 10 + [1, 1],
        )
        target = SmtpTarget("127.0.0.1", port, 5.0)
        options = ReplayOptions(concurrency=3, retries=3, collections={"opm": "hr@opm.example"})
        result = await asyncio.wait_for(replay(events, workforce(60), target, options), 30)
    finally:
        controller.stop()
    assert result.summary["acknowledged"] == len(kinds) == len(handler.envelopes)
    assert result.summary["retries"] == 2
    rcpts = sorted(len(r) for _, r, _ in handler.envelopes)
    assert rcpts == [1] * 2 + [2] * 10 + [25, 25]
    broadcast = [e for e in handler.envelopes if len(e[1]) == 25]
    assert {r for _, rs, _ in broadcast for r in rs} == {f"user{i}@dhs.example" for i in range(50)}
    assert any(mail_from == "<>" or mail_from == "" for mail_from, _, _ in handler.envelopes)


class PipeliningHandler(Handler):
    """Offers PIPELINING, so the engine may send the next envelope behind a message's dot."""

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        return [responses[0], "250-PIPELINING", *responses[1:]]


@pytest.mark.integration
async def test_pipelining_across_transactions_delivers_each_message_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # All events are due at once, so each message's dot carries the next envelope; two
    # deferred messages are retried behind the envelope already on the wire.
    carried = []
    deliver = SmtpSession.deliver

    async def counting(self: SmtpSession, message: Any, follow: Any = None) -> Any:
        out = await deliver(self, message, follow)
        carried.append(self.ahead is not None)
        return out

    monkeypatch.setattr(SmtpSession, "deliver", counting)
    handler = PipeliningHandler(defer=2)
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        kinds = ["broadcast"] * 3 + ["reply"] * 40
        first = [0, 5, 10] + [-1] * 40
        events = schedule(kinds, gap_us=0, rcpt_first=first, rcpt_count=[5] * 3 + [2] * 40)
        options = ReplayOptions(concurrency=2, retries=3)
        result = await asyncio.wait_for(
            replay(events, workforce(60), SmtpTarget("127.0.0.1", port, 5.0), options), 30
        )
    finally:
        controller.stop()
    assert result.summary["acknowledged"] == len(kinds) == len(handler.envelopes)
    assert result.summary["retries"] == 2
    message_ids = [data.split(b"Message-ID: <")[1].split(b".")[0] for *_, data in handler.envelopes]
    assert sorted(int(i) for i in message_ids) == list(range(len(kinds)))  # each one once
    assert sum(carried) > len(kinds) // 2  # most messages carried the next envelope


class FullCollection(Handler):
    """Refuses the collection address at RCPT as a full mailbox; takes the cc."""

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address == "hr@opm.example":
            return "552 5.2.2 Mailbox is full"
        envelope.rcpt_tos.append(address)
        return "250 OK"


@pytest.mark.integration
async def test_a_partly_refused_transaction_names_why_its_recipients_were_refused() -> None:
    handler = FullCollection()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        events = schedule(["reply"] * 4, gap_us=1000, rcpt_first=[-1] * 4, rcpt_count=[2] * 4)
        target = SmtpTarget("127.0.0.1", port, 5.0)
        options = ReplayOptions(concurrency=2, collections={"opm": "hr@opm.example"})
        result = await asyncio.wait_for(replay(events, workforce(60), target, options), 30)
    finally:
        controller.stop()
    # the cc'd manager took each message, so each is acknowledged, with the refusal named
    assert result.summary["acknowledged"] == 4 == len(handler.envelopes)
    errors = set(result.results.column("error").to_pylist())
    assert errors == {"1 of 2 rcpt refused (mailbox full)"}
