"""The report page: one self-contained HTML file with its figures embedded as PNG.

Theory of operation: `render_page` turns a summary and named figures into a string (the
PNGs are encoded in memory and inlined as data URIs), so the page works when mailed or
opened from anywhere. It answers first: the verdict and a table of what a reader came
for (stored, lost, peak rates, corrected p99, the cost of each round and what absorbing
the replies takes, from the cost and capacity document), then how the run was made,
the counts with their breakdowns by kind, collection and agency, the sections the caller
adds, and a glossary of every count. Every table is an HTML table. `write_report` is the
one function here that touches the disk: it writes `summary.json`, `report.html` and each
figure as `figures/<name>.png` (at 2x resolution, each figure closed once drawn). A small
script in the page marks `data-figures-loaded` once every image has decoded, which the
browser test reads.
"""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from simulator.report import ci
from simulator.report.money import usd_short

STYLE = """
body{font-family:system-ui,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#222}
h1{margin-bottom:.2em}
.verdict{font-size:1.3em;font-weight:bold;padding:.3em .6em;border-radius:4px}
.pass{background:#d9f2d9;color:#135213} .fail{background:#f8d7d7;color:#7a1212}
.none{background:#eeeeee;color:#444}
table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th{background:#f3f3f3} td:first-child,th:first-child{text-align:left}
figure{margin:1.5em 0} img{max-width:100%} figcaption{color:#555;font-size:.9em}
table.facts td{text-align:left} table.facts td:first-child{font-weight:bold;white-space:nowrap}
dl.glossary dt{font-weight:bold;margin-top:.5em} dl.glossary dd{margin-left:1.5em}
"""

CHECK_SCRIPT = """
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  document.body.setAttribute('data-figures-loaded', ok + '/' + imgs.length);
});
"""


PNG_DPI = 200  # twice the screen's: sharp on high-density screens and in print


