"""`pulsecheck report RUN_DIR`: rebuild summary.json and report.html from a run's files."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from simulator.cli import EXIT_FAILED, EXIT_OK, EXIT_THRESHOLDS, HelpFormatter

CI_HELP = """
In CI: --junit PATH writes the checks as JUnit XML, one test case per threshold and per
check of the run's own (the target acknowledged something; no acknowledged event was
lost or stored twice). When GITHUB_STEP_SUMMARY is set, a Markdown summary (verdict,
checks, key figures) is appended to that file. The verdict line is printed on pass as
on fail.
"""


def add_parser(sub: argparse._SubParsersAction[Any]) -> None:
    parser = sub.add_parser(
        "report",
        help="Rebuild summary.json and report.html from a run directory.",
        description="Read RUN_DIR/results.parquet (from `pulsecheck replay`, `pulsecheck run` "
        "or a Locust run) and RUN_DIR/run.json when present, and write summary.json, "
        "report.html (one self-contained page) and figures/*.png: the same page and the "
        "same verdict line `run` gave. Exits 1 when the run itself failed (the target "
        "acknowledged nothing, or lost an acknowledged event), 99 when a threshold "
        "recorded for the run fails.",
        epilog=CI_HELP.lstrip() + "\nexamples:\n  pulsecheck report reports/opm-round1\n"
        "  pulsecheck report reports/opm-round1 \\\n      --junit reports/opm-round1/junit.xml\n"
        "  pulsecheck report reports/run1  # a folder `pulsecheck replay --out` wrote\n",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    add_junit_flag(parser)
    parser.set_defaults(func=run)


def add_junit_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--junit", type=Path, metavar="PATH", help="write the checks as JUnit XML to PATH"
    )


def ci_outputs_from(
    args: argparse.Namespace, run_dir: Path | None = None
) -> tuple[Path | None, Path | None]:
    """The JUnit path and the job summary file, checked writable (before any load); a
    JUnit file in `run_dir`, which the run is about to create, is taken as it is."""
    from simulator.app.ci import STEP_SUMMARY_ENV, step_summary_path
    from simulator.cli.schedule import check_writable

    junit: Path | None = args.junit
    if junit is not None:
        created = run_dir is not None and junit.parent == run_dir and not run_dir.exists()
        if not created:
            check_writable(junit, "--junit")
    job = step_summary_path()
    return junit, None if job is None else check_writable(job, STEP_SUMMARY_ENV)


def write_ci_outputs(summary: dict[str, Any], outputs: tuple[Path | None, Path | None]) -> None:
    from simulator.app.ci import write_ci_outputs as write

    for path in write(summary, *outputs):
        print(f"wrote {path}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    from simulator.app.reporting import report

    outputs = ci_outputs_from(args)
    result = report(args.run_dir)
    print(f"wrote {result.page} and {args.run_dir / 'summary.json'}")
    write_ci_outputs(result.summary, outputs)
    return print_verdict(result.summary)


def print_verdict(summary: dict[str, Any]) -> int:
    """The verdict line (on pass as on fail), each failed check on stderr; the exit code:
    1 if one of the run's own checks failed, 99 if a threshold did, else 0."""
    from simulator.report.ci import RULE, checks, failure_lines, verdict_line

    found = checks(summary)
    for line in failure_lines(found):
        print(line, file=sys.stderr)
    print(verdict_line(found))
    failed = [c for c in found if c.measured and not c.passed]
    if any(c.kind == RULE for c in failed):
        return EXIT_FAILED
    return EXIT_THRESHOLDS if failed else EXIT_OK
