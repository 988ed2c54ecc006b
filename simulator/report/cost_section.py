"""The cost and capacity section of a page, as HTML tables, from the cost document.

Theory of operation: the document `simulator.cost.plan` builds is plain JSON; this turns
it into tables a planner reads: what was priced (the scale), each round's terms with
P10/P50/P90, the year, what moves the total most, and what it takes to absorb the
replies. Pure: a dict in, an HTML string out.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

from simulator.report.html import table_html


def usd(v: float) -> str:
    return f"${v:,.0f}" if abs(v) >= 100 else f"${v:,.2f}"


def priced_scale(doc: Mapping[str, Any]) -> str:
    """Which size the figures price, in words."""
    inputs = doc["inputs"]
    priced = float(inputs.get("priced_scale", 1.0))
    built = float(inputs.get("workforce_scale", priced))
    size = "the full workforce" if abs(priced - 1.0) < 1e-9 else f"{priced:.4g} of the workforce"
    return (
        f"Priced for {size}: counts of a {built:.4g} workforce "
        f"({int(inputs['workforce_rows']):,} employees) x{float(inputs['scale_up']):g}."
    )


def _terms(table: Mapping[str, Mapping[str, float]]) -> list[list[str]]:
    return [[name, usd(p["p10"]), usd(p["p50"]), usd(p["p90"])] for name, p in table.items()]


def cost_html(doc: Mapping[str, Any]) -> str:
    est = doc["estimate"]
    parts = [
        f"<p>{html.escape(priced_scale(doc))} {est['draws']:,} draws of "
        f"{html.escape(doc['distribution'])}.</p>"
    ]
    for r, terms in est["rounds"].items():
        parts.append(f"<h3>Round {html.escape(r)} (x{est['rounds_per_year'][r]} a year)</h3>")
        parts.append(table_html(_terms(terms), ("term", "P10", "P50", "P90")))
    parts.append("<h3>A year of rounds</h3>")
    parts.append(table_html(_terms(est["year"]), ("term", "P10", "P50", "P90")))
    swings = doc["tornado"]["year"][:8]
    parts.append("<h3>What moves the yearly total (one at a time, others at likely)</h3>")
    parts.append(
        table_html(
            [
                [
                    s["name"],
                    f"{s['low']:g} – {s['high']:g}",
                    usd(s["total_at_low"]),
                    usd(s["total_at_high"]),
                    usd(s["swing"]),
                ]
                for s in swings
            ],
            ("assumption", "low – high", "total at low", "total at high", "swing"),
        )
    )
    parts.append(capacity_html(doc["capacity"]))
    return "".join(parts)


def capacity_html(c: Mapping[str, Any]) -> str:
    likely = c["plans"]["likely"]
    rows = [
        [
            label,
            f"{plan['per_core_per_s']:,.0f}",
            f"{plan['cores']:,}",
            f"{plan['servers']:,} of {plan['cores_per_server']}",
            f"{plan['mailboxes_for_rate']:,}",
            f"{plan['mailboxes_for_quota']:,}",
        ]
        for label, plan in c["plans"].items()
    ]
    return (
        f"<h3>What it takes (capacity {html.escape(c['capacity_source'])})</h3>"
        f"<p>Busiest round {html.escape(c['busiest_round'])}: peak "
        f"{likely['peak_per_s']:,.1f}/s (busiest minute), {likely['peak_per_hour']:,}/h "
        f"(busiest hour); headroom x{likely['headroom']:g}.</p>"
        + table_html(
            rows,
            ("case", "acks/core/s", "cores", "servers", "mailboxes (rate)", "mailboxes (quota)"),
        )
    )