def png_bytes(fig: Figure) -> bytes:
    """The figure as PNG; the figure is closed (pyplot keeps no reference to it)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=PNG_DPI)
    plt.close(fig)
    return buffer.getvalue()


def _table(rows: Sequence[Sequence[Any]], head: Sequence[str]) -> str:
    """A table; a head of empty names makes a two-column list of names and words."""
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_fmt(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    if not any(head):
        return f"<table class='facts'>{body}</table>"
    cells = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    return f"<table><tr>{cells}</tr>{body}</table>"


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table_html(rows: Sequence[Sequence[Any]], head: Sequence[str]) -> str:
    """An HTML table with numbers formatted for reading."""
    return _table(rows, head)


def page(title: str, parts: Sequence[str], figures: Mapping[str, tuple[str, bytes]]) -> str:
    """A self-contained page: body parts, then the figures inlined as data URIs."""
    body = list(parts)
    if figures:
        body.append("<h2>Figures</h2>")
    for name, (caption, png) in figures.items():
        data = base64.b64encode(png).decode("ascii")
        body.append(
            f"<figure id='fig-{html.escape(name)}'><img alt='{html.escape(caption)}' "
            f"src='data:image/png;base64,{data}'><figcaption>{html.escape(caption)}"
            "</figcaption></figure>"
        )
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title>"
        f"<style>{STYLE}</style><script>{CHECK_SCRIPT}</script></head>"
        f"<body><h1>{html.escape(title)}</h1>" + "\n".join(body) + "</body></html>"
    )


GLOSSARY = (
    (
        "scheduled",
        "Events the schedule holds for this run: broadcasts, replies, auto-replies "
        "and bounces, each at its intended time.",
    ),
    ("sent", "Events whose request went out (an SMTP transaction or an HTTP request began)."),
    (
        "acknowledged",
        "Events the collection system accepted: SMTP 250 after the message, "
        "HTTP 2xx. Late events are acknowledged too.",
    ),
    (
        "rejected",
        "Events the collection system read and refused on purpose: a content "
        "rule, a size limit, a full mailbox. The reason column says which.",
    ),
    (
        "errors",
        "Events that failed for a reason that is not a refusal: a connection "
        "error, a refused command or login, a 4xx/5xx before the message was read, or a "
        "timeout (no answer within the replay's timeout), after the retries ran out.",
    ),
    (
        "timeout",
        "An error with no answer at all within the replay's timeout: counted in errors.",
    ),
    (
        "retries",
        "Further attempts after a temporary answer (SMTP 4xx, HTTP 429/503); each event is "
        "counted once, by its last attempt.",
    ),
    (
        "late",
        "Acknowledged events sent more than {late_ms:g} ms after their intended time. "
        "The replay is open-loop: events are due on the schedule whether or not earlier ones "
        "were answered, so a slow target makes the sender fall behind and a late event's "
        "corrected latency includes the wait. Many late events at a high speedup mean the "
        "replay (or the target) could not keep the compressed pace.",
    ),
    (
        "dropped",
        "Events never sent: more than {drop_s:g} s behind schedule, or past the run's time limit.",
    ),
    ("stored", "Acknowledged events found in the collection system's store afterwards."),
    (
        "lost",
        "Acknowledged but not stored: the system said yes and kept nothing. Only "
        "known when the store was read back.",
    ),
    (
        "duplicates",
        "Events stored more than once (a retry of a message that had landed), "
        "when the store read-back can tell.",
    ),
    (
        "corrected latency",
        "From the intended send time to the answer (wrk2 style): what a "
        "sender on the schedule waits, including time spent queued behind a slow target.",
    ),
    (
        "uncorrected latency",
        "From the actual send to the answer (closed-loop style): "
        "leaves out the queueing, so it looks better than what senders see.",
    ),
)


def glossary_html(late_ms: float, drop_s: float) -> str:
    rows = "".join(
        f"<dt>{html.escape(term)}</dt>"
        f"<dd>{html.escape(text.format(late_ms=late_ms, drop_s=drop_s))}</dd>"
        for term, text in GLOSSARY
    )
    return f"<dl class='glossary'>{rows}</dl>"


def _count(value: Any, of: Any = None) -> str:
    if value is None:
        return "not known"
    text = f"{int(value):,}"
    if of:
        text += f" of {int(of):,} ({100.0 * int(value) / int(of):.1f}%)"
    return text


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def _ms(value: Any) -> str:
    return "–" if value is None else f"{float(value):,.1f} ms"


def answers_rows(summary: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The page's first table: what a reader came for, in words."""
    events, latency, rate = summary["events"], summary["latency_ms"], summary["throughput"]
    limits = summary.get("limits", {})
    clock = summary.get("clock") or {}
    stored = events.get("stored")
    checked = (summary.get("store_check") or {}).get("acknowledged", events["acknowledged"])
    where = (summary.get("store_check") or {}).get("source", "the store")
    rows = [
        (
            "stored",
            "not checked (no store was read back)"
            if stored is None
            else f"{_count(stored, checked)} acknowledged events, found in {where}",
        ),
        ("lost (acknowledged, not stored)", _count(events.get("lost"))),
    ]
    if events.get("duplicates") is not None:
        rows.append(("duplicates (stored twice or more)", _count(events["duplicates"])))
    rows += [
        ("acknowledged", _count(events["acknowledged"], events["scheduled"])),
        ("refused by the system", _count(events["rejected"], events["scheduled"])),
        ("errors and dropped", _count(events["errors"] + events["dropped"], events["scheduled"])),
    ]
    late = f"{_count(events['late'], events['scheduled'])}"
    if "late_after_ms" in limits:
        late += f", sent more than {limits['late_after_ms']:g} ms behind schedule"
    rows.append(("late", late))
    peak = (
        f"{rate.get('peak_offered_per_s', 0):,.0f}/s offered, "
        f"{rate['peak_events_per_s']:,.0f}/s acknowledged (busiest replay second)"
    )
    if clock.get("peak_offered_at"):
        peak += (
            f"; the busiest offered second is {clock['peak_offered_at']} on the scenario's clock"
        )
    rows.append(("peak rate", peak))
    rows.append(
        (
            "p99 latency",
            f"{_ms(latency['corrected']['p99'])} corrected (from intended send), "
            f"{_ms(latency['uncorrected']['p99'])} uncorrected",
        )
    )
    rows += _cost_rows(summary)
    return rows


def _cost_rows(summary: Mapping[str, Any]) -> list[tuple[str, str]]:
    cost, capacity = summary.get("cost"), summary.get("capacity")
    rows: list[tuple[str, str]] = []
    if cost and "estimate" in cost:
        scale = cost.get("priced")
        for name, terms in cost["estimate"]["rounds"].items():
            total = terms["total"]
            p10, p50, p90 = (usd_short(total[p]) for p in ("p10", "p50", "p90"))
            text = f"P50 {p50} (P10 {p10} to P90 {p90})"
            rows.append((f"cost of round {name}", text + (f"; {scale}" if scale else "")))
    plans = (capacity or {}).get("plans") or {}
    plan = plans.get("likely") or next(iter(plans.values()), None)
    if plan:
        mailboxes = max(int(plan["mailboxes_for_rate"]), int(plan["mailboxes_for_quota"]))
        rows.append(
            (
                "what it takes",
                f"{_plural(int(plan['cores']), 'core')} ({int(plan['servers']):,} server(s) of "
                f"{int(plan['cores_per_server'])}) for a peak of {plan['peak_per_s']:,.0f} "
                f"replies/s at {plan['per_core_per_s']:,.0f}/s per core with "
                f"x{plan['headroom']:g} headroom; {mailboxes:,} mailbox(es) "
                f"({int(plan['mailboxes_for_rate']):,} for a {int(plan['limit_per_hour']):,}/h "
                f"rate limit, {int(plan['mailboxes_for_quota']):,} for a year's storage)",
            )
        )
    return rows


