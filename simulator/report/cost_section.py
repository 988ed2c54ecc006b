"""The cost and capacity section of a page, as HTML, from the cost document.

Theory of operation: the document `simulator.cost.plan` builds is plain JSON; this turns
it into what a planner reads: a headline (the first round's cost at P50 with its P10-P90
range), what was priced (the scale), each round's terms with P10/P50/P90, the year at
the rounds' cadence (left out when the only round happens once: the year is that round),
what moves the total most, the providers for sending, and for every collection what it
takes to receive its replies, each table with short sentences in words beside it.

`cost_html(doc, images)` is a fragment (one `<section class="pc-cost">` with its own
scoped style) that drops into any page: the run report embeds it, and `cost_page` wraps
it into the standalone planner's page `pulsecheck cost --html` writes. `images` are
figures already rendered to PNG (name -> (caption, bytes)); each is placed beside the
table it illustrates and shown at half its pixel size, so 2x PNGs stay sharp. Pure: a
dict in, an HTML string out (`figure_images` renders matplotlib figures in memory).
"""

from __future__ import annotations

import base64
import html
import io
import struct
from collections.abc import Mapping
from typing import Any

from matplotlib.figure import Figure

from simulator.report.html import CHECK_SCRIPT, STYLE, table_html
from simulator.report.money import usd, usd_short
from simulator.scenario import SERIES_DETAIL

Images = Mapping[str, tuple[str, bytes]]  # name -> (caption, PNG bytes)

TERM_LABELS = {
    "sending": "sending (provider fees)",
    "storage": "storing the replies",
    "writing": "writing the replies",
    "not_replying": "deciding not to reply",
    "manager_reading": "managers reading their cc",
    "review": "reviewing the replies",
    "infrastructure": "servers for the peak",
    "total": "total",
}

SECTION_STYLE = """
.pc-cost .headline{font-size:1.25em;margin:.4em 0}
.pc-cost .headline b{font-size:1.2em}
.pc-cost p.note{color:#444;max-width:46em}
.pc-cost table{border-collapse:collapse;margin:.6em 0 1em}
.pc-cost td,.pc-cost th{border:1px solid #ccc;padding:.2em .55em;text-align:right}
.pc-cost th{background:#f3f3f3}
.pc-cost td:first-child,.pc-cost th:first-child{text-align:left}
.pc-cost tr.total td{font-weight:bold}
.pc-cost figure{margin:1em 0} .pc-cost img{max-width:100%;height:auto}
.pc-cost figcaption{color:#555;font-size:.9em}
"""


def capacity_rows(capacity: Mapping[str, Any]) -> list[list[str]]:
    """One row per capacity case (low, likely, high): acknowledgements per core per
    second, cores, servers, mailboxes for the rate limit and for the quota."""
    return [
        [
            label.replace("_", " "),
            f"{plan['per_core_per_s']:,.0f}",
            f"{plan['cores']:,}",
            f"{plan['servers']:,} of {plan['cores_per_server']}",
            f"{plan['mailboxes_for_rate']:,}",
            f"{plan['mailboxes_for_quota']:,}",
        ]
        for label, plan in capacity["plans"].items()
    ]


def gb(n_bytes: float) -> str:
    return f"{n_bytes / 1e9:,.1f} GB" if n_bytes < 1e11 else f"{n_bytes / 1e9:,.0f} GB"


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


def is_once(est: Mapping[str, Any]) -> bool:
    """A single round that happens once: the year is that round."""
    per_year = est["rounds_per_year"]
    return len(est["rounds"]) == 1 and all(int(n) == 1 for n in per_year.values())


def year_title(est: Mapping[str, Any]) -> str:
    """'A year at the rounds' cadence', or for a series of rounds each sent once, the series."""
    per_year = est["rounds_per_year"]
    if len(per_year) > 1 and all(int(n) == 1 for n in per_year.values()):
        return f"The series: {len(per_year)} rounds, each once"
    return "A year at the rounds' cadence"


def headline(doc: Mapping[str, Any]) -> str:
    """The first round's total at P50 with its P10-P90 range, in one sentence."""
    est = doc["estimate"]
    first = next(iter(est["rounds"]))
    total = est["rounds"][first]["total"]
    return (
        f"Round {first} costs {usd_short(total['p50'])} (P50), "
        f"P10–P90 {usd_short(total['p10'])} – {usd_short(total['p90'])}."
    )


def _terms_table(table: Mapping[str, Mapping[str, float]]) -> str:
    rows = "".join(
        ("<tr class='total'>" if name == "total" else "<tr>")
        + f"<td>{html.escape(TERM_LABELS.get(name, name))}</td><td>{usd(p['p10'])}</td>"
        f"<td>{usd(p['p50'])}</td><td>{usd(p['p90'])}</td></tr>"
        for name, p in table.items()
    )
    return f"<table><tr><th>term</th><th>P10</th><th>P50</th><th>P90</th></tr>{rows}</table>"


