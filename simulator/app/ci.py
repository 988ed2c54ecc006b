"""CI outputs of a run: the JUnit file and the GitHub job summary, from its summary.

Theory of operation: `simulator.report.ci` renders a run's checks as JUnit XML and as
Markdown; this writes them where the user asked. The JUnit file is replaced each time;
the job summary is appended to, as GitHub expects of `$GITHUB_STEP_SUMMARY` (every step
of a job adds to the same file). The command line checks that both paths are writable
before any load is sent.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from simulator.report.ci import junit_xml, step_summary

STEP_SUMMARY_ENV = "GITHUB_STEP_SUMMARY"


def step_summary_path() -> Path | None:
    """The job summary file GitHub Actions names in the environment, if any."""
    value = os.environ.get(STEP_SUMMARY_ENV, "")
    return Path(value) if value else None


def write_ci_outputs(
    summary: Mapping[str, Any], junit: Path | None, job_summary: Path | None
) -> list[Path]:
    """Write the JUnit file and append to the job summary; return the files written."""
    written = []
    if junit is not None:
        junit.write_text(junit_xml(summary), encoding="utf-8")
        written.append(junit)
    if job_summary is not None:
        with job_summary.open("a", encoding="utf-8") as out:
            out.write(step_summary(summary))
        written.append(job_summary)
    return written
