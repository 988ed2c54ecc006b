"""Exchange-like receiving policy: a per-mailbox receiving limit per hour and a quota.

Theory of operation: pure bookkeeping with the clock passed in. Each mailbox has a token
bucket holding up to `per_hour` messages that refills at `per_hour / 3600` per second,
which approximates Exchange Online's rolling hour, and a byte counter checked against
`quota_bytes` ("mailbox full"). `check` answers before the message is taken (at RCPT);
`charge` books it once the message is durable. Usage lives in memory and starts at zero
when the server starts. `time_scale` lets a compressed replay (e.g. 600x) see
simulated hours: the server multiplies its clock by it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Exchange Online receiving limit, enforced since April 2021 (Microsoft Exchange Online limits).
EXCHANGE_RECEIVING_LIMIT_PER_HOUR = 3_600
# Exchange Online mailbox quota, the smaller of the 50 GB / 100 GB plans (Microsoft Exchange
# Online limits, as of 2025).
EXCHANGE_QUOTA_BYTES = 50 * 10**9

RATE_LIMITED = "receiving_limit"
MAILBOX_FULL = "mailbox_full"


@dataclass
class Policy:
    """Limits per mailbox; None switches a limit off."""

    per_hour: int | None = None
    quota_bytes: int | None = None
    _tokens: dict[str, tuple[float, float]] = field(default_factory=dict, repr=False)
    _used: dict[str, int] = field(default_factory=dict, repr=False)

    @classmethod
    def exchange(cls) -> Policy:
        return cls(EXCHANGE_RECEIVING_LIMIT_PER_HOUR, EXCHANGE_QUOTA_BYTES)

    @property
    def active(self) -> bool:
        return self.per_hour is not None or self.quota_bytes is not None

    def check(self, mailbox: str, size: int, now: float) -> str | None:
        """The policy a message of `size` bytes to `mailbox` would break now, or None."""
        if self.quota_bytes is not None and self._used.get(mailbox, 0) + size > self.quota_bytes:
            return MAILBOX_FULL
        if self.per_hour is not None and self._available(mailbox, now) < 1.0:
            return RATE_LIMITED
        return None

    def charge(self, mailbox: str, size: int, now: float) -> None:
        """Book one accepted message of `size` bytes to `mailbox`."""
        if self.quota_bytes is not None:
            self._used[mailbox] = self._used.get(mailbox, 0) + size
        if self.per_hour is not None:
            self._tokens[mailbox] = (self._available(mailbox, now) - 1.0, now)

    def _available(self, mailbox: str, now: float) -> float:
        assert self.per_hour is not None
        tokens, since = self._tokens.get(mailbox, (float(self.per_hour), now))
        refill = (now - since) * self.per_hour / 3600.0
        return min(float(self.per_hour), tokens + max(0.0, refill))