def _largest_term(table: Mapping[str, Mapping[str, float]]) -> str:
    terms = {n: p for n, p in table.items() if n != "total"}
    name = max(terms, key=lambda n: terms[n]["p50"])
    share = terms[name]["p50"] / max(table["total"]["p50"], 1e-9)
    return f"The largest term is {TERM_LABELS.get(name, name)}: about {share:.0%} of the P50."


def _png_size(png: bytes) -> tuple[int, int]:
    if png[:8] != b"\x89PNG\r\n\x1a\n" or len(png) < 24:
        return 0, 0
    width, height = struct.unpack(">II", png[16:24])
    return int(width), int(height)


def _figure(name: str, images: Images) -> str:
    if name not in images:
        return ""
    caption, png = images[name]
    w, h = _png_size(png)
    size = f" width='{w // 2}' height='{h // 2}'" if w and h else ""
    data = base64.b64encode(png).decode("ascii")
    cap = html.escape(caption)
    return (
        f"<figure id='fig-{html.escape(name)}'><img alt='{cap}'{size} "
        f"src='data:image/png;base64,{data}'><figcaption>{cap}</figcaption></figure>"
    )


def figure_images(figures: Mapping[str, tuple[str, Figure]], dpi: int = 200) -> dict[str, Any]:
    """Render figures to PNG bytes in memory, at twice the usual resolution."""
    out: dict[str, Any] = {}
    for name, (caption, fig) in figures.items():
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=dpi)
        out[name] = (caption, buffer.getvalue())
    return out


def cost_html(doc: Mapping[str, Any], images: Images | None = None) -> str:
    """The cost and capacity section: headline, tables, sentences and figures."""
    images = images or {}
    est = doc["estimate"]
    first = next(iter(est["rounds"]))
    parts = [
        f"<style>{SECTION_STYLE}</style>",
        f"<p class='headline' id='cost-headline'>{html.escape(headline(doc))}</p>",
        f"<p class='note'>{html.escape(priced_scale(doc))} Ranges come from "
        f"{est['draws']:,} Monte Carlo draws of {html.escape(doc['distribution'])}: "
        "P10 means one chance in ten of costing less, P90 one in ten of costing more.</p>",
    ]
    series = len(est["rounds"]) > SERIES_DETAIL
    if series:
        parts.append("<h3>Each round's total cost</h3>")
        parts.append(
            table_html(
                [
                    [r, *(usd(terms["total"][p]) for p in ("p10", "p50", "p90"))]
                    for r, terms in est["rounds"].items()
                ],
                ("round", "P10", "P50", "P90"),
            )
        )
        parts.append(_figure(f"cost_round_{first}", images))
    for r, terms in ({} if series else est["rounds"]).items():
        n = int(est["rounds_per_year"][r])
        often = "once" if n == 1 else f"{n} times a year"
        parts.append(f"<h3>Round {html.escape(r)} ({often})</h3>")
        low, high = est["envelope"][r]
        parts.append(
            f"<p class='note'>{html.escape(_largest_term(terms))} With every assumption at "
            f"its low or its high end at once the round would cost {usd_short(low)} – "
            f"{usd_short(high)}; the P10–P90 range is narrower because not everything "
            "goes wrong together.</p>"
        )
        parts.append(_terms_table(terms))
        parts.append(_figure(f"cost_round_{r}", images))
    if is_once(est):
        parts.append(
            f"<p class='note'>Round {html.escape(first)} happens once, so a year of rounds "
            "costs the same as the round.</p>"
        )
    else:
        y = est["year"]["total"]
        parts.append(f"<h3>{html.escape(year_title(est))}</h3>")
        parts.append(
            f"<p class='note'>{'The series' if series else 'A year'} costs "
            f"{usd_short(y['p50'])} (P50), P10–P90 "
            f"{usd_short(y['p10'])} – {usd_short(y['p90'])}.</p>"
        )
        parts.append(_terms_table(est["year"]))
        parts.append(_figure("cost_year", images))
    parts.append(_tornado_html(doc))
    parts.append(_figure("tornado_year", images))
    parts.append(_providers_html(doc))
    parts.append(capacity_html(doc["capacity"]))
    parts.append(_assumptions_html(doc))
    return "<section class='pc-cost'>" + "".join(p for p in parts if p) + "</section>"


