"""An in-memory target for tests: no sockets, scripted answers, everything it received.

Theory of operation: `FakeTarget` renders events as SMTP messages (so tests can check
routing) and answers each delivery after `latency_s` with what `responder(position,
attempt)` returns (default: 250 ok). It keeps every message it accepted, so a test can
compare acknowledged with received.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from simulator.replay.payload import Payload, SmtpMessage
from simulator.replay.targets import OK, Outcome

Responder = Callable[[int, int], Outcome]


def always_ok(position: int, attempt: int) -> Outcome:
    return Outcome(250, OK, 0)


class FakeTarget:
    description = "fake://memory"

    def __init__(self, latency_s: float = 0.0, responder: Responder = always_ok) -> None:
        self.latency_s = latency_s
        self.responder = responder
        self.accepted: dict[int, SmtpMessage] = {}
        self.attempts: dict[int, int] = {}
        self.sessions_opened = 0
        self.sessions_closed = 0

    def prepare(self, payload: Payload, index: int) -> tuple[int, SmtpMessage]:
        return index, payload.smtp_message(index)

    async def open(self) -> FakeSession:
        self.sessions_opened += 1
        return FakeSession(self)

    async def aclose(self) -> None:
        return None


class FakeSession:
    def __init__(self, target: FakeTarget) -> None:
        self.target = target

    async def deliver(self, message: tuple[int, SmtpMessage]) -> Outcome:
        position, smtp = message
        attempt = self.target.attempts.get(position, 0)
        self.target.attempts[position] = attempt + 1
        if self.target.latency_s:
            await asyncio.sleep(self.target.latency_s)
        out = self.target.responder(position, attempt)
        if out.outcome == OK:
            self.target.accepted[position] = smtp
        return out._replace(nbytes=len(smtp.data))

    async def close(self) -> None:
        self.target.sessions_closed += 1
