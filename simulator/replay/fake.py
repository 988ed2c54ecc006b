"""An in-memory target for tests: no sockets, scripted answers, everything it received.

Theory of operation: `FakeTarget` renders events as SMTP messages (so tests can check
routing) and answers each delivery after `latency_s` with what `responder(position,
attempt)` returns (default: 250 ok). It keeps every message it accepted, so a test can
compare acknowledged with received. With `pipelining`, each delivery takes the next due
message along (`Session.deliver`'s `follow`), as the SMTP adapter does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from simulator.replay.targets import Follow
from simulator.traffic.outcomes import OK, Outcome
from simulator.traffic.payload import Payload, SmtpMessage

Responder = Callable[[int, int], Outcome]


def always_ok(position: int, attempt: int) -> Outcome:
    return Outcome(250, OK, 0)


class FakeTarget:
    description = "fake://memory"

    def __init__(
        self, latency_s: float = 0.0, responder: Responder = always_ok, pipelining: bool = False
    ) -> None:
        self.latency_s = latency_s
        self.pipelining = pipelining  # take the next due message along, as SMTP does
        self.followed: list[tuple[int, int]] = []  # (position, the position it took along)
        self.responder = responder
        self.accepted: dict[int, SmtpMessage] = {}
        self.attempts: dict[int, int] = {}
        self.sessions_opened = 0
        self.sessions_closed = 0

    def prepare(self, payload: Payload, start: int, stop: int) -> list[tuple[int, SmtpMessage]]:
        return list(zip(range(start, stop), payload.smtp_messages(start, stop), strict=True))

    async def preflight(self) -> None:
        return None

    async def open(self) -> FakeSession:
        self.sessions_opened += 1
        return FakeSession(self)

    async def aclose(self) -> None:
        return None


class FakeSession:
    def __init__(self, target: FakeTarget) -> None:
        self.target = target

    async def deliver(
        self, message: tuple[int, SmtpMessage], follow: Follow | None = None
    ) -> Outcome:
        position, smtp = message
        if self.target.pipelining and follow is not None:
            following = follow()
            if following is not None:
                self.target.followed.append((position, following[0]))
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
