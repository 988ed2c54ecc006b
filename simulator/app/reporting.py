"""`report`: the page and the summary, rebuilt from a run directory's files.

Theory of operation: the results table (`results.parquet`, from the native engine or a
Locust run) gives the counts, throughput, latency and the run's figures; the run record
(`run.json`, when `pulsecheck run` made the directory) gives the store check (for a
bare replay, the read-back `replay --verify` kept in replay.json), the
thresholds, the per-agency counts, and through its kind the sections and figures that
kind adds (cost and capacity, the reply-all storm). `pulsecheck run` writes its page by
calling this same function after writing the record, so the two pages are the same.
"""

from __future__ import annotations

import html
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from simulator.app.kinds import Figures, Sections, kind_named
from simulator.app.record import SCENARIO_COPY, RunRecord, StoreCheck, read_record
from simulator.report import figures
from simulator.report.html import table_html, write_report
from simulator.report.summary import build_summary
from simulator.tables import read_stage
from simulator.traffic.record import RESULTS_FILE, SUMMARY_FILE
from simulator.validation import InputError


@dataclass(frozen=True)
class ReportResult:
    summary: dict[str, Any]
    sections: tuple[str, ...]
    figures: tuple[str, ...]
    page: Path


def run_figures(results: Any, record: RunRecord | None) -> Figures:
    figs: Figures = {
        "arrival_vs_send": (
            "Arrival curve (intended) beside the send rate",
            figures.arrival_vs_send(results),
        ),
        "throughput": ("Acknowledged events per second", figures.throughput_over_time(results)),
        "latency_over_time": (
            "Latency percentiles over time, from the intended send time",
            figures.latency_over_time(results),
        ),
        "hdr_percentiles": (
            "Latency by percentile: corrected vs uncorrected",
            figures.hdr_percentiles(results),
        ),
        "errors": ("Failed events over time, by reason", figures.errors_over_time(results)),
    }
    if record is not None and record.agencies:
        figs["response_by_agency"] = (
            "Response rate by department",
            figures.response_by_agency(record.agencies["recipients"], record.agencies["replies"]),
        )
    return figs


def run_html(record: RunRecord) -> str:
    """How the run was made, as a table."""
    run = record.run
    size = (
        f"{run.scale:g} of the workforce" if run.scale is not None else f"list of {run.list_size:,}"
    )
    rows = [
        ("scenario", f"{record.scenario_name} ({run.scenario}, {run.kind})"),
        ("target", f"{run.target} over {run.protocol}"),
        ("size", size),
        ("speedup", f"x{run.speedup:g}"),
        ("concurrency", f"{run.concurrency:,} connections, {run.workers} process(es)"),
        ("started (UTC)", run.started_at),
        ("wall time", f"{run.wall_s:,.1f} s"),
        ("pulsecheck", run.version),
        ("command", run.command),
    ]
    return table_html(rows, ("", ""))


NO_STORE = (
    "Store check",
    "<p>No store count in this run directory: <code>lost</code> is not known (a replay "
    "against an outside target, or a Locust run).</p>",
)


def replay_check(run_dir: Path) -> StoreCheck | None:
    """The read-back `pulsecheck replay --verify` wrote into replay.json, if any."""
    path = run_dir / SUMMARY_FILE
    if not path.exists():
        return None
    try:
        raw = json.loads(path.read_text(encoding="utf-8")).get("store_check")
        return None if raw is None else StoreCheck(**raw)
    except (OSError, ValueError, TypeError, AttributeError) as err:
        why = f"must be a store check: {err}"
        raise InputError(str(path), "store_check", "(unreadable)", why) from None


def read_back_section(check: StoreCheck) -> tuple[str, str]:
    """What the mailbox read back held, beside the events table's stored and lost."""
    rows = [
        ("mailbox", check.source),
        ("acknowledged events addressed to it", f"{check.acknowledged:,}"),
        ("stored once or more", f"{check.stored:,}"),
        ("lost (acknowledged, absent)", f"{check.missing:,}"),
        ("duplicates (present more than once)", f"{check.duplicates:,}"),
        ("messages no acknowledged event accounts for", f"{check.extra_rows:,}"),
    ]
    return "Store check", table_html(rows, ("", ""))


def report(run_dir: Path) -> ReportResult:
    """Write summary.json, report.html and figures/*.png; return what the page holds."""
    results = read_stage(run_dir / RESULTS_FILE, "results")
    record = read_record(run_dir)
    extra: dict[str, Any] = {}
    if record is not None:
        extra["run"] = asdict(record.run)
        if record.cost is not None:
            extra["cost"] = {
                k: record.cost[k] for k in ("estimate", "assumptions", "inputs") if k in record.cost
            }
            extra["capacity"] = record.cost.get("capacity")
    check = replay_check(run_dir) if record is None else record.store_check
    if check is not None:
        extra["store_check"] = asdict(check)
    summary = build_summary(
        results,
        scenario=record.scenario_name if record else run_dir.name,
        stored=None if check is None else check.stored,
        thresholds=() if record is None else record.thresholds,
        extra=extra,
        lost=None if check is None else check.missing,
        duplicates=None if check is None else check.duplicates,
    )
    figs = run_figures(results, record)
    sections: Sections = [] if record is None else [("Run", run_html(record))]
    if check is None:
        sections.append(NO_STORE)
    elif "://" in check.source:  # a mailbox read back, not the reference store
        sections.append(read_back_section(check))
    if record is not None:
        kind_figs, kind_sections = kind_named(record.run.kind).report_parts(
            run_dir, record, results
        )
        figs.update(kind_figs)
        sections += kind_sections
    copy = run_dir / SCENARIO_COPY
    if copy.exists():
        text = copy.read_text(encoding="utf-8", errors="replace")
        sections.append(("Scenario", f"<pre>{html.escape(text)}</pre>"))
    page = write_report(run_dir, summary, figs, sections)
    return ReportResult(summary, tuple(t for t, _ in sections), tuple(figs), page)
