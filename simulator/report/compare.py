"""Two runs side by side: the figures that matter, with A, B and the ratio B/A.

Theory of operation: `rows` reads two run summaries (`summary.build_summary`, with the
run and cost parts `pulsecheck run` adds) and lines up the same figures of each:
events and throughput (acknowledged and answered per second, the most answers in one
second), corrected latency percentiles (from the intended send time), failures by
reason (the reasons of either run, the commonest first), lost, late, and each round's
cost P50 with its P10 to P90 range. A figure one run lacks (no store read back, no
cost) is None and shows as "n/a".
`text` renders them as a table of at most 80 columns under a key naming A and B;
`page` as one HTML page with real tables. Pure: summaries in, text out.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from simulator.report.ci import acked_per_s, checks, cost_rows, overall
from simulator.report.html import page as html_page
from simulator.report.html import table_html
from simulator.report.money import usd_short

WIDTH = 80
NAME_W, VALUE_W, RATIO_W = 36, 14, 8
PERCENTILES = ("p50", "p90", "p99", "max")


@dataclass(frozen=True)
class Row:
    name: str
    a: float | None
    b: float | None
    unit: str = ""  # "", "/s", "ms" or "$"
    a_text: str | None = None  # shown in place of the value (a range)
    b_text: str | None = None

    @property
    def ratio(self) -> float | None:
        """B/A, when both are known and A is not zero."""
        if self.a is None or self.b is None or self.a == 0:
            return None
        return self.b / self.a


def value_text(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    if unit == "$":
        return usd_short(value)
    if unit == "ms":
        return f"{value:,.1f} ms" if value >= 10 else f"{value:,.2f} ms"
    if unit == "/s":
        return f"{value:,.1f} /s" if not float(value).is_integer() else f"{value:,.0f} /s"
    return f"{value:,.0f}"


def ratio_text(ratio: float | None) -> str:
    if ratio is None:
        return "–"
    return f"{ratio:,.0f}" if ratio >= 100 else f"{ratio:.2f}"


def _latency(summary: Mapping[str, Any], p: str) -> float | None:
    value = summary["latency_ms"]["corrected"].get(p)
    return None if value is None else float(value)


def _costs(summary: Mapping[str, Any]) -> dict[str, tuple[float, float, float]]:
    return {what: (p10, p50, p90) for what, p10, p50, p90 in cost_rows(summary.get("cost"))}


def rows(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[Row]:
    """The figures of A and B that matter, in reading order."""
    ea, eb = a["events"], b["events"]
    ta, tb = a["throughput"], b["throughput"]
    out = [
        Row("events scheduled", ea["scheduled"], eb["scheduled"]),
        Row("acknowledged", ea["acknowledged"], eb["acknowledged"]),
        Row("acknowledged per second", acked_per_s(a), acked_per_s(b), "/s"),
        Row("answered per second", ta["events_per_s"], tb["events_per_s"], "/s"),
        Row("peak answers in one second", ta["peak_events_per_s"], tb["peak_events_per_s"], "/s"),
    ]
    out += [
        Row(f"corrected {p}", _latency(a, p), _latency(b, p), "ms")
        for p in PERCENTILES  # from the intended send time
    ]
    out.append(Row("lost (acknowledged, not stored)", ea.get("lost"), eb.get("lost")))
    out.append(Row("late (sent behind schedule)", ea["late"], eb["late"]))
    ra, rb = ea.get("failed_by_reason", {}), eb.get("failed_by_reason", {})
    reasons = sorted(set(ra) | set(rb), key=lambda r: (-(ra.get(r, 0) + rb.get(r, 0)), r))
    out += [Row(f"failed: {r}", ra.get(r, 0), rb.get(r, 0)) for r in reasons]
    if not reasons:
        out.append(Row("failed (any reason)", 0, 0))
    ca, cb = _costs(a), _costs(b)
    for what in [w for w in ca if w in cb] or list(ca) or list(cb):
        pa, pb = ca.get(what), cb.get(what)
        out.append(Row(f"cost P50, {what}", _p(pa, 1), _p(pb, 1), "$"))
        out.append(
            Row(
                f"  P10 to P90, {what}",
                _p(pa, 2) - _p(pa, 0) if pa else None,
                _p(pb, 2) - _p(pb, 0) if pb else None,
                "$",
                _range(pa),
                _range(pb),
            )
        )
    return out


def _p(values: tuple[float, float, float] | None, i: int) -> float:
    return 0.0 if values is None else values[i]


def _range(values: tuple[float, float, float] | None) -> str:
    return "n/a" if values is None else f"{usd_short(values[0])}–{usd_short(values[2])}"


def label(summary: Mapping[str, Any]) -> str:
    """How a run was made, in one short phrase."""
    run = summary.get("run") or {}
    parts = [str(summary["scenario"])]
    if run:
        if run.get("scale") is not None:
            parts.append(f"scale {run['scale']:g}")
        parts.append(f"x{run['speedup']:,.0f}")
        parts.append(str(run["protocol"]))
        parts.append(str(run["started_at"])[:16].replace("T", " "))
    state = overall(checks(summary))
    parts.append({"pass": "PASS", "fail": "FAIL", "none": "no thresholds"}[state])
    return ", ".join(parts)


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def text(a_name: str, b_name: str, a: Mapping[str, Any], b: Mapping[str, Any]) -> str:
    """The comparison as plain text, every line at most 80 columns."""
    lines = [
        _clip(f"A  {a_name}: {label(a)}", WIDTH),
        _clip(f"B  {b_name}: {label(b)}", WIDTH),
        "",
        f"{'':<{NAME_W}}  {'A':>{VALUE_W}}  {'B':>{VALUE_W}}  {'B/A':>{RATIO_W}}",
    ]
    for r in rows(a, b):
        va = r.a_text or value_text(r.a, r.unit)
        vb = r.b_text or value_text(r.b, r.unit)
        ratio = "" if r.a_text else ratio_text(r.ratio)
        line = (
            f"{_clip(r.name, NAME_W):<{NAME_W}}  {_clip(va, VALUE_W):>{VALUE_W}}  "
            f"{_clip(vb, VALUE_W):>{VALUE_W}}  {ratio:>{RATIO_W}}"
        )
        lines.append(line.rstrip())
    lines += ["", LATENCY_NOTE, *notes(a, b)]
    return "\n".join(_clip(line, WIDTH) for line in lines) + "\n"


LATENCY_NOTE = "Latency is corrected: from each event's intended send time (wrk2 style)."


def notes(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    """Warnings that A and B were not made alike, so their counts differ by design."""
    ra, rb = a.get("run") or {}, b.get("run") or {}
    found = []
    if a["scenario"] != b["scenario"]:
        found.append(f"Different scenarios: {a['scenario']} and {b['scenario']}.")
    if ra.get("scale") != rb.get("scale"):
        found.append(f"Different scales ({ra.get('scale')} and {rb.get('scale')}): counts differ.")
    ta, tb = (str(r.get("target", "")).split(" (")[0] for r in (ra, rb))  # not the port
    if ta != tb and ra and rb:
        found.append(f"Different targets: {ta} and {tb}.")
    return found


def page(a_name: str, b_name: str, a: Mapping[str, Any], b: Mapping[str, Any]) -> str:
    """The comparison as one HTML page: the two runs, then the figures side by side."""
    runs = table_html([("A", a_name, label(a)), ("B", b_name, label(b))], ("", "run", "made"))
    body: list[Sequence[Any]] = [
        (
            r.name,
            r.a_text or value_text(r.a, r.unit),
            r.b_text or value_text(r.b, r.unit),
            "" if r.a_text else ratio_text(r.ratio),
        )
        for r in rows(a, b)
    ]
    parts = [
        "<h2>Runs</h2>",
        runs,
        "<h2>Differences</h2>",
        table_html(body, ("figure", "A", "B", "B/A")),
        "<p>Latency is corrected: measured from each event's intended send time, so time "
        "spent queued behind schedule counts. B/A above 1 means B measured more.</p>",
        *(f"<p><b>{html.escape(n)}</b></p>" for n in notes(a, b)),
    ]
    same = a["scenario"] == b["scenario"]
    names = f"two runs of {a['scenario']}" if same else f"{a['scenario']} and {b['scenario']}"
    title = f"pulsecheck compare: {names}"
    return html_page(title, parts, {})