BREAKDOWN_TITLES = {"kind": "event kind", "collection": "collection", "agency": "agency"}
BREAKDOWN_COUNTS = ("scheduled", "sent", "acknowledged", "rejected", "errors", "late", "dropped")


def breakdown_html(breakdown: Mapping[str, Mapping[str, Mapping[str, int]]]) -> str:
    parts = []
    for name, groups in breakdown.items():
        title = BREAKDOWN_TITLES.get(name, name)
        rows = [(group, *(counts[c] for c in BREAKDOWN_COUNTS)) for group, counts in groups.items()]
        parts.append(f"<h3>By {html.escape(title)}</h3>")
        parts.append(_table(rows, (title, *BREAKDOWN_COUNTS)))
    return "".join(parts)


THROUGHPUT_LABELS = {
    "events_per_s": "acknowledged per replay second, over the run",
    "peak_events_per_s": "acknowledged in the busiest replay second",
    "peak_offered_per_s": "offered in the busiest replay second",
    "duration_s": "replay duration (s)",
}


def render_page(
    summary: Mapping[str, Any],
    figures: Mapping[str, tuple[str, bytes]],
    sections: Sequence[tuple[str, str]] = (),
    lead: Sequence[tuple[str, str]] = (),
) -> str:
    """The run page: the answers first, then `lead` (title, html) sections (how the run was
    made), the counts and breakdowns, `sections`, the glossary and the figures.
    `figures`: name -> (caption, PNG bytes)."""
    events = summary["events"]
    latency = summary["latency_ms"]
    found = ci.checks(summary)
    verdict = ci.overall(found)  # the thresholds' and the run's own checks, as CI reads them
    counts = (
        "scheduled",
        "sent",
        "acknowledged",
        "stored",
        "lost",
        "duplicates",
        "late",
        "dropped",
        "rejected",
        "errors",
        "retries",
    )
    reasons = list(events.get("failed_by_reason", {}).items()) or [("none", 0)]
    percentiles = [
        (p, latency["corrected"][p], latency["uncorrected"][p]) for p in latency["corrected"]
    ]
    checks = [
        (c.name, ci.number(c.value), c.result, c.kind if not c.why else f"{c.kind}: {c.why}")
        for c in found
    ] or [("none set", "", "", "")]
    rate = [
        (label, summary["throughput"][key])
        for key, label in THROUGHPUT_LABELS.items()
        if key in summary["throughput"]
    ]
    limits = summary.get("limits", {})
    parts = [
        "<section id='answers'><h2>Answers</h2>",
        f"<p class='verdict {verdict}'>{html.escape(ci.verdict_line(found))}</p>",
        _table(answers_rows(summary), ("", "")),
        "</section>",
    ]
    parts += [f"<h2>{html.escape(title)}</h2>{body}" for title, body in lead]
    parts += [
        "<h2>Events</h2>",
        _table([(k, events.get(k)) for k in counts], ("count", "events")),
        _table(reasons, ("failed by reason, as the system gave it", "events")),
    ]
    if summary.get("breakdown"):
        parts += ["<h2>Breakdown</h2>", breakdown_html(summary["breakdown"])]
    parts += [
        "<h2>Throughput and latency</h2>",
        _table(rate, ("throughput", "events")),
        _table(
            percentiles,
            ("percentile", "corrected ms (from intended)", "uncorrected ms (from send)"),
        ),
        "<h2>Checks</h2>",
        _table(checks, ("check", "measured", "result", "kind")),
    ]
    parts += [f"<h2>{html.escape(title)}</h2>{body}" for title, body in sections]
    parts += [
        "<h2>Glossary</h2>",
        glossary_html(limits.get("late_after_ms", 10.0), limits.get("drop_after_s", 10.0)),
    ]
    return page(f"pulsecheck report: {summary['scenario']}", parts, figures)


def write_page(
    path: Path, title: str, parts: Sequence[str], figures: Mapping[str, tuple[str, Figure]]
) -> Path:
    """Write a standalone page (for example the reply-all report) with its figures."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rendered = {name: (caption, png_bytes(fig)) for name, (caption, fig) in figures.items()}
    path.write_text(page(title, parts, rendered), encoding="utf-8")
    return path


def write_report(
    run_dir: Path,
    summary: Mapping[str, Any],
    figures: Mapping[str, tuple[str, Figure]],
    sections: Sequence[tuple[str, str]] = (),
    lead: Sequence[tuple[str, str]] = (),
) -> Path:
    """Write summary.json, report.html and figures/*.png into `run_dir`; return the page."""
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    rendered = {name: (caption, png_bytes(fig)) for name, (caption, fig) in figures.items()}
    fig_dir = run_dir / "figures"
    fig_dir.mkdir(exist_ok=True)
    for name, (_, png) in rendered.items():
        (fig_dir / f"{name}.png").write_bytes(png)
    page = run_dir / "report.html"
    page.write_text(render_page(summary, rendered, sections, lead), encoding="utf-8")
    return page
