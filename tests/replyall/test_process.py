"""The storm process: no defence gives a storm, each defence bounds it, same seed same run."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from simulator.replyall.data import storms_on_record
from simulator.replyall.params import Behaviour, ReplyAllScenario
from simulator.replyall.process import simulate
from simulator.replyall.summary import summarize
from simulator.validation import Range


def test_open_list_without_defence_storms(small: ReplyAllScenario) -> None:
    o = summarize(simulate(small, 10, seed=1))
    # hundreds of reply-alls, each to the whole list: far more deliveries than the list
    assert np.all(o.list_posts > 100)
    assert np.all(o.deliveries > 100 * small.list_size)


def test_same_seed_same_result(small: ReplyAllScenario) -> None:
    a, b = simulate(small, 5, seed=7), simulate(small, 5, seed=7)
    for name in a.series:
        assert np.array_equal(a.series[name], b.series[name])
    c = simulate(small, 5, seed=8)
    assert not np.array_equal(a.series["posts"], c.series["posts"])


def _lag(sc: ReplyAllScenario, minutes: float) -> ReplyAllScenario:
    ex = replace(
        sc.defences.exchange_protection, enforcement_lag_min=Range(minutes, minutes, minutes)
    )
    return replace(sc, defences=replace(sc.defences, exchange_protection=ex))


def test_exchange_protection_blocks_after_the_posts_that_declare_it(
    small: ReplyAllScenario,
) -> None:
    sc = _lag(small.with_defences(exchange_protection=True), 0.0)
    run = simulate(sc, 10, seed=2)
    o = summarize(run)
    none = summarize(simulate(small, 10, seed=2))
    threshold = sc.defences.exchange_protection.threshold
    # reply-alls sent before the storm is declared are delivered, not blocked
    assert np.all(o.list_posts >= threshold)
    assert np.all(o.rejected_posts > 0)
    assert np.all(o.deliveries < none.deliveries / 2)
    assert set(o.ended_by) == {"exchange_protection"}


def test_enforcement_lag_lets_more_reply_alls_through(small: ReplyAllScenario) -> None:
    guarded = small.with_defences(exchange_protection=True)
    at_once = summarize(simulate(_lag(guarded, 0.0), 10, seed=2))
    late = summarize(simulate(_lag(guarded, 5.0), 10, seed=2))
    # the block takes minutes to reach every server; posts in between reach the list
    assert np.all(late.list_posts > at_once.list_posts)
    assert np.median(late.deliveries) > np.median(at_once.deliveries)


def test_admin_disable_stops_posts_after_the_reaction(small: ReplyAllScenario) -> None:
    sc = small.with_defences(admin_disable=True)
    run = simulate(sc, 10, seed=3)
    per_min = run.series["list_posts"]
    for i in range(run.runs):
        cut = int(np.ceil(run.disabled_s[i] / 60)) + 1
        assert np.isfinite(run.disabled_s[i])
        assert per_min[i, cut:].sum() == 0
    # on duty on a Tuesday morning: within 1-3 h of noticing (replyall_defences.csv)
    assert np.all(run.disabled_s / 3600 <= 3.5)


def test_admin_off_duty_reacts_later(small: ReplyAllScenario) -> None:
    night = replace(small, send_time=small.send_time.replace(day=22, hour=20))  # Saturday
    on = simulate(small.with_defences(admin_disable=True), 10, seed=4).disabled_s
    off = simulate(night.with_defences(admin_disable=True), 10, seed=4).disabled_s
    assert np.median(off) > np.median(on)


def test_hidden_recipients_no_list_posts(small: ReplyAllScenario) -> None:
    o = summarize(simulate(small.with_defences(hidden_recipients=True), 5, seed=5))
    assert np.all(o.list_posts == 0)
    assert np.all(o.per_member == 1.0)  # only the original reaches each member


def test_sender_rate_limit_counting_members_rejects_every_post(small: ReplyAllScenario) -> None:
    o = summarize(simulate(small.with_defences(sender_rate_limit=True), 5, seed=6))
    assert np.all(o.list_posts == 0)
    assert np.all(o.rejected_posts == o.posts)


def test_sender_rate_limit_counting_group_as_one_does_nothing(small: ReplyAllScenario) -> None:
    sc = small.with_defences(sender_rate_limit=True)
    lim = replace(sc.defences.sender_rate_limit, count_list_members=False)
    sc = replace(sc, defences=replace(sc.defences, sender_rate_limit=lim))
    assert np.all(summarize(simulate(sc, 5, seed=6)).list_posts > 100)


def test_mailbox_limit_bounds_each_mailbox_per_hour(small: ReplyAllScenario) -> None:
    sc = small.with_defences(mailbox_receiving_limit=True)
    lim = replace(sc.defences.mailbox_receiving_limit, per_hour=50)
    sc = replace(sc, defences=replace(sc.defences, mailbox_receiving_limit=lim))
    run = simulate(sc, 5, seed=9)
    per_member = run.series["list_deliveries"] / sc.list_size
    hourly = np.lib.stride_tricks.sliding_window_view(per_member, 60, axis=1).sum(axis=2)
    assert hourly.max() <= 50 + 1e-6
    assert summarize(run).per_poster[0] <= 50
    assert run.series["mailbox_rejected"].sum() > 0


def test_mta_capacity_bounds_delivery_rate(small: ReplyAllScenario) -> None:
    o = summarize(simulate(small, 5, seed=10))
    assert np.all(o.peak_deliveries_per_s <= small.mta.capacity_per_s + 1e-6)


def test_every_delivery_is_accounted_for(small: ReplyAllScenario) -> None:
    run = simulate(small, 3, seed=11)
    s = run.series
    sent = small.list_size * (1 + s["list_posts"].sum(1) + s["recalls"].sum(1))
    delivered = s["list_deliveries"].sum(1) + s["mailbox_rejected"].sum(1)
    left = s["backlog"][:, -1]
    # list copies delivered never exceed those sent, and the rest is still queued
    assert np.all(delivered <= sent + 1e-3)
    assert np.all(sent - delivered <= left + 1e-3)


def _mean_posts(sc: ReplyAllScenario, size: int) -> float:
    sized = replace(sc, list_size=size, step_s=60)
    return float(summarize(simulate(sized, 1, stochastic=False)).posts[0])


def test_posts_grow_slower_than_the_list(small: ReplyAllScenario) -> None:
    posts = {n: _mean_posts(small, n) for n in (10_000, 100_000, 1_000_000)}
    # diffusion of responsibility: 100 times the list, far fewer than 100 times the posts
    assert posts[1_000_000] / posts[10_000] < 30
    assert posts[100_000] / posts[10_000] < 10
    # a 1M list gives a bounded storm: far below the old constant share (86,667 posts)
    assert posts[1_000_000] < 10_000


def test_without_diffusion_posts_grow_with_the_list(small: ReplyAllScenario) -> None:
    flat = replace(small, behaviour=replace(small.behaviour, responsibility_exponent=0.0))
    ratio = _mean_posts(flat, 1_000_000) / _mean_posts(flat, 10_000)
    assert ratio == pytest.approx(100, rel=0.1)  # the consequence the exponent removes


def test_band_spreads_where_the_process_is_random(small: ReplyAllScenario) -> None:
    o = summarize(simulate(small, 30, seed=12))
    for values in (o.posts, o.peak_posts_per_s, o.deliveries):
        p10, p50, p90 = np.percentile(values, [10, 50, 90])
        assert p90 - p10 > 0.1 * p50  # not one storm repeated
    still = replace(small, behaviour=replace(small.behaviour, reaction_cv=0.0))
    s = summarize(simulate(still, 30, seed=12)).posts
    assert np.ptp(s) < np.ptp(o.posts)  # the spread comes from who reacts


def test_original_provokes_about_the_first_posts_on_record() -> None:
    # NHS 2016: "around 80" replied to the original itself on a list of 840,000
    nhs = storms_on_record()["nhs_2016"]
    b = Behaviour().at_size(nhs.list_size)
    first = nhs.list_size * b.reaction_rate  # expected reply-alls to the original
    assert nhs.first_posts is not None
    assert nhs.first_posts / 2 <= first <= nhs.first_posts * 2


def test_a_block_that_refused_nothing_does_not_end_the_storm(small: ReplyAllScenario) -> None:
    # a lag longer than the storm: the block comes after the last reply-all
    o = summarize(simulate(_lag(small.with_defences(exchange_protection=True), 60.0), 5, seed=2))
    assert np.all(o.rejected_posts == 0)
    assert "exchange_protection" not in o.ended_by
