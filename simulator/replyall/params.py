"""The reply-all scenario: the `[replyall]` section of a scenario file, checked.

Theory of operation: a scenario with `[scenario] kind = "reply-all"` describes one list
and one storm: the list size, whether members can see one another, the sender and send
time, the people's behaviour, the MTA, and the defences under `[replyall.defences.<name>]`;
`[replyall.replay]` says how `pulsecheck run` replays a scaled-down copy against the
reference mailbox, and `[thresholds]` (as in a mass-reply scenario) what that run must meet.
`parse_replyall` reads the whole document's `Fields`, consumes every key it knows and calls
`done()` on every table, so a misspelled key fails naming the field. Behaviour defaults are
the parameters fitted to Bedlam DL3, DHS 2007 and Cisco 2013 by `pulsecheck replyall
calibrate`; defence defaults come from `simulator/data/replyall_defences.csv`, each row
citing its source.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from pathlib import Path

from simulator.replyall.data import defence_defaults
from simulator.replyall.defences import (
    DEFENCE_NAMES,
    EXCHANGE_PRESETS,
    AdminDisable,
    Defences,
    ExchangeProtection,
    HiddenRecipients,
    MailboxReceivingLimit,
    SenderRateLimit,
)
from simulator.replyall.mta import Mta
from simulator.scenario import Threshold, parse_thresholds
from simulator.validation import Fields, is_plain_address, load_toml

KIND = "reply-all"
STEP_CHOICES = (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60)  # whole steps per minute
RESERVED_SUFFIXES = (".example", ".test")


# The list size at which the behaviour's rates and pool share are stated; on other lists
# they scale by (list_size / REFERENCE_LIST) ** -responsibility_exponent.
REFERENCE_LIST = 10_000


@dataclass(frozen=True)
class Behaviour:
    """How members react to list mail; rates are per delivered copy, while in the pool.

    Rates and `pool_share` hold on a list of `REFERENCE_LIST` members. On a list of N
    each member's propensity is scaled by (N / REFERENCE_LIST) ** -responsibility_exponent:
    diffusion of responsibility, the more others received a message the less any one
    recipient acts on it (Darley & Latane 1968; for e-mail, Barron & Yechiam 2002, and
    Blair, Thompson & Wuensch 2005, where responses fell with 0, 1, 14 and 49 others
    addressed but less than in proportion). At 0 the pool grows with the list; at 1 the
    number of would-be posters is the same on any list (the large-group limit of the
    volunteer's dilemma, Diekmann 1985). `pulsecheck replyall calibrate` fits it.
    """

    remove_rate: float = 4.23e-4  # "please remove me"
    stop_rate: float = 3.17e-4  # "stop replying all"
    metoo_rate: float = 2.11e-4  # "me too"
    joke_rate: float = 1.06e-4  # jokes, memes, images
    excitation: float = 750.0  # reaction to a storm copy relative to the original
    decay_min: float = 30.0  # mean delay of the reaction kernel (exponential)
    pool_share: float = 0.0299  # share of members who would ever reply to all
    repeat_share: float = 0.1  # share of posts from members who already posted
    ooo_share: float = 0.02  # absent members whose out-of-office answers list mail
    recall_prob: float = 0.01  # posts followed by a recall to the whole list
    read_receipt_share: float = 0.02  # posts that request read receipts
    responsibility_exponent: float = 0.40  # 0: pool grows with the list; 1: fixed number
    reaction_cv: float = 0.3  # spread of reaction rate and pool between runs (gamma, CV)

    def at_size(self, list_size: float) -> Behaviour:
        """The behaviour on a list of `list_size`, diffusion applied (exponent then 0)."""
        f = (list_size / REFERENCE_LIST) ** -self.responsibility_exponent
        return replace(
            self,
            remove_rate=min(1.0, self.remove_rate * f),
            stop_rate=min(1.0, self.stop_rate * f),
            metoo_rate=min(1.0, self.metoo_rate * f),
            joke_rate=min(1.0, self.joke_rate * f),
            pool_share=min(1.0, self.pool_share * f),
            responsibility_exponent=0.0,
        )

    @property
    def reaction_rate(self) -> float:
        return self.remove_rate + self.stop_rate + self.metoo_rate + self.joke_rate

    def kind_shares(self) -> dict[str, float]:
        total = self.reaction_rate or 1.0
        return {
            "remove": self.remove_rate / total,
            "stop": self.stop_rate / total,
            "metoo": self.metoo_rate / total,
            "joke": self.joke_rate / total,
        }


@dataclass(frozen=True)
class Sizes:
    """Message sizes in KB (headers, quoted thread and any images included)."""

    original_kb: float = 20.0
    remove_kb: float = 12.0
    stop_kb: float = 12.0
    metoo_kb: float = 12.0
    joke_kb: float = 60.0
    recall_kb: float = 6.0
    auto_kb: float = 4.0  # out-of-office answers, read receipts, non-delivery reports

    def post_kb(self, behaviour: Behaviour) -> float:
        shares = behaviour.kind_shares()
        return sum(shares[k] * float(getattr(self, f"{k}_kb")) for k in shares)


# The reference mailbox takes at most this many recipients per transaction.
MAX_REPLAY_LIST = 1_000
REPLAY_DEFENCES = ("as written", "none")


@dataclass(frozen=True)
class StormReplay:
    """How `pulsecheck run` replays a scaled-down copy of the storm against the mailbox."""

    list_size: int = 500  # members of the scaled-down list (<= MAX_REPLAY_LIST)
    speedup: float = 20.0  # time compression of the replay
    concurrency: int = 200  # SMTP sessions at most
    max_events: int = 50_000  # the storm is refused past this many messages
    max_duration_s: float = 600.0  # the replay stops after this long, in real seconds
    defences: str = "as written"  # or "none": replay the storm on an unguarded list


@dataclass(frozen=True)
class ReplyAllScenario:
    name: str
    list_size: int
    send_time: dt.datetime  # aware
    timezone: str
    sender: str = "announcements@agency.example"
    visible: bool = True
    horizon_h: float = 48.0
    step_s: int = 10
    seed: int = 0
    behaviour: Behaviour = field(default_factory=Behaviour)
    sizes: Sizes = field(default_factory=Sizes)
    mta: Mta = field(default_factory=Mta)
    defences: Defences = field(default_factory=Defences)
    replay: StormReplay = field(default_factory=StormReplay)
    thresholds: tuple[Threshold, ...] = ()  # checked on the replay by `pulsecheck run`
    source: str = "<memory>"

    @property
    def n_steps(self) -> int:
        return round(self.horizon_h * 3600 / self.step_s)

    def with_defences(self, **enabled: bool) -> ReplyAllScenario:
        """A copy with defences switched on or off by name, parameters kept."""
        d = self.defences
        for name, on in enabled.items():
            d = replace(d, **{name: replace(getattr(d, name), enabled=on)})
        return replace(self, defences=d)


# -- reading -------------------------------------------------------------------------


def _behaviour(f: Fields) -> Behaviour:
    b = Behaviour()
    out = Behaviour(
        remove_rate=f.share("remove_rate", b.remove_rate),
        stop_rate=f.share("stop_rate", b.stop_rate),
        metoo_rate=f.share("metoo_rate", b.metoo_rate),
        joke_rate=f.share("joke_rate", b.joke_rate),
        excitation=f.float("excitation", b.excitation, lo=0.0, hi=10_000.0),
        decay_min=f.float("decay_min", b.decay_min, lo=0.0, hi=24 * 60.0, lo_open=True),
        pool_share=f.share("pool_share", b.pool_share),
        repeat_share=f.float("repeat_share", b.repeat_share, lo=0.0, hi=0.99),
        ooo_share=f.share("ooo_share", b.ooo_share),
        recall_prob=f.share("recall_prob", b.recall_prob),
        read_receipt_share=f.share("read_receipt_share", b.read_receipt_share),
        responsibility_exponent=f.share("responsibility_exponent", b.responsibility_exponent),
        reaction_cv=f.float("reaction_cv", b.reaction_cv, lo=0.0, hi=3.0),
    )
    f.done()
    return out


def _sizes(f: Fields) -> Sizes:
    s = Sizes()
    kw = {
        name: f.float(name, getattr(s, name), lo=0.1, hi=50_000.0)
        for name in (
            "original_kb",
            "remove_kb",
            "stop_kb",
            "metoo_kb",
            "joke_kb",
            "recall_kb",
            "auto_kb",
        )
    }
    f.done()
    return Sizes(**kw)


def _mta(f: Fields) -> Mta:
    m = Mta()
    out = Mta(
        capacity_per_s=f.float("capacity_per_s", m.capacity_per_s, lo=0.0, lo_open=True),
        queue_limit=f.float("queue_limit", m.queue_limit, lo=0.0),
    )
    f.done()
    return out


def _replay(f: Fields) -> StormReplay:
    d = StormReplay()
    out = StormReplay(
        list_size=f.int("list_size", d.list_size, lo=2, hi=MAX_REPLAY_LIST),
        speedup=f.float("speedup", d.speedup, lo=0.0, hi=1e6, lo_open=True),
        concurrency=f.int("concurrency", d.concurrency, lo=1, hi=2_000),
        max_events=f.int("max_events", d.max_events, lo=1, hi=1_000_000),
        max_duration_s=f.float("max_duration_s", d.max_duration_s, lo=0.0, lo_open=True),
        defences=f.str("defences", d.defences, choices=REPLAY_DEFENCES),
    )
    f.done()
    return out


def _exchange(f: Fields) -> ExchangeProtection:
    facts = defence_defaults()
    preset = f.str("preset", "current", choices=EXCHANGE_PRESETS)
    base = {
        "threshold": int(facts[f"exchange_{preset}_threshold"].likely),
        "min_recipients": int(facts[f"exchange_{preset}_min_recipients"].likely),
        "block_hours": facts[f"exchange_{preset}_block_hours"].likely,
    }
    settable_r, settable_h = (
        facts["exchange_current_min_recipients"],
        facts["exchange_current_block_hours"],
    )
    settable_n = facts["exchange_threshold_settable"]
    lag = facts["exchange_enforcement_lag_minutes"]
    out = ExchangeProtection(
        enabled=f.bool("enabled", False),
        preset=preset,
        threshold=f.int(
            "threshold", base["threshold"], lo=int(settable_n.low), hi=int(settable_n.high)
        ),
        min_recipients=f.int(
            "min_recipients",
            base["min_recipients"],
            lo=int(settable_r.low),
            hi=int(settable_r.high),
        ),
        block_hours=f.float(
            "block_hours", base["block_hours"], lo=settable_h.low, hi=settable_h.high
        ),
        window_min=facts["exchange_window_minutes"].likely,
        enforcement_lag_min=f.range(
            "enforcement_lag_min", [lag.low, lag.likely, lag.high], lo=0.0, hi=60.0
        ),
    )
    f.done()
    return out


def _admin(f: Fields) -> AdminDisable:
    a = AdminDisable()
    on_duty = defence_defaults()["admin_reaction_on_duty_hours"]
    start = f.int("duty_start_hour", a.duty_start_hour, lo=0, hi=23)
    end = f.int("duty_end_hour", a.duty_end_hour, lo=1, hi=24)
    if end <= start:
        raise f.fail("duty_end_hour", end, f"must be after duty_start_hour ({start})")
    days = f._get("duty_weekdays", list(a.duty_weekdays))
    if not isinstance(days, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and 0 <= d <= 6 for d in days
    ):
        raise f.fail("duty_weekdays", days, "must be a list of weekday numbers 0..6 (Monday = 0)")
    out = AdminDisable(
        enabled=f.bool("enabled", False),
        detect_posts=f.int("detect_posts", a.detect_posts, lo=1, hi=1_000_000),
        on_duty_h=f.range("on_duty_h", [on_duty.low, on_duty.likely, on_duty.high], lo=0, hi=72),
        off_duty_h=f.range("off_duty_h", [4.0, 8.0, 16.0], lo=0, hi=168),
        duty_start_hour=start,
        duty_end_hour=end,
        duty_weekdays=tuple(days),
        purge_queue=f.bool("purge_queue", a.purge_queue),
    )
    f.done()
    return out


def _hidden(f: Fields) -> HiddenRecipients:
    h = HiddenRecipients()
    out = HiddenRecipients(
        enabled=f.bool("enabled", False),
        mode=f.str("mode", h.mode, choices=("bcc", "moderated")),
        approve_share=f.share("approve_share", h.approve_share),
        review_min=f.float("review_min", h.review_min, lo=0.0, hi=7 * 24 * 60.0),
    )
    f.done()
    return out


def _sender_limit(f: Fields) -> SenderRateLimit:
    facts = defence_defaults()
    out = SenderRateLimit(
        enabled=f.bool("enabled", False),
        recipients_per_day=f.int(
            "recipients_per_day", int(facts["sender_recipients_per_day"].likely), lo=1
        ),
        count_list_members=f.bool("count_list_members", True),
    )
    f.done()
    return out


def _mailbox_limit(f: Fields) -> MailboxReceivingLimit:
    facts = defence_defaults()
    out = MailboxReceivingLimit(
        enabled=f.bool("enabled", False),
        per_hour=f.int("per_hour", int(facts["mailbox_receiving_per_hour"].likely), lo=1),
    )
    f.done()
    return out


_DEFENCE_READERS = {
    "exchange_protection": _exchange,
    "admin_disable": _admin,
    "hidden_recipients": _hidden,
    "sender_rate_limit": _sender_limit,
    "mailbox_receiving_limit": _mailbox_limit,
}


def _defences(f: Fields) -> Defences:
    for key in f.keys():
        if key not in DEFENCE_NAMES:
            raise f.fail(key, "(table)", f"unknown defence; known: {', '.join(DEFENCE_NAMES)}")
    parts = {name: _DEFENCE_READERS[name](f.table(name)) for name in DEFENCE_NAMES}
    f.done()
    return Defences(**parts)  # type: ignore[arg-type]


def _sender(f: Fields) -> str:
    sender: str = f.str("sender", "announcements@agency.example")
    domain = sender.rpartition("@")[2]
    if "@" not in sender or not domain.endswith(RESERVED_SUFFIXES):
        raise f.fail("sender", sender, "must be an address on a reserved domain (.example, .test)")
    if not is_plain_address(sender):
        raise f.fail(
            "sender", sender, "must be one plain address: no spaces, control characters, <, >"
        )
    return sender


def _scenario_table(doc: Fields) -> tuple[str, int]:
    s = doc.table("scenario", required=True)
    s.str("kind", choices=(KIND,))
    name: str = s.line("name")
    s.str("description", "")
    seed: int = s.int("seed", 0, lo=0)
    s.done()
    return name, seed


def parse_replyall(doc: Fields) -> ReplyAllScenario:
    """Read a whole reply-all scenario document; raises `InputError` naming the field."""
    name, seed = _scenario_table(doc)
    r = doc.table("replyall", required=True)
    tz = r.timezone("timezone")
    scenario = ReplyAllScenario(
        name=name,
        seed=seed,
        source=doc.source,
        list_size=r.int("list_size", lo=2, hi=50_000_000),
        visible=r.bool("visible", True),
        sender=_sender(r),
        send_time=r.datetime("send_time", tz),
        timezone=str(r.str("timezone")),
        horizon_h=r.float("horizon_h", 48.0, lo=1.0, hi=240.0),
        step_s=_step(r),
        behaviour=_behaviour(r.table("behaviour")),
        sizes=_sizes(r.table("sizes")),
        mta=_mta(r.table("mta")),
        defences=_defences(r.table("defences")),
        replay=_replay(r.table("replay")),
        thresholds=parse_thresholds(doc.table("thresholds")),
    )
    r.done()
    doc.done()
    return scenario


def _step(r: Fields) -> int:
    step: int = r.int("step_s", 10)
    if step not in STEP_CHOICES:
        raise r.fail("step_s", step, f"must be one of {', '.join(map(str, STEP_CHOICES))}")
    return step


def load_replyall(path: str | Path) -> ReplyAllScenario:
    """Read a reply-all scenario file (TOML); an unreadable file or bad content raises
    `InputError` (`validation.load_toml` checks the file as a mass-reply one is checked)."""
    return parse_replyall(Fields(load_toml(path), str(path)))
