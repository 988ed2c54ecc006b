"""Rebuild a run's report from the files in its directory.

Theory of operation: a run directory holds the replay's `results.parquet` (from the native
engine or a Locust run) and, when `pulsecheck run` made it, `run.json` with what was
measured at the edges (rows found in the store, thresholds, per-agency counts) and the
cost and capacity results. `build_report` reads those files, computes the summary and
figures with the pure functions of this package, and writes the page. Any file other
than the results is optional: the report says what it lacks rather than guessing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from simulator.report import figures
from simulator.report.html import write_report
from simulator.report.summary import build_summary
from simulator.scenario import Threshold
from simulator.tables import read_stage
from simulator.validation import InputError

RESULTS_FILE = "results.parquet"
RUN_FILE = "run.json"


def read_run(run_dir: Path) -> tuple[Any, dict[str, Any]]:
    """The results table and the run metadata (empty when absent)."""
    path = run_dir / RESULTS_FILE
    if not path.exists():
        raise InputError(str(run_dir), RESULTS_FILE, str(path), "no results file: replay first")
    results = read_stage(path, "results")
    meta_path = run_dir / RUN_FILE
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    return results, meta


def thresholds_of(meta: Mapping[str, Any]) -> list[Threshold]:
    return [Threshold(t["metric"], t["op"], float(t["value"])) for t in meta.get("thresholds", [])]


def run_figures(results: Any, meta: Mapping[str, Any]) -> dict[str, tuple[str, Figure]]:
    figs = {
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
    agencies = meta.get("agencies")
    if agencies:
        figs["response_by_agency"] = (
            "Response rate by department",
            figures.response_by_agency(agencies["recipients"], agencies["replies"]),
        )
    return figs


def text_sections(meta: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Sections other stages contributed as ready HTML, plus what the run lacks."""
    sections = [(str(title), str(body)) for title, body in meta.get("sections", [])]
    if "stored" not in meta:
        sections.append(
            (
                "Store check",
                "<p>No store count in this run directory: "
                "<code>lost</code> is not known (a replay against an outside target, "
                "or a Locust run).</p>",
            )
        )
    return sections


def build_report(
    run_dir: Path,
    extra_figures: Mapping[str, tuple[str, Figure]] | None = None,
    extra_sections: Sequence[tuple[str, str]] = (),
) -> dict[str, Any]:
    """Write summary.json, report.html and PNGs for a run directory; return the summary."""
    results, meta = read_run(run_dir)
    summary = build_summary(
        results,
        scenario=str(meta.get("scenario_name", run_dir.name)),
        stored=meta.get("stored"),
        thresholds=thresholds_of(meta),
        extra={k: meta[k] for k in ("run", "cost", "capacity", "schedule") if k in meta},
    )
    figs = run_figures(results, meta)
    figs.update(extra_figures or {})
    write_report(run_dir, summary, figs, [*text_sections(meta), *extra_sections])
    return summary
