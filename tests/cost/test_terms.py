"""Each cost term against a hand calculation on the tiny workforce and schedule."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.cost import terms
from simulator.cost.counts import counts_by_round
from tests.cost import tables

# One fixed case, chosen so the arithmetic is easy to follow.
CASE = {
    "send_price_per_1000": 0.40,
    "inbound_price_per_1000": 0.10,
    "storage_price_per_gb": 0.05,
    "minutes_per_reply": 10.0,
    "minutes_deciding_not_to_reply": 6.0,
    "manager_minutes_per_cc": 1.5,
    "review_model_share": 0.5,
    "review_model_cost_per_reply": 0.002,
    "review_human_minutes": 3.0,
    "reviewer_hourly_cost": 60.0,
    "capacity_acks_per_core_s": 0.03,
    "infra_headroom": 2.0,
    "infra_core_hour": 0.05,
    "infra_hours": 10.0,
}


@pytest.fixture
def draws() -> dict[str, np.ndarray]:
    return {k: np.array([v]) for k, v in CASE.items()}


@pytest.fixture
def counts() -> terms.RoundCounts:
    return counts_by_round(tables.workforce(), tables.schedule())["r1"]


# term, cost worked out by hand for the tiny round
HAND = [
    ("sending", 6 * 0.40 / 1000 + 5 * 0.10 / 1000),  # 6 recipients, 5 arrivals
    ("storage", 14_300 / 1e9 * 0.05),  # 14,300 bytes stored
    ("writing", (50 + 40 + 100) * 10 / 60),  # three writers, 10 min each
    ("not_replying", 80 * 6 / 60),  # employee 5, 6 minutes
    ("manager_reading", 2 * 100 * 1.5 / 60),  # manager 0 reads two replies
    ("review", 3 * (0.5 * 0.002 + 0.5 * 3 / 60 * 60)),  # three replies, half by people
    ("infrastructure", 4 * 0.05 * 10),  # 3/60 per s x 2 / 0.03 = 3.3 -> 4 cores, 10 h
]


@pytest.mark.parametrize(("name", "expected"), HAND)
def test_term_matches_hand_calculation(
    name: str, expected: float, draws: dict[str, np.ndarray], counts: terms.RoundCounts
) -> None:
    assert terms.TERMS[name](draws, counts)[0] == pytest.approx(expected, rel=1e-12)


def test_total_is_the_sum_of_the_terms(
    draws: dict[str, np.ndarray], counts: terms.RoundCounts
) -> None:
    out = terms.evaluate(draws, counts)
    assert out["total"][0] == pytest.approx(sum(e for _, e in HAND), rel=1e-12)


def test_every_term_lists_the_assumptions_it_reads(counts: terms.RoundCounts) -> None:
    for name, term in terms.TERMS.items():
        only = {k: np.array([v]) for k, v in CASE.items() if k in terms.INPUTS[name]}
        assert term(only, counts).shape == (1,)


def test_no_arrivals_need_no_cores() -> None:
    cores = terms.cores_needed(0.0, np.array([2.0]), np.array([10.0]))
    assert cores.tolist() == [0.0]


def test_provider_table_prices_the_broadcast(counts: terms.RoundCounts) -> None:
    from simulator.parameters import cost_specs

    ranges = {n: s.default for n, s in cost_specs().items()}
    table = terms.sending_by_provider(counts, ranges)
    assert table["ses"].likely == pytest.approx(6 / 1000 * 0.10)
    assert table["mailgun"].high == pytest.approx(6 / 1000 * 0.40)
    assert set(table) == {"ses", "mailgun", "self-hosted"}
