"""`report`: the page and the summary, rebuilt from a run directory's files.

Theory of operation: the results table (`results.parquet`, from the native engine or a
Locust run) gives the counts, throughput, latency and the run's figures; the schedule
(`schedule.parquet`, when the directory has it) gives each event's kind, collection and
agency for the breakdowns, and its first event puts the figures on the scenario's own
clock (with the speedup and the time zone the record keeps); the replay's summary
(`replay.json`) gives the late and drop limits the glossary states. The run record
(`run.json`, when `pulsecheck run` made the directory) gives the store check (for a
bare replay, the read-back `replay --verify` kept in replay.json), the thresholds, the
per-agency counts, how the run was made, and through its kind the sections and figures
that kind adds (cost and capacity, the reply-all storm). `pulsecheck run` writes its page
by calling this same function after writing the record, so the two pages are the same.
"""

from __future__ import annotations

import html
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from simulator.app.kinds import Figures, Sections, kind_named
from simulator.app.record import SCENARIO_COPY, RunRecord, StoreCheck, read_record
from simulator.report import figures
from simulator.report.clock import EventClock
from simulator.report.cost_section import priced_scale
from simulator.report.html import table_html, write_report
from simulator.report.summary import breakdowns, build_summary, column
from simulator.tables import read_stage
from simulator.traffic.record import RESULTS_FILE, SUMMARY_FILE
from simulator.validation import InputError

SCHEDULE_FILE = "schedule.parquet"
SCHEDULE_COLUMNS = ("event_id", "t_intended", "kind", "collection", "agency")


@dataclass(frozen=True)
class ReportResult:
    summary: dict[str, Any]
    sections: tuple[str, ...]
    figures: tuple[str, ...]
    page: Path


def run_figures(results: Any, record: RunRecord | None, clock: EventClock | None = None) -> Figures:
    figs: Figures = {
        "arrival_vs_send": (
            "Arrival curve (intended) beside the send rate",
            figures.arrival_vs_send(results, clock),
        ),
        "throughput": (
            "Acknowledged events per second",
            figures.throughput_over_time(results, clock),
        ),
        "latency_over_time": (
            "Latency percentiles over time, from the intended send time",
            figures.latency_over_time(results, clock),
        ),
        "hdr_percentiles": (
            "Latency by percentile: corrected vs uncorrected",
            figures.hdr_percentiles(results),
        ),
        "errors": (
            "Failed events over time, by reason",
            figures.errors_over_time(results, clock),
        ),
    }
    if record is not None and record.agencies:
        figs["response_by_agency"] = (
            "Response rate by department",
            figures.response_by_agency(record.agencies["recipients"], record.agencies["replies"]),
        )
    return figs


def run_html(record: RunRecord, clock: EventClock | None = None, last_s: float = 0.0) -> str:
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
        ("scenario clock", run.timezone),
        ("pulsecheck", run.version),
        ("command", run.command),
    ]
    if run.window is not None:
        rows.insert(4, ("window", window_text(run.window)))
    if clock is not None:
        rows.insert(5, ("scenario time replayed", f"{clock.label(0.0)} to {clock.label(last_s)}"))
    return table_html(rows, ("", ""))


def window_text(window: dict[str, Any]) -> str:
    """The replayed window in words: its spec, its bounds, its events and their share."""
    return (
        f"{window['spec']}: {window['from']} to {window['to']}, {window['events']:,} of the "
        f"round's {window['round_events']:,} events ({window['share']:.1%})"
    )


def schedule_of(run_dir: Path) -> pa.Table | None:
    """The columns of the run's schedule the page uses, when the directory has it."""
    path = run_dir / SCHEDULE_FILE
    if not path.exists():
        return None
    return read_stage(path, "schedule", SCHEDULE_COLUMNS)


def replay_limits(run_dir: Path) -> dict[str, Any]:
    """The replay's own summary (`replay.json`): its speedup and its late and drop limits."""
    path = run_dir / SUMMARY_FILE
    if not path.exists():
        return {}
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise InputError(str(path), "(file)", str(path), f"must be JSON: {err}") from None
    keys = ("speedup", "late_after_ms", "drop_after_s")
    return {k: doc[k] for k in keys if isinstance(doc, dict) and k in doc}


def event_clock(
    results: pa.Table, schedule: pa.Table | None, speedup: float | None, timezone: str
) -> EventClock | None:
    """Replay time back on the scenario's clock: the earliest replayed event's time."""
    if schedule is None or not speedup or results.num_rows == 0:
        return None
    ids = column(results, "event_id")
    replayed = np.isin(schedule.column("event_id").to_numpy(), ids)
    times = schedule.column("t_intended").cast(pa.int64()).to_numpy()[replayed]
    if times.size == 0:
        return None
    return EventClock(int(times.min()), float(speedup), timezone)


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
    schedule = schedule_of(run_dir)
    limits = replay_limits(run_dir)
    speedup = record.run.speedup if record is not None else limits.get("speedup")
    clock = event_clock(results, schedule, speedup, record.run.timezone if record else "UTC")
    extra: dict[str, Any] = {"limits": {k: v for k, v in limits.items() if k != "speedup"}}
    if schedule is not None:
        extra["breakdown"] = breakdowns(results, schedule)
    if record is not None:
        extra["run"] = asdict(record.run)
        if record.cost is not None:
            extra["cost"] = {
                k: record.cost[k] for k in ("estimate", "assumptions", "inputs") if k in record.cost
            }
            if "inputs" in record.cost:
                extra["cost"]["priced"] = priced_scale(record.cost)
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
    last_s = float(column(results, "t_intended").max()) / 1e6 if results.num_rows else 0.0
    if clock is not None:
        summary["clock"] = {
            "timezone": clock.timezone,
            "speedup": clock.speedup,
            "first_event": clock.label(0.0),
            "last_event": clock.label(last_s),
            "peak_offered_at": clock.label(summary["throughput"]["peak_offered_at_s"]),
        }
    figs = run_figures(results, record, clock)
    lead: Sections = [] if record is None else [("Run", run_html(record, clock, last_s))]
    sections: Sections = []
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
        sections.append(
            (
                "Scenario",
                f"<details><summary>{html.escape(SCENARIO_COPY)}, as run</summary>"
                f"<pre>{html.escape(text)}</pre></details>",
            )
        )
    page = write_report(run_dir, summary, figs, sections, lead)
    titles = tuple(t for t, _ in lead) + tuple(t for t, _ in sections)
    return ReportResult(summary, titles, tuple(figs), page)
