"""Typed behaviour parameters from a scenario's flat `{"timing.fast_median_min": 4.0}` dict.

Theory of operation: `simulator/data/behaviour.csv` holds every parameter with its source
and default; a scenario overrides some of them. These dataclasses give the model code
named fields instead of string keys, and fill anything missing from the CSV defaults so
functions stay callable without a scenario (tests, benchmarks).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from simulator.parameters import TIMING_MODEL, TIMING_MODELS, behaviour_specs
from simulator.scenario import ACTIONS


def defaults() -> dict[str, float]:
    """Every behaviour parameter at its default from behaviour.csv (and the default
    timing model, `TIMING_MODEL`)."""
    values = {name: spec.default.likely for name, spec in behaviour_specs().items()}
    values[TIMING_MODEL] = 0.0
    return values


def _merged(values: Mapping[str, float] | None) -> dict[str, float]:
    merged = defaults()
    merged.update(values or {})
    return merged


@dataclass(frozen=True)
class Timing:
    """The delay model (two log-normals, or Barabási's power law), daily/weekly gating,
    deadline pull. `model` is one of `TIMING_MODELS`."""

    model: str
    fast_weight: float
    fast_median_min: float
    fast_sigma: float
    slow_median_min: float
    slow_sigma: float
    active_start_hour: float
    active_end_hour: float
    night_factor: float
    weekend_factor: float
    off_hours_readers: float
    workday_end_hour: float
    deadline_pull: float
    deadline_pull_cap_h: float
    deadline_scale_h: float
    auto_reply_median_s: float
    hard_bounce_median_s: float
    soft_bounce_delay_h: float
    power_alpha: float
    power_fast_min: float
    power_cutoff_h: float
    power_step_min: float

    @classmethod
    def from_behaviour(cls, values: Mapping[str, float] | None = None) -> Timing:
        v = _merged(values)
        numbers = {n: v[f"timing.{n}"] for n in cls.__dataclass_fields__ if n != "model"}
        return cls(model=TIMING_MODELS[int(v[TIMING_MODEL])], **numbers)


@dataclass(frozen=True)
class Shares:
    """Who replies (per directive action) and the shares of the special cases."""

    propensity: dict[str, float]  # by action name, see scenario.ACTIONS
    contractor_reply: float
    auto_reply_external: float
    soft_bounce_share: float

    @classmethod
    def from_behaviour(cls, values: Mapping[str, float] | None = None) -> Shares:
        v = _merged(values)
        return cls(
            propensity={a: v[f"propensity.{a}"] for a in ACTIONS},
            contractor_reply=v["contractor_reply"],
            auto_reply_external=v["auto_reply_external"],
            soft_bounce_share=v["soft_bounce_share"],
        )


VIOLATION_PARAMS = ("link", "attachment", "classification", "coworker_name", "drug_or_contract")


@dataclass(frozen=True)
class ContentShares:
    """Rates of each rule-breaking content kind, and the share of HTML replies."""

    rates: dict[str, float]  # by violation name (columns.VIOLATIONS without "")
    html: float

    @classmethod
    def from_behaviour(cls, values: Mapping[str, float] | None = None) -> ContentShares:
        v = _merged(values)
        return cls({k: v[f"content.{k}"] for k in VIOLATION_PARAMS}, v["content.html"])
