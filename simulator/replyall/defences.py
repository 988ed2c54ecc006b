"""The defences against a reply-all storm, each a switch with parameters.

Theory of operation: each defence is a frozen dataclass (read from the scenario by
`params`) plus a few pure helpers the time-stepped process calls. Exchange-style storm
protection declares a storm after N reply-alls within 60 minutes to at least R recipients
and blocks the thread once the block has reached every server (a lag of minutes);
an admin disables the list after a reaction time that depends on the hour and weekday;
hidden recipients (bcc or a moderated list) mean nobody can reply to everyone; a sender
rate limit that counts list members rejects posts whose expansion exceeds a sender's daily
recipient budget; a mailbox receiving limit caps what any one mailbox accepts per hour.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from simulator.validation import Range

DEFENCE_NAMES = (
    "exchange_protection",
    "admin_disable",
    "hidden_recipients",
    "sender_rate_limit",
    "mailbox_receiving_limit",
)
EXCHANGE_PRESETS = ("original", "current")


@dataclass(frozen=True)
class ExchangeProtection:
    """Storm protection: once `threshold` reply-alls in the window are seen, the storm is
    declared; reply-alls sent before that are delivered, and the block reaches every
    server only after the enforcement lag (drawn per run), so a few more get through."""

    enabled: bool = False
    preset: str = "current"
    threshold: int = 10  # reply-alls within the window
    min_recipients: int = 2500  # the thread counts only if it reaches this many
    block_hours: float = 6.0
    window_min: float = 60.0
    enforcement_lag_min: Range = field(default_factory=lambda: Range(0.0, 5.0, 2.0))

    def applies_to(self, list_size: int) -> bool:
        return self.enabled and list_size >= self.min_recipients


@dataclass(frozen=True)
class AdminDisable:
    enabled: bool = False
    detect_posts: int = 20  # reply-alls within 60 minutes before anyone notices
    on_duty_h: Range = field(default_factory=lambda: Range(1.0, 3.0, 2.0))
    off_duty_h: Range = field(default_factory=lambda: Range(4.0, 16.0, 8.0))  # on-call
    duty_start_hour: int = 8
    duty_end_hour: int = 18
    duty_weekdays: tuple[int, ...] = (0, 1, 2, 3, 4)  # Monday = 0
    purge_queue: bool = False


@dataclass(frozen=True)
class HiddenRecipients:
    enabled: bool = False
    mode: str = "bcc"  # "bcc": replies reach the sender only; "moderated": a moderator
    approve_share: float = 0.0  # moderated: share of held posts released to the list
    review_min: float = 30.0  # moderated: delay before a released post goes out


@dataclass(frozen=True)
class SenderRateLimit:
    enabled: bool = False
    recipients_per_day: int = 10_000
    count_list_members: bool = True  # Exchange counts a group as one recipient (false)

    def posts_allowed_per_day(self, list_size: int) -> float:
        """How many list posts one sender may make in a day (inf when unlimited)."""
        if not self.enabled or not self.count_list_members:
            return float("inf")
        return float(self.recipients_per_day // list_size)


@dataclass(frozen=True)
class MailboxReceivingLimit:
    enabled: bool = False
    per_hour: int = 3600


@dataclass(frozen=True)
class Defences:
    exchange_protection: ExchangeProtection = field(default_factory=ExchangeProtection)
    admin_disable: AdminDisable = field(default_factory=AdminDisable)
    hidden_recipients: HiddenRecipients = field(default_factory=HiddenRecipients)
    sender_rate_limit: SenderRateLimit = field(default_factory=SenderRateLimit)
    mailbox_receiving_limit: MailboxReceivingLimit = field(default_factory=MailboxReceivingLimit)

    def enabled_names(self) -> list[str]:
        return [name for name in DEFENCE_NAMES if getattr(self, name).enabled]


def draw_range(rng: np.random.Generator, value: Range, size: int) -> NDArray[np.float64]:
    """Per-run draws of an uncertain quantity: triangular over (low, likely, high)."""
    if value.high <= value.low:
        return np.full(size, value.low)
    return rng.triangular(value.low, value.likely, value.high, size)


def admin_delay_s(
    on_duty: NDArray[np.bool_],
    to_next_duty_s: NDArray[np.float64],
    on_duty_draw_h: NDArray[np.float64],
    off_duty_draw_h: NDArray[np.float64],
) -> NDArray[np.float64]:
    """Seconds from noticing a storm to disabling the list, per run.

    On duty the admin reacts after the on-duty draw. Off duty it is whichever comes
    first: the on-call reaction, or the next shift's start plus the on-duty reaction.
    """
    on = on_duty_draw_h * 3600.0
    off = np.minimum(off_duty_draw_h * 3600.0, to_next_duty_s + on)
    return np.where(on_duty, on, off)


def hidden_fanout(hidden: HiddenRecipients) -> bool:
    """Whether a reply-all still reaches the whole list (only via a moderator's release)."""
    return not hidden.enabled
