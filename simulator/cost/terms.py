"""Each cost term of one round as a pure numpy function of the draws and the counts.

Theory of operation: a term takes `draws` (assumption name -> array of draws, all the
same length, or length 1 for a single case) and the round's `RoundCounts`, and returns
the term's cost in USD for every draw. Nothing else goes in, so the same function serves
the likely case, the Monte Carlo, the tornado and the corners of the assumption box.

The terms (assumption names as in `simulator/data/cost_assumptions.csv`):

- sending: broadcast recipients x send_price_per_1000 / 1000
  + inbound messages x inbound_price_per_1000 / 1000;
- storage: stored GB (10^9 bytes) x storage_price_per_gb (one billing period);
- writing: sum of the writers' hourly cost x minutes_per_reply / 60;
- not_replying: sum of the silent readers' hourly cost x minutes_deciding_not_to_reply / 60;
- manager_reading: sum of the cc'd managers' hourly cost x manager_minutes_per_cc / 60;
- review: replies x [review_model_share x review_model_cost_per_reply
  + (1 - review_model_share) x review_human_minutes / 60 x reviewer_hourly_cost];
- infrastructure: ceil(peak_per_s x infra_headroom / capacity_acks_per_core_s) cores
  x infra_core_hour x infra_hours.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import numpy.typing as npt

from simulator.cost.counts import RoundCounts
from simulator.validation import Range

F64 = npt.NDArray[np.float64]
Draws = Mapping[str, F64]
MINUTES_PER_HOUR = 60.0
BYTES_PER_GB = 1e9
PROVIDERS = {  # provider -> its price row in cost_assumptions.csv
    "ses": "ses_price_per_1000",
    "mailgun": "mailgun_price_per_1000",
    "self-hosted": "selfhosted_price_per_1000",
}


def sending(d: Draws, c: RoundCounts) -> F64:
    out = c.recipients / 1000.0 * d["send_price_per_1000"]
    return out + c.inbound_messages / 1000.0 * d["inbound_price_per_1000"]


def storage(d: Draws, c: RoundCounts) -> F64:
    return c.stored_bytes / BYTES_PER_GB * d["storage_price_per_gb"]


def writing(d: Draws, c: RoundCounts) -> F64:
    return c.writer_hourly_sum * d["minutes_per_reply"] / MINUTES_PER_HOUR


def not_replying(d: Draws, c: RoundCounts) -> F64:
    return c.silent_hourly_sum * d["minutes_deciding_not_to_reply"] / MINUTES_PER_HOUR


def manager_reading(d: Draws, c: RoundCounts) -> F64:
    return c.cc_hourly_sum * d["manager_minutes_per_cc"] / MINUTES_PER_HOUR


def review(d: Draws, c: RoundCounts) -> F64:
    share = d["review_model_share"]
    human = d["review_human_minutes"] / MINUTES_PER_HOUR * d["reviewer_hourly_cost"]
    return c.replies * (share * d["review_model_cost_per_reply"] + (1.0 - share) * human)


def cores_needed(peak_per_s: float, headroom: F64, per_core: F64) -> F64:
    """Whole cores that carry the peak with headroom; none when nothing arrives."""
    if peak_per_s <= 0:
        return np.zeros(np.broadcast(headroom, per_core).shape)
    return np.ceil(peak_per_s * headroom / per_core)


def infrastructure(d: Draws, c: RoundCounts) -> F64:
    cores = cores_needed(c.peak_per_s, d["infra_headroom"], d["capacity_acks_per_core_s"])
    return cores * d["infra_core_hour"] * d["infra_hours"]


Term = Callable[[Draws, RoundCounts], F64]
TERMS: dict[str, Term] = {
    "sending": sending,
    "storage": storage,
    "writing": writing,
    "not_replying": not_replying,
    "manager_reading": manager_reading,
    "review": review,
    "infrastructure": infrastructure,
}
INPUTS: dict[str, tuple[str, ...]] = {  # the assumptions each term reads
    "sending": ("send_price_per_1000", "inbound_price_per_1000"),
    "storage": ("storage_price_per_gb",),
    "writing": ("minutes_per_reply",),
    "not_replying": ("minutes_deciding_not_to_reply",),
    "manager_reading": ("manager_minutes_per_cc",),
    "review": (
        "review_model_share",
        "review_model_cost_per_reply",
        "review_human_minutes",
        "reviewer_hourly_cost",
    ),
    "infrastructure": (
        "capacity_acks_per_core_s",
        "infra_headroom",
        "infra_core_hour",
        "infra_hours",
    ),
}
ASSUMPTIONS: tuple[str, ...] = tuple(n for names in INPUTS.values() for n in names)


def evaluate(d: Draws, c: RoundCounts) -> dict[str, F64]:
    """Every term for every draw, plus their sum under "total"."""
    out = {name: np.asarray(term(d, c), dtype=np.float64) for name, term in TERMS.items()}
    out["total"] = np.sum(np.broadcast_arrays(*out.values()), axis=0)
    return out


def sending_by_provider(c: RoundCounts, ranges: Mapping[str, Range]) -> dict[str, Range]:
    """Outbound cost of the broadcast under each provider's price range (cost_assumptions.csv)."""
    per_1000 = c.recipients / 1000.0
    return {
        provider: Range(
            low=per_1000 * ranges[row].low,
            high=per_1000 * ranges[row].high,
            likely=per_1000 * ranges[row].likely,
        )
        for provider, row in PROVIDERS.items()
    }
