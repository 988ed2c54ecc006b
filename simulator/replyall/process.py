"""The storm as a self-exciting process, simulated in time steps for many runs at once.

Theory of operation: every list copy delivered to a member adds to an excitation
intensity (Hawkes-style, exponential kernel with mean `decay_min`): its reader replies to
all with probability `reaction_rate`, scaled by the share of the would-be posters still
left (`pool_share` of the list, depleted by each new poster) and by `excitation` for
storm mail relative to the original. Both the rate and the pool share shrink on large
lists by (list_size / REFERENCE_LIST) ** -responsibility_exponent (diffusion of
responsibility, see `params.Behaviour`), so the number of posts grows slower than the
list. Who reacts differs from storm to storm: each run draws its would-be posters
(Poisson around the pool) and one gamma factor on its reaction rate and its pool
(coefficient of variation `reaction_cv`; over-dispersed branching as in Lloyd-Smith et
al., Nature 2005), so the onset and size of a storm spread across seeds. Posts per step
are Poisson draws of the intensity times the hour's activity. Accepted posts fan out to
the whole list through the MTA queue (`mta`), bring recalls (to the whole list again),
out-of-office answers (once per sender) and read receipts; defences (`defences`) reject
or hide posts.
State is a vector per run, so `runs` seeded runs cost about as much as one. Series are
kept per minute.

`overrides` replace scenario values per run (arrays of length `runs`); calibration uses
them to evaluate a grid of parameters in one call. `stochastic=False` replaces the
Poisson draws by their means (a mean-field run).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from simulator.replyall.clock import step_calendar
from simulator.replyall.defences import admin_delay_s, draw_range
from simulator.replyall.mta import Queue, deliver
from simulator.replyall.params import REFERENCE_LIST, ReplyAllScenario

F64 = NDArray[np.float64]
SERIES = (
    "posts",  # reply-alls attempted
    "list_posts",  # reply-alls that went to the whole list
    "rejected_posts",  # reply-alls refused by a defence (each answered by a report)
    "recalls",
    "list_deliveries",  # list copies delivered (original, posts, recalls)
    "single_deliveries",  # auto answers, receipts, reports, sender-only replies
    "mailbox_rejected",  # list copies refused by a mailbox receiving limit
    "backlog",  # deliveries waiting at the end of the minute
    "kb",  # KB delivered
)
OVERRIDABLE = ("rate_scale", "pool_share", "exponent", "capacity_per_s", "on_duty_h")


@dataclass(frozen=True)
class StormRuns:
    """Per-minute series `(runs, minutes)` and per-run scalars of one batch of runs."""

    scenario: ReplyAllScenario
    series: dict[str, F64]
    blocked_first_s: F64  # first Exchange block, inf if none
    blocked_last_s: F64
    blocks: F64  # number of Exchange blocks
    disabled_s: F64  # when the admin disabled the list, inf if never
    pool_left: F64  # would-be posters who never posted
    purged: F64  # list copies dropped from the queue when the list was disabled

    @property
    def runs(self) -> int:
        return int(self.blocks.shape[0])


@dataclass
class _State:
    queue: Queue
    excite: F64
    pool: F64
    win_list: F64  # (window steps, runs) ring of list posts, for Exchange protection
    win_any: F64  # ring of attempted posts, for the admin noticing
    win_mbx: F64  # ring of list copies per member, for the receiving limit
    held: F64  # moderated: ring of posts waiting for release
    blocked_until: F64
    block_from: F64  # the block reaches every server (declared + enforcement lag)
    disabled_at: F64
    blocked_first: F64
    blocked_last: F64
    blocks: F64
    purged: F64


def _row(value: float, overrides: Mapping[str, F64], key: str, runs: int) -> F64:
    if key in overrides:
        return np.broadcast_to(np.asarray(overrides[key], dtype=np.float64), (runs,)).copy()
    return np.full(runs, float(value))


def simulate(
    sc: ReplyAllScenario,
    runs: int = 1,
    seed: int | None = None,
    stochastic: bool = True,
    overrides: Mapping[str, F64] | None = None,
) -> StormRuns:
    """Run the storm `runs` times (vectorised) and return per-minute series."""
    ov = dict(overrides or {})
    for key in ov:
        if key not in OVERRIDABLE:
            raise ValueError(f"unknown override {key!r}; allowed: {', '.join(OVERRIDABLE)}")
    rng = np.random.default_rng(sc.seed if seed is None else seed)
    return _Run(sc, runs, rng, stochastic, ov).go()


class _Run:
    """One batch: set-up, then a loop over steps with whole-vector updates."""

    def __init__(
        self,
        sc: ReplyAllScenario,
        runs: int,
        rng: np.random.Generator,
        stochastic: bool,
        ov: Mapping[str, F64],
    ) -> None:
        self.sc, self.runs, self.rng, self.stochastic = sc, runs, rng, stochastic
        b, d, n = sc.behaviour, sc.defences, float(sc.list_size)
        self.n = n
        self.dt = float(sc.step_s)
        size_f = (n / REFERENCE_LIST) ** -_row(b.responsibility_exponent, ov, "exponent", runs)
        spread = np.ones(runs)
        if stochastic and b.reaction_cv > 0:
            shape = 1.0 / b.reaction_cv**2
            spread = rng.gamma(shape, 1.0 / shape, runs)
        rate = b.reaction_rate * _row(1.0, ov, "rate_scale", runs) * size_f * spread
        self.rate = np.minimum(rate, 1.0)
        pool = np.minimum(_row(b.pool_share, ov, "pool_share", runs) * size_f * spread, 1.0) * n
        if stochastic:
            pool = np.minimum(rng.poisson(pool).astype(np.float64), n)
        self.pool0 = np.maximum(pool, 1e-9)
        self.cap = _row(sc.mta.capacity_per_s, ov, "capacity_per_s", runs) * self.dt
        self.decay = float(np.exp(-self.dt / (b.decay_min * 60.0)))
        self.gain = (1.0 - self.decay) / self.dt  # intensity per expected reply
        self.window = max(1, round(d.exchange_protection.window_min * 60 / self.dt))
        admin = d.admin_disable
        self.cal = step_calendar(
            sc.send_time,
            sc.step_s,
            sc.n_steps,
            (admin.duty_start_hour, admin.duty_end_hour),
            admin.duty_weekdays,
        )
        on_draw = draw_range(rng, admin.on_duty_h, runs)
        self.on_draw = _row(0.0, ov, "on_duty_h", runs) if "on_duty_h" in ov else on_draw
        self.off_draw = draw_range(rng, admin.off_duty_h, runs)
        self.lag_s = draw_range(rng, d.exchange_protection.enforcement_lag_min, runs) * 60.0
        self._policy()

    def _policy(self) -> None:
        d, b = self.sc.defences, self.sc.behaviour
        allowed = d.sender_rate_limit.posts_allowed_per_day(self.sc.list_size)
        self.pass_share = 0.0 if allowed < 1 else (1.0 - b.repeat_share if allowed < 2 else 1.0)
        hidden = d.hidden_recipients.enabled or not self.sc.visible
        self.to_list = 0.0 if hidden else 1.0
        moderated = d.hidden_recipients.enabled and d.hidden_recipients.mode == "moderated"
        self.release = d.hidden_recipients.approve_share if moderated else 0.0
        self.review = max(1, round(d.hidden_recipients.review_min * 60 / self.dt))
        auto = self.n * (b.ooo_share + b.read_receipt_share)
        limit = d.mailbox_receiving_limit
        self.mbx_limit = float(limit.per_hour) if limit.enabled else float("inf")
        self.auto_cap = min(1.0, self.mbx_limit / auto) if auto > 0 else 1.0
        self.exchange_on = d.exchange_protection.applies_to(self.sc.list_size)

    def _state(self) -> _State:
        r, z = self.runs, np.zeros(self.runs)
        queue = Queue(np.full(r, self.n), z.copy(), z.copy(), z.copy())
        win = np.zeros((self.window, r))
        inf = np.full(r, np.inf)
        return _State(
            queue=queue,
            excite=z.copy(),
            pool=self.pool0.copy(),
            win_list=win.copy(),
            win_any=win.copy(),
            win_mbx=win.copy(),
            held=np.zeros((self.review, r)),
            blocked_until=np.full(r, -1.0),
            block_from=np.full(r, -1.0),
            disabled_at=inf.copy(),
            blocked_first=inf.copy(),
            blocked_last=inf.copy(),
            blocks=z.copy(),
            purged=z.copy(),
        )

    def go(self) -> StormRuns:
        st = self._state()
        steps = self.sc.n_steps
        per_min = 60 // self.sc.step_s
        minutes = -(-steps // per_min)
        out = {name: np.zeros((self.runs, minutes)) for name in SERIES}
        for k in range(steps):
            row = self._step(st, k)
            m = k // per_min
            for name, value in row.items():
                if name == "backlog":
                    out[name][:, m] = value
                else:
                    out[name][:, m] += value
        return StormRuns(
            scenario=self.sc,
            series=out,
            blocked_first_s=st.blocked_first,
            blocked_last_s=st.blocked_last,
            blocks=st.blocks,
            disabled_s=st.disabled_at,
            pool_left=st.pool,
            purged=st.purged,
        )

    # -- one step ------------------------------------------------------------------
    def _step(self, st: _State, k: int) -> dict[str, F64]:
        t = k * self.dt
        posts = self._draw_posts(st, k)
        list_posts, rejected, single = self._admit(st, k, t, posts)
        b = self.sc.behaviour
        recalls = list_posts * b.recall_prob
        st.queue.posts += list_posts * self.n
        st.queue.recalls += recalls * self.n
        st.queue.single += rejected + single
        self._exchange(st, k, t, list_posts)
        self._admin(st, k, t, posts)
        d_orig, d_posts, d_recalls, d_single = deliver(st.queue, self.cap)
        copies, refused = self._mailbox_limit(st, k, d_orig + d_posts + d_recalls)
        keep = np.divide(copies, d_orig + d_posts + d_recalls + 1e-300)
        self._excite(st, d_orig * keep, (d_posts + d_recalls) * keep)
        auto = (d_orig + d_posts * (1 - b.repeat_share)) * keep * b.ooo_share
        auto += (d_orig + d_posts) * keep * b.read_receipt_share
        st.queue.single += auto * self.auto_cap
        sz = self.sc.sizes
        kb = keep * (d_orig * sz.original_kb + d_posts * self.post_kb + d_recalls * sz.recall_kb)
        return {
            "posts": posts,
            "list_posts": list_posts,
            "rejected_posts": rejected,
            "recalls": recalls,
            "list_deliveries": copies,
            "single_deliveries": d_single,
            "mailbox_rejected": refused,
            "backlog": st.queue.total(),
            "kb": kb + d_single * sz.auto_kb,
        }

    @property
    def post_kb(self) -> float:
        return self.sc.sizes.post_kb(self.sc.behaviour)

    def _draw_posts(self, st: _State, k: int) -> F64:
        mean = st.excite * self.cal.activity[k] * self.dt
        posts: F64 = self.rng.poisson(mean).astype(np.float64) if self.stochastic else mean
        new = 1.0 - self.sc.behaviour.repeat_share
        posts = np.minimum(posts, st.pool / new)
        st.pool = np.maximum(st.pool - posts * new, 0.0)
        return posts

    def _admit(self, st: _State, k: int, t: float, posts: F64) -> tuple[F64, F64, F64]:
        """Split attempted posts into list posts, rejected ones and sender-only ones."""
        # reply-alls sent before the block has reached every server are delivered
        blocked = (t >= st.block_from) & (t < st.blocked_until)
        open_ = (t < st.disabled_at) & ~blocked
        passed = np.where(open_, posts * self.pass_share, 0.0)
        rejected = posts - passed
        to_list = passed * self.to_list
        single = passed - to_list  # bcc: to the sender; moderated: to the moderator
        if self.exchange_on:  # the step that declares the storm: posts after the threshold
            declaring = t >= st.blocked_until  # pass only for the part of the step in the lag
            seen = st.win_list.sum(axis=0) - st.win_list[k % self.window]
            room = np.maximum(self.sc.defences.exchange_protection.threshold - seen, 0.0)
            over = np.where(declaring, np.maximum(to_list - room, 0.0), 0.0)
            held = over * (1.0 - np.minimum(self.lag_s / self.dt, 1.0))
            to_list = to_list - held
            rejected = rejected + held
        slot = k % self.review
        released = st.held[slot].copy()
        st.held[slot] = single * self.release
        to_list += np.where(t < st.disabled_at, released, 0.0)
        return to_list, rejected, single

    def _exchange(self, st: _State, k: int, t: float, list_posts: F64) -> None:
        slot = k % self.window
        st.win_list[slot] = list_posts
        if not self.exchange_on:
            return
        ex = self.sc.defences.exchange_protection
        trip = (st.win_list.sum(axis=0) >= ex.threshold) & (t >= st.blocked_until)
        if trip.any():  # the storm is declared now; the block acts after the lag
            st.block_from = np.where(trip, t + self.lag_s, st.block_from)
            until = t + self.lag_s + ex.block_hours * 3600.0
            st.blocked_until = np.where(trip, until, st.blocked_until)
            st.blocked_first = np.where(trip, np.minimum(st.blocked_first, t), st.blocked_first)
            st.blocked_last = np.where(trip, t, st.blocked_last)
            st.blocks += trip
            st.win_list[:, trip] = 0.0

    def _admin(self, st: _State, k: int, t: float, posts: F64) -> None:
        st.win_any[k % self.window] = posts
        admin = self.sc.defences.admin_disable
        if not admin.enabled:
            return
        notice = (st.win_any.sum(axis=0) >= admin.detect_posts) & np.isinf(st.disabled_at)
        if notice.any():
            delay = admin_delay_s(
                np.full(self.runs, self.cal.on_duty[k]),
                np.full(self.runs, self.cal.to_next_duty_s[k]),
                self.on_draw,
                self.off_draw,
            )
            st.disabled_at = np.where(notice, t + delay, st.disabled_at)
        if admin.purge_queue:
            cut = t >= st.disabled_at
            st.purged += np.where(cut, st.queue.posts + st.queue.recalls, 0.0)
            st.queue.posts = np.where(cut, 0.0, st.queue.posts)
            st.queue.recalls = np.where(cut, 0.0, st.queue.recalls)

    def _mailbox_limit(self, st: _State, k: int, copies: F64) -> tuple[F64, F64]:
        slot = k % self.window
        st.win_mbx[slot] = 0.0
        if np.isinf(self.mbx_limit):
            return copies, np.zeros_like(copies)
        room = np.maximum(self.mbx_limit - st.win_mbx.sum(axis=0), 0.0) * self.n
        taken = np.minimum(copies, room)
        st.win_mbx[slot] = taken / self.n
        return taken, copies - taken

    def _excite(self, st: _State, orig: F64, storm: F64) -> None:
        left = st.pool / self.pool0
        replies = (orig + storm * self.sc.behaviour.excitation) * self.rate * left
        st.excite = st.excite * self.decay + replies * self.gain
