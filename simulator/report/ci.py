"""A run's checks as CI reads them: the verdict line, JUnit XML and a Markdown summary.

Theory of operation: `checks` turns a summary (`summary.build_summary`) into the list of
checks a CI job passes or fails on. They are the scenario's thresholds, as written, and
the run's own rules, which fail a run whatever the thresholds say (the same rules
`app.running` applies): the target must acknowledge something (`acked > 0`) and, when the
store was read back, no acknowledged event may be missing from it (`lost == 0`) or be
in it twice (`duplicates == 0`). A rule
that repeats a threshold is not listed twice. A threshold the run could not measure
(`lost` without a store) is neither passed nor failed.

`overall` gives "pass", "fail" or "none": with no threshold measured and no rule failed
nothing was checked, and that is never shown as a pass. `verdict_line` says the same in
one line of at most 80 columns, `junit_xml` as one test suite (a case per check; with
nothing checked, zero cases and a property saying so), and `step_summary` as Markdown
for a GitHub job summary (the verdict, the checks, the key figures). Everything here
is pure: a summary in, text out.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from simulator.report.money import usd_short
from simulator.report.summary import evaluate, metrics
from simulator.scenario import Threshold

WIDTH = 80  # the verdict line fits a CI log's or a terminal's narrowest width
THRESHOLD, RULE = "threshold", "run"
RULES = (
    (Threshold("acked", ">", 0), "the target must acknowledge something"),
    (Threshold("lost", "==", 0), "every acknowledged event must be in the store"),
    (Threshold("duplicates", "==", 0), "no acknowledged event may be stored twice"),
)


@dataclass(frozen=True)
class Check:
    name: str  # the check as written, e.g. "lost == 0"
    kind: str  # THRESHOLD (the scenario's) or RULE (the run's own)
    value: float | None  # what the run measured
    passed: bool
    measured: bool = True  # False: the run had no way to measure it
    why: str = ""  # for a rule: what it asks

    @property
    def result(self) -> str:
        if not self.measured:
            return "not measured"
        return "pass" if self.passed else "FAIL"


def number(value: float | None) -> str:
    """A measured value for reading: whole numbers with separators, else 4 digits."""
    if value is None:
        return "none"
    if float(value).is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:.4g}"


def checks(summary: Mapping[str, Any]) -> list[Check]:
    """The thresholds recorded in `summary`, then the run's rules that apply to it."""
    found = [
        Check(t["check"], THRESHOLD, t["value"], bool(t["passed"]), bool(t.get("measured", True)))
        for t in summary.get("thresholds", [])
    ]
    events = summary["events"]
    written = {c.name for c in found if c.measured}
    values = metrics(summary)
    for rule, why in RULES:
        applies = events["scheduled"] > 0 and values.get(rule.metric) is not None
        if applies and str(rule) not in written:
            (verdict,) = evaluate([rule], values)
            found.append(Check(verdict.check, RULE, verdict.value, verdict.passed, why=why))
    return found


def overall(found: Sequence[Check]) -> str:
    """ "fail" if any check failed; "pass" if a threshold was measured; else "none"."""
    if any(c.measured and not c.passed for c in found):
        return "fail"
    return "pass" if any(c.measured and c.kind == THRESHOLD for c in found) else "none"


def counted(found: Sequence[Check]) -> list[Check]:
    """The checks a verdict counts: with nothing checked, none (rules alone are no pass)."""
    return [c for c in found if c.measured] if overall(found) != "none" else []


def _fit(head: str, items: Sequence[str], tail: str = ")") -> str:
    """`head` and as many of `items` as fit in WIDTH, then "+N more" for the rest."""
    for shown in range(len(items), 0, -1):
        rest = len(items) - shown
        text = head + ", ".join(items[:shown]) + (f", +{rest} more" if rest else "") + tail
        if len(text) <= WIDTH:
            return text
    return head + f"{len(items)} checks" + tail


