"""pulsecheck's figures in Locust's web UI: latency rows in its stats, a "pulsecheck" tab.

Theory of operation: Locust measures each request from the moment it is sent, so under
overload its numbers hide the queueing the open-loop schedule exposes. Two additions put
pulsecheck's view beside Locust's own:

- Latency rows: each answered event is logged into two entries of Locust's request stats,
  type `pulsecheck`, "latency from intended time (corrected)" (wrk2's correction for
  coordinated omission) and "latency from first send (uncorrected)", straight into those
  entries (in bulk, `simulator.locust.bulk`), not through `events.request`: the
  "Aggregated" row, the request count and the RPS chart stay Locust's real requests.
  Workers ship the entries to the master with Locust's own stats reports, so the
  master's tables and CSV downloads show them.
- A tab (Locust's `extended_tabs` / `extended_tables` template arguments, fed through
  `extended_stats` in every `/stats/requests` answer) and a JSON route, `/pulsecheck`,
  with the storm's counts: scheduled, reported, acknowledged, late (with its threshold),
  dropped, and every failure by outcome and reason, plus corrected and uncorrected
  percentiles. The figures come from a callable (the storm's collector on the master or
  a local run), read when the page asks: Flask serves from a gevent greenlet, so the
  read never runs beside the users' writes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from simulator.locust.bulk import log_entry

TAB_KEY = "pulsecheck"
ROUTE = "/pulsecheck"
STATS_PATH = "/stats/requests"
LATENCY_TYPE = "pulsecheck"
CORRECTED_NAME = "latency from intended time (corrected)"
UNCORRECTED_NAME = "latency from first send (uncorrected)"
PERCENTILE_ROWS = ("p50", "p90", "p99", "p99.9", "max")

Figures = Callable[[], Mapping[str, Any]]
F64 = npt.NDArray[np.float64]


def log_latencies(stats: Any, at_s: F64, corrected_ms: F64, uncorrected_ms: F64) -> None:
    """Log answered events' two latencies into the storm's entries of Locust's stats
    (not into the total: that stays Locust's requests; no content size: a latency row
    stands for no answer of its own), in bulk; `at_s`: when each was answered."""
    log_entry(stats, LATENCY_TYPE, CORRECTED_NAME, at_s, corrected_ms)
    log_entry(stats, LATENCY_TYPE, UNCORRECTED_NAME, at_s, uncorrected_ms)


def rows(figures: Mapping[str, Any]) -> list[dict[str, str]]:
    """The figures as the tab's rows (figure, value)."""
    if "events" not in figures:
        return [{"figure": "state", "value": str(figures.get("state", "waiting"))}]
    outcomes = figures.get("outcomes", {})
    late_ms = figures.get("late_after_ms")
    late = "late" if late_ms is None else f"late (sent > {late_ms:g} ms behind schedule)"
    table: list[tuple[str, str]] = [
        ("events scheduled", f"{figures['events']:,}"),
        ("events reported so far", f"{figures['reported']:,}"),
        ("acknowledged", f"{figures['acknowledged']:,}"),
        (late, f"{figures['late']:,}"),
        ("rejected", f"{outcomes.get('rejected', 0):,}"),
        ("error", f"{outcomes.get('error', 0):,}"),
        ("timeout", f"{outcomes.get('timeout', 0):,}"),
        ("dropped (never sent)", f"{outcomes.get('dropped', 0):,}"),
    ]
    for failure in figures.get("failed_by_reason", []):
        table.append((f"{failure['outcome']}: {failure['reason']}", f"{failure['count']:,}"))
    for label, key in (
        ("corrected", "latency_corrected_ms"),
        ("uncorrected", "latency_uncorrected_ms"),
    ):
        values = figures.get(key, {})
        for p in PERCENTILE_ROWS:
            if p in values:
                table.append((f"{label} latency {p} (ms)", f"{values[p]:,.1f}"))
    return [{"figure": name, "value": value} for name, value in table]


def install(web_ui: Any, figures: Figures) -> None:
    """Add the tab and the `/pulsecheck` route to a Locust `WebUI`."""
    from flask import Response, jsonify, request

    args = web_ui.template_args
    tabs = [t for t in args.get("extended_tabs", []) if t.get("key") != TAB_KEY]
    args["extended_tabs"] = [*tabs, {"title": "pulsecheck", "key": TAB_KEY}]
    tables = [t for t in args.get("extended_tables", []) if t.get("key") != TAB_KEY]
    structure = [{"key": "figure", "title": "Figure"}, {"key": "value", "title": "Value"}]
    args["extended_tables"] = [*tables, {"key": TAB_KEY, "structure": structure}]

    def pulsecheck_figures() -> Response:
        return jsonify(dict(figures()))

    def add_tab_rows(response: Response) -> Response:
        if request.path != STATS_PATH or not response.is_json:
            return response
        data = response.get_json()
        extended = [e for e in data.get("extended_stats", []) if e.get("key") != TAB_KEY]
        data["extended_stats"] = [*extended, {"key": TAB_KEY, "data": rows(figures())}]
        response.set_data(json.dumps(data))
        return response

    view = web_ui.auth_required_if_enabled(pulsecheck_figures)
    web_ui.app.add_url_rule(ROUTE, "pulsecheck_figures", view)
    web_ui.app.after_request(add_tab_rows)
