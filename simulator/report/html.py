"""The report page: one self-contained HTML file with its figures embedded as PNG.

Theory of operation: `render_page` turns a summary and named figures into a string (the
PNGs are encoded in memory and inlined as data URIs), so the page works when mailed or
opened from anywhere. `write_report` is the one function here that touches the disk: it
writes `summary.json`, `report.html` and each figure as `figures/<name>.png`. A small
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

from matplotlib.figure import Figure

from simulator.report import ci

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
"""

CHECK_SCRIPT = """
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  document.body.setAttribute('data-figures-loaded', ok + '/' + imgs.length);
});
"""


def png_bytes(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


def _table(rows: Sequence[Sequence[Any]], head: Sequence[str]) -> str:
    cells = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_fmt(c))}</td>" for c in row) + "</tr>" for row in rows
    )
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


def render_page(
    summary: Mapping[str, Any],
    figures: Mapping[str, tuple[str, bytes]],
    sections: Sequence[tuple[str, str]] = (),
) -> str:
    """The run page. `figures`: name -> (caption, PNG bytes); `sections`: (title, html)."""
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
    parts = [
        f"<p class='verdict {verdict}'>{html.escape(ci.verdict_line(found))}</p>",
        "<h2>Events</h2>",
        _table([(k, events.get(k)) for k in counts], ("count", "events")),
        _table(reasons, ("failed by reason", "events")),
        "<h2>Throughput and latency</h2>",
        _table(list(summary["throughput"].items()), ("throughput", "value")),
        _table(
            percentiles,
            ("percentile", "corrected ms (from intended)", "uncorrected ms (from send)"),
        ),
        "<h2>Checks</h2>",
        _table(checks, ("check", "measured", "result", "kind")),
    ]
    parts += [f"<h2>{html.escape(title)}</h2>{body}" for title, body in sections]
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
    page.write_text(render_page(summary, rendered, sections), encoding="utf-8")
    return page