def verdict_line(found: Sequence[Check]) -> str:
    """One line: `verdict: PASS (3 of 3 checks)`, `verdict: FAIL (1 of 3 checks failed:
    lost == 0 measured 12)` or `verdict: none (no thresholds set)`."""
    state, ran = overall(found), counted(found)
    skipped = [c.name for c in found if not c.measured]
    if state == "fail":
        failed = [f"{c.name} measured {number(c.value)}" for c in ran if not c.passed]
        return _fit(f"verdict: FAIL ({len(failed)} of {len(ran)} checks failed: ", failed)
    if state == "pass":
        head = f"verdict: PASS ({len(ran)} of {len(ran)} checks"
        return _fit(head + "; not measured here: ", skipped) if skipped else head + ")"
    if skipped:
        return _fit("verdict: none (not measured here: ", skipped)
    return "verdict: none (no thresholds set)"


def failure_lines(found: Sequence[Check]) -> list[str]:
    """One line per failed check, for stderr."""
    lines = []
    for c in found:
        if c.measured and not c.passed:
            what = "threshold failed" if c.kind == THRESHOLD else "run check failed"
            why = f": {c.why}" if c.why else ""
            lines.append(f"{what}: {c.name} (measured {number(c.value)}){why}")
    return lines


# -- JUnit XML ----------------------------------------------------------------------------
def junit_xml(summary: Mapping[str, Any]) -> str:
    """The checks as one JUnit test suite (`testsuites/testsuite/testcase/failure`)."""
    found = checks(summary)
    ran = counted(found)
    cases = ran + [c for c in found if not c.measured] if ran else []
    failures = sum(1 for c in cases if c.measured and not c.passed)
    skipped = sum(1 for c in cases if not c.measured)
    run = summary.get("run") or {}
    wall = f"{float(run.get('wall_s', 0.0)):.3f}"
    counts = {
        "tests": str(len(cases)),
        "failures": str(failures),
        "errors": "0",
        "skipped": str(skipped),
        "time": wall,
    }
    root = ET.Element("testsuites", {"name": "pulsecheck", **counts})
    suite = ET.SubElement(root, "testsuite", {"name": f"pulsecheck {summary['scenario']}"})
    suite.attrib.update(counts)
    if run.get("started_at"):
        suite.set("timestamp", str(run["started_at"])[:19])  # the schema's: no zone
    props = ET.SubElement(suite, "properties")
    state = overall(found)
    properties = {"verdict": state, "verdict_line": verdict_line(found)}
    if not cases:
        properties["note"] = "nothing was checked (no threshold set or measured): not a pass"
    for key in ("target", "protocol", "scale", "speedup", "version", "command"):
        if run.get(key) is not None:
            properties[key] = str(run[key])
    for key, value in properties.items():
        ET.SubElement(props, "property", {"name": key, "value": value})
    for c in cases:
        case = ET.SubElement(
            suite, "testcase", {"classname": f"pulsecheck.{c.kind}", "name": c.name, "time": "0"}
        )
        if not c.measured:
            ET.SubElement(case, "skipped", {"message": "not measured here (no store count)"})
        elif not c.passed:
            message = f"{c.name}: measured {number(c.value)}"
            failure = ET.SubElement(case, "failure", {"message": message, "type": c.kind})
            failure.text = message + (f" ({c.why})" if c.why else "")
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


# -- Markdown (GitHub step summary) -------------------------------------------------------
def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _code(text: str) -> str:
    return f"`{_cell(text)}`"


def cost_rows(cost: Mapping[str, Any] | None) -> list[tuple[str, float, float, float]]:
    """(what, P10, P50, P90) in dollars: each round's total, then the year's when it is
    more than one round."""
    if not cost or "estimate" not in cost:
        return []
    estimate = cost["estimate"]
    rows = [
        (f"round {name}", t["total"]["p10"], t["total"]["p50"], t["total"]["p90"])
        for name, t in estimate.get("rounds", {}).items()
    ]
    per_year = estimate.get("rounds_per_year", {})
    year = estimate.get("year", {}).get("total")
    if year and (len(rows) > 1 or any(n != 1 for n in per_year.values())):
        rows.append(("year", year["p10"], year["p50"], year["p90"]))
    return rows