def _tornado_html(doc: Mapping[str, Any]) -> str:
    swings = doc["tornado"]["year"][:8]
    if not swings:
        return ""
    top = swings[0]
    words = (
        f"{top['name']} matters most: from {top['low']:g} to {top['high']:g} it moves the "
        f"total from {usd_short(top['total_at_low'])} to {usd_short(top['total_at_high'])}."
    )
    rows = [
        [
            s["name"],
            f"{s['low']:g} – {s['high']:g}",
            f"{usd_short(s['total_at_low'])} – {usd_short(s['total_at_high'])}",
            usd_short(s["swing"]),
        ]
        for s in swings
    ]
    return (
        "<h3>Which assumption matters most</h3>"
        f"<p class='note'>{html.escape(words)} Each assumption is moved alone from its low "
        "to its high end, the others at their likely values.</p>"
        + table_html(rows, ("assumption", "low – high", "total at low – high", "swing"))
    )


def _providers_html(doc: Mapping[str, Any]) -> str:
    providers = doc.get("providers") or {}
    if not providers:
        return ""
    names = list(next(iter(providers.values())))
    rows = [
        [r, *(f"{usd(v['low'])} – {usd(v['high'])}" for v in table.values())]
        for r, table in providers.items()
    ]
    return (
        "<h3>Providers for sending the broadcast</h3>"
        "<p class='note'>What sending each round's broadcast costs with each provider "
        "(low – high price), before the replies come back.</p>"
        + table_html(rows, ("round", *names))
    )


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def _collection_words(c: Mapping[str, Any]) -> str:
    likely, low = c["plans"]["likely"], c["plans"]["low_capacity"]
    one = c["one_mailbox"]
    refused = int(one["rejected_by_limit"])
    share = refused / max(int(c["arrivals"]), 1)
    words = (
        f"Receiving {c['arrivals']:,} replies in {c['span_hours']:.0f} h (round "
        f"{c['busiest_round']}) needs {_plural(int(likely['cores']), 'core')} "
        f"({_plural(int(likely['servers']), 'server')} of {likely['cores_per_server']}) "
        f"at {likely['per_core_per_s']:,.0f} acks per core per second, "
        f"{_plural(int(low['cores']), 'core')} at {low['per_core_per_s']:,.0f}. "
    )
    if refused:
        words += (
            f"One mailbox refuses {refused:,} of them ({share:.0%}) at "
            f"{likely['limit_per_hour']:,} an hour; the busiest hour needs "
            f"{_plural(int(likely['mailboxes_for_rate']), 'mailbox')}. "
        )
    else:
        words += "One mailbox takes them all within its hourly receiving limit. "
    quota = int(likely["mailboxes_for_quota"])
    words += f"A year of replies is {gb(c['year_bytes'])}, {_plural(quota, 'mailbox')} at 50 GB."
    return words.replace("mailboxs", "mailboxes")


def capacity_html(c: Mapping[str, Any]) -> str:
    """What it takes to receive the replies: overall, then collection by collection."""
    likely = c["plans"]["likely"]
    source = str(c["capacity_source"])
    parts = [
        "<h3>What it takes to receive the replies</h3>",
        f"<p class='note'>Capacity per core: {html.escape(source)}. All collections "
        "together, the "
        f"busiest round {html.escape(str(c['busiest_round']))} peaks at "
        f"{likely['peak_per_s']:,.0f} replies a second (busiest minute) and "
        f"{likely['peak_per_hour']:,} in the busiest hour.</p>",
        table_html(
            capacity_rows(c),
            ("case", "acks/core/s", "cores", "servers", "mailboxes (rate)", "mailboxes (quota)"),
        ),
    ]
    measured = c.get("measured")
    if measured is not None and not measured["slo_met"]:
        reasons = "; ".join(measured["reasons"])
        parts.append(
            f"<p class='note'>The run missed its SLO ({html.escape(reasons)}), so its "
            "capacity was not used.</p>"
        )
    collections = c.get("collections") or []
    if collections:
        parts.append("<h3>Collection by collection</h3>")
        parts.append(
            table_html(
                [
                    [
                        f"{k['collection']} ({k['kind']})",
                        f"{k['arrivals']:,}",
                        f"{k['plans']['likely']['peak_per_s']:,.0f}",
                        f"{k['plans']['likely']['peak_per_hour']:,}",
                        f"{k['plans']['likely']['cores']:,}",
                        f"{k['plans']['likely']['mailboxes_for_rate']:,}",
                        f"{k['one_mailbox']['rejected_by_limit']:,}",
                    ]
                    for k in collections
                ],
                (
                    "collection",
                    "replies",
                    "busiest minute /s",
                    "busiest hour",
                    "cores",
                    "mailboxes",
                    "one mailbox refuses",
                ),
            )
        )
        for k in collections:
            parts.append(
                f"<p class='note'><b>{html.escape(k['collection'])}</b> "
                f"({html.escape(k['address'])}): {html.escape(_collection_words(k))}</p>"
            )
    parts.append(_mailbox_html(c.get("mailbox")))
    parts.append(series_mailbox_html(c.get("series_mailbox")))
    return "".join(parts)


