"""Who replies, out-of-office replies, bounces, content kinds and violation rates."""

from __future__ import annotations

import numpy as np

from simulator.behaviour import violations, who
from simulator.behaviour.params import ContentShares, Shares
from simulator.columns import CONTENTS, VIOLATIONS
from simulator.rules import ContentRules
from simulator.scenario import ACTIONS

SHARES = Shares.from_behaviour()
N = 200_000


def _binomial_ok(count: int, n: int, p: float, z: float = 5.0) -> bool:
    return abs(count - n * p) <= z * np.sqrt(n * p * (1 - p)) + 1


def test_pause_replies_are_a_subset_of_comply_replies() -> None:
    u = np.random.default_rng(0).random(N)
    no = np.zeros(N, dtype=np.bool_)
    yes = np.ones(N, dtype=np.bool_)
    comply = who.replies(u, np.full(N, ACTIONS.index("comply")), no, yes, SHARES)
    pause = who.replies(u, np.full(N, ACTIONS.index("pause")), no, yes, SHARES)
    voluntary = who.replies(u, np.full(N, ACTIONS.index("voluntary")), no, yes, SHARES)
    assert not np.any(pause & ~comply) and not np.any(voluntary & ~comply)
    assert _binomial_ok(int(pause.sum()), N, SHARES.propensity["pause"])
    assert _binomial_ok(int(comply.sum()), N, SHARES.propensity["comply"])


def test_contractors_reply_at_most_at_their_share() -> None:
    u = np.random.default_rng(1).random(N)
    yes = np.ones(N, dtype=np.bool_)
    required = np.full(N, ACTIONS.index("required"))
    replied = who.replies(u, required, yes, yes, SHARES)
    assert _binomial_ok(int(replied.sum()), N, SHARES.contractor_reply)


def test_nobody_replies_who_cannot() -> None:
    u = np.zeros(N)
    cannot = np.zeros(N, dtype=np.bool_)
    assert not who.replies(u, np.zeros(N, dtype=np.int64), cannot, cannot, SHARES).any()


def test_auto_replies_only_from_away_staff_with_valid_addresses() -> None:
    rng = np.random.default_rng(2)
    away, stale = rng.random(N) < 0.07, rng.random(N) < 0.01
    auto = who.auto_replies(np.random.default_rng(3), away, stale, SHARES)
    assert not np.any(auto & ~away) and not np.any(auto & stale)
    eligible = int((away & ~stale).sum())
    assert _binomial_ok(int(auto.sum()), eligible, SHARES.auto_reply_external)


def test_content_kinds_priority() -> None:
    sensitive = np.array([True, True, False, False])
    form = np.array([True, False, True, False])
    allow = np.array([True, True, True, True])
    kinds = [CONTENTS[k] for k in who.content_kinds(sensitive, form, allow)]
    assert kinds == ["sensitive", "sensitive", "form_letter", "bullets"]
    not_allowed = who.content_kinds(sensitive, form, ~allow)
    assert [CONTENTS[k] for k in not_allowed] == [
        "form_letter",
        "bullets",
        "form_letter",
        "bullets",
    ]


def test_violation_rates_within_binomial_tolerance() -> None:
    shares = ContentShares.from_behaviour()
    content = np.full(N, CONTENTS.index("bullets"))
    forbid_all = np.ones((N, len(VIOLATIONS)), dtype=np.bool_)
    forbid_all[:, 0] = False
    drawn = violations.draw(np.random.default_rng(4), content, forbid_all, shares)
    for kind, rate in shares.rates.items():
        assert _binomial_ok(int((drawn == VIOLATIONS.index(kind)).sum()), N, rate), kind


def test_violations_only_where_rules_forbid_and_only_in_bullets() -> None:
    shares = ContentShares(dict.fromkeys(violations.KINDS, 0.15), 0.5)
    round1 = violations.forbidden(ContentRules())  # links, attachments, markings
    content = np.full(N, CONTENTS.index("bullets"))
    content[: N // 4] = CONTENTS.index("sensitive")
    drawn = violations.draw(np.random.default_rng(5), content, np.tile(round1, (N, 1)), shares)
    names = {VIOLATIONS[k] for k in np.unique(drawn)}
    assert names == {"", "link", "attachment", "classification"}
    assert not drawn[: N // 4].any()