def priced_at(cost: Mapping[str, Any] | None) -> str:
    """The scale the cost priced, and how the run's scale was grown to it."""
    inputs = (cost or {}).get("inputs", {})
    if "priced_scale" not in inputs:
        return ""
    text = f"scale {inputs['priced_scale']:g}"
    if inputs.get("workforce_scale") is not None and inputs.get("scale_up"):
        text += f" (run at {inputs['workforce_scale']:g}, x{inputs['scale_up']:,.0f})"
    return text


def acked_per_s(summary: Mapping[str, Any]) -> float:
    """Acknowledged events per second over the run (the throughput counts every answer)."""
    duration = float(summary["throughput"].get("duration_s") or 0.0)
    return summary["events"]["acknowledged"] / duration if duration > 0 else 0.0


def key_figures(summary: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(figure, value) rows: stored, lost, rates, corrected p99, cost."""
    events, rate = summary["events"], summary["throughput"]
    p99 = summary["latency_ms"]["corrected"]["p99"]
    stored = events.get("stored")
    rows = [
        ("scheduled", f"{events['scheduled']:,}"),
        ("acknowledged", f"{events['acknowledged']:,}"),
        (
            "stored",
            "not read back (no store)"
            if stored is None
            else f"{stored:,} of {events['acknowledged']:,} acknowledged",
        ),
        ("lost", "not measured" if events.get("lost") is None else f"{events['lost']:,}"),
        ("acknowledged per second", f"{acked_per_s(summary):,.1f} /s"),
        ("peak rate (answers in one second)", f"{rate['peak_events_per_s']:,.0f} /s"),
        ("corrected p99", "none answered" if p99 is None else f"{p99:,.1f} ms"),
    ]
    cost = summary.get("cost")
    scale = priced_at(cost)
    for what, p10, p50, p90 in cost_rows(cost):
        value = f"USD {_money(p50)} (P10 {_money(p10)} to P90 {_money(p90)})"
        rows.append((f"cost P50, {what}", value + (f" at {scale}" if scale else "")))
    return rows


def step_summary(summary: Mapping[str, Any]) -> str:
    """Markdown for `$GITHUB_STEP_SUMMARY`: the verdict, the checks, the key figures."""
    found = checks(summary)
    state = overall(found)
    label = {"pass": "PASS", "fail": "FAIL", "none": "nothing checked"}[state]
    icon = {"pass": ":white_check_mark:", "fail": ":x:", "none": ":grey_question:"}[state]
    lines = [
        f"### {icon} pulsecheck {_cell(str(summary['scenario']))}: {label}",
        "",
        _code(verdict_line(found)),
        "",
    ]
    if found:
        lines += ["| check | kind | measured | result |", "| --- | --- | ---: | --- |"]
        for c in found:
            kind = c.kind if not c.why else f"{c.kind}: {c.why}"
            value = number(c.value) if c.measured else "–"
            lines.append(f"| {_code(c.name)} | {kind} | {value} | {c.result} |")
        lines.append("")
    lines += ["| figure | value |", "| --- | ---: |"]
    lines += [f"| {name} | {_cell(value)} |" for name, value in key_figures(summary)]
    run = summary.get("run")
    if run:
        lines += [
            "",
            f"{_cell(str(run['target']))} over {run['protocol']}, speedup x{run['speedup']:g}, "
            f"started {str(run['started_at'])[:16].replace('T', ' ')} UTC, {run['wall_s']:,.1f} s, "
            f"pulsecheck {run['version']}",
        ]
    return "\n".join(lines) + "\n\n"


def _money(value: float) -> str:
    """Money without a `$`: GitHub's Markdown reads `$...$` as mathematics."""
    return usd_short(value, sign="")
