"""Fit the storm model to the storms on record: Bedlam DL3 (1997) and Cisco (2013).

Theory of operation: the two storms share the people's behaviour (the reaction rate per
delivered copy and the share of members who would ever reply to all); each storm keeps
its own MTA capacity and message size. Bedlam ran to exhaustion on a list of about 13k
and gives the pool; Cisco was stopped by shutting the list and gives the reaction rate
(its peak of about 5 posts a second) and its MTA capacity (about 4M deliveries before the
shutdown). The search evaluates a whole grid of parameters in one vectorised mean-field
run (`stochastic=False`), refines around the best point, and fits each storm's mean
message size in closed form from bytes per delivery. `check_fit` then runs seeded bands
with the fitted values, so the reported closeness includes the process's own noise.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from simulator.replyall.data import StormOnRecord
from simulator.replyall.params import Behaviour, ReplyAllScenario, Sizes
from simulator.replyall.process import simulate
from simulator.replyall.summary import summarize

F64 = NDArray[np.float64]
TOLERANCE = {"deliveries": 0.15, "bytes": 0.15, "peak_posts_per_s": 0.30}  # relative
CALIBRATION_STEP_S = 60


@dataclass(frozen=True)
class Fit:
    """Fitted shared behaviour and per-storm values."""

    rate_scale: float  # times the scenario's reaction rates
    pool_share: float
    cisco_capacity_per_s: float
    size_scale: dict[str, float]  # per storm, times its scenario's message sizes
    loss: float


def _scaled(b: Behaviour, scale: float, pool: float) -> Behaviour:
    return replace(
        b,
        remove_rate=b.remove_rate * scale,
        stop_rate=b.stop_rate * scale,
        metoo_rate=b.metoo_rate * scale,
        joke_rate=b.joke_rate * scale,
        pool_share=pool,
    )


def _sizes(s: Sizes, scale: float) -> Sizes:
    return Sizes(**{k: v * scale for k, v in vars(s).items()})


def apply_fit(sc: ReplyAllScenario, fit: Fit, storm: str) -> ReplyAllScenario:
    """The scenario with the fitted behaviour (and, for Cisco, capacity) applied."""
    out = replace(
        sc,
        behaviour=_scaled(sc.behaviour, fit.rate_scale, fit.pool_share),
        sizes=_sizes(sc.sizes, fit.size_scale.get(storm, 1.0)),
    )
    if storm == "cisco_2013":
        out = replace(out, mta=replace(out.mta, capacity_per_s=fit.cisco_capacity_per_s))
    return out


def _grid_loss(
    bedlam: ReplyAllScenario,
    cisco: ReplyAllScenario,
    records: dict[str, StormOnRecord],
    scale: F64,
    pool: F64,
    cap: F64,
) -> F64:
    """Sum of squared log errors on Bedlam deliveries, Cisco deliveries and Cisco peak."""
    on_duty = np.full(scale.size, cisco.defences.admin_disable.on_duty_h.likely)
    b = summarize(
        simulate(
            replace(bedlam, step_s=CALIBRATION_STEP_S),
            scale.size,
            stochastic=False,
            overrides={"rate_scale": scale, "pool_share": pool},
        )
    )
    c = summarize(
        simulate(
            replace(cisco, step_s=CALIBRATION_STEP_S),
            scale.size,
            stochastic=False,
            overrides={
                "rate_scale": scale,
                "pool_share": pool,
                "capacity_per_s": cap,
                "on_duty_h": on_duty,
            },
        )
    )
    rb, rc = records["bedlam_dl3"], records["cisco_2013"]
    peak = rc.peak_posts_per_s or 1.0
    err = np.log(b.deliveries / rb.deliveries) ** 2 + np.log(c.deliveries / rc.deliveries) ** 2
    total: F64 = err + np.log(np.maximum(c.peak_posts_per_s, 1e-9) / peak) ** 2
    return total


def _search(
    bedlam: ReplyAllScenario,
    cisco: ReplyAllScenario,
    records: dict[str, StormOnRecord],
    centre: tuple[float, float, float],
    spans: tuple[float, float, float],
    points: int,
) -> tuple[tuple[float, float, float], float]:
    axes = [np.geomspace(c / s, c * s, points) for c, s in zip(centre, spans, strict=True)]
    s, p, k = (a.ravel() for a in np.meshgrid(*axes, indexing="ij"))
    p = np.minimum(p, 1.0)
    loss = _grid_loss(bedlam, cisco, records, s, p, k)
    best = int(np.argmin(loss))
    return (float(s[best]), float(p[best]), float(k[best])), float(loss[best])


def fit_storms(
    bedlam: ReplyAllScenario, cisco: ReplyAllScenario, records: dict[str, StormOnRecord]
) -> Fit:
    """Fit shared behaviour and Cisco's capacity, then each storm's message size."""
    centre = (1.0, bedlam.behaviour.pool_share, cisco.mta.capacity_per_s)
    spans = (30.0, 10.0, 30.0)
    loss = float("inf")
    for _ in range(4):
        centre, loss = _search(bedlam, cisco, records, centre, spans, 9)
        spans = tuple(float(np.sqrt(s)) for s in spans)  # type: ignore[assignment]
    fit = Fit(centre[0], centre[1], centre[2], {}, loss)
    sizes = {}
    for name, sc in (("bedlam_dl3", bedlam), ("cisco_2013", cisco)):
        o = summarize(simulate(replace(apply_fit(sc, fit, name), step_s=60), stochastic=False))
        target = records[name].bytes
        sizes[name] = float(target / (o.gigabytes[0] * 1e9)) if target else 1.0
    return replace(fit, size_scale=sizes)


def check_fit(
    sc: ReplyAllScenario, record: StormOnRecord, runs: int = 40, seed: int = 1
) -> dict[str, dict[str, Any]]:
    """Seeded band of the fitted scenario against the record: P10/P50/P90 and error."""
    o = summarize(simulate(sc, runs, seed))
    got = {
        "deliveries": o.deliveries,
        "bytes": o.gigabytes * 1e9,
        "peak_posts_per_s": o.peak_posts_per_s,
    }
    want = {
        "deliveries": record.deliveries,
        "bytes": record.bytes,
        "peak_posts_per_s": record.peak_posts_per_s,
    }
    out: dict[str, dict[str, Any]] = {}
    for key, values in got.items():
        p10, p50, p90 = (float(v) for v in np.percentile(values, [10, 50, 90]))
        target = want[key]
        error = None if target is None else p50 / target - 1.0
        ok = None if error is None else abs(error) <= TOLERANCE[key]
        out[key] = {"target": target, "p10": p10, "p50": p50, "p90": p90, "error": error, "ok": ok}
    return out