SERIES_COLUMNS = ("limit", "quota", "arrive", "accepted", "stored", "quota fills")


def series_mailbox_rows(m: Mapping[str, Any]) -> list[list[str]]:
    """The central mailbox over the series: a row per (limit or none, quota)."""
    import datetime as dt

    rows = []
    for case in m["cases"].values():
        full = case["quota_full_us"]
        when = (
            "never"
            if full is None
            else f"{dt.datetime.fromtimestamp(full / 1e6, dt.UTC):%d %b %Y} "
            f"({case['quota_full_round']})"
        )
        limit = case["limit_per_hour"]
        rows.append(
            [
                "none" if limit is None else f"{limit:,}/h",
                f"{case['quota_gb']:g} GB",
                f"{case['arrivals']:,}",
                f"{case['accepted']:,}",
                f"{case['accepted_bytes'] / 1e9:.1f} GB",
                when,
            ]
        )
    return rows


def series_span(m: Mapping[str, Any]) -> str:
    rounds = m["rounds"]
    if len(rounds) == 1:
        return f"in round {rounds[0]}"
    return f"over {len(rounds)} rounds ({rounds[0]}-{rounds[-1]})"


def series_verdict(m: Mapping[str, Any]) -> str:
    """Which mailbox the record supports, in one sentence."""
    rec = m["record"]
    which = "without the limit" if m["supported"] == "no_limit" else "with the limit"
    return (
        f"The record supports the mailbox {which}: more than {rec['replies']:,} replies "
        f"reached one inbox in about {rec['hours']:g} h ({rec['source']}); at 3,600/h it "
        f"would have accepted at most {rec['limit_admits_at_most']:,}."
    )


def series_mailbox_html(m: Mapping[str, Any] | None) -> str:
    if not m or not m.get("rounds"):
        return ""
    return (
        f"<h3>The central mailbox ({html.escape(m['collection'])}) "
        f"{html.escape(series_span(m))}</h3>"
        "<p class='note'>Every round's replies in time order into one mailbox that is "
        "never emptied, as one Exchange-like mailbox (3,600 messages an hour) and without "
        "that limit; the quota fills on the day (UTC) of the first reply that no longer "
        "fits. "
        + html.escape(series_verdict(m))
        + "</p>"
        + table_html(series_mailbox_rows(m), SERIES_COLUMNS)
    )


def _mailbox_html(m: Mapping[str, Any] | None) -> str:
    if not m or not m.get("rounds"):
        return ""
    sentences = []
    for r, quotas in m["rounds"].items():
        for q, res in quotas.items():
            wk = res["weekly"]
            if wk["quota_round"] is None:
                fate = f"the {q.replace('GB', ' GB')} quota is never reached"
            else:
                fate = (
                    f"the {q.replace('GB', ' GB')} quota fills in round {wk['quota_round']}, "
                    f"{wk['quota_hit_hours_into_round']:.1f} h in, and "
                    f"{wk['rejected_by_quota']:,} replies are refused for it"
                )
            sentences.append(
                f"Over {wk['rounds']} round(s) of {r}, {fate}; the hourly limit refuses "
                f"{wk['rejected_by_limit']:,}."
            )
    return (
        f"<h3>One central mailbox ({html.escape(m['collection'])}) over the year</h3>"
        "<p class='note'>Nothing is deleted between rounds (Exchange Online: 3,600 messages "
        "an hour, 50 or 100 GB). " + html.escape(" ".join(sentences)) + "</p>"
    )


def _assumptions_html(doc: Mapping[str, Any]) -> str:
    assumptions = doc.get("assumptions") or {}
    if not assumptions:
        return ""
    rows = [
        [name, f"{a['low']:g}", f"{a['likely']:g}", f"{a['high']:g}", a["unit"], a["source"]]
        for name, a in assumptions.items()
    ]
    return "<h3>Assumptions</h3>" + table_html(
        rows, ("assumption", "low", "likely", "high", "unit", "source")
    )


def cost_page(doc: Mapping[str, Any], images: Images | None = None) -> str:
    """The standalone planner's page around the section."""
    title = f"Cost and capacity: {doc['scenario']}"
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<meta name='viewport' content='width=device-width'><title>{html.escape(title)}"
        f"</title><style>{STYLE}</style><script>{CHECK_SCRIPT}</script></head>"
        f"<body><h1>{html.escape(title)}</h1>{cost_html(doc, images)}</body></html>"
    )
