"""`compare`: two run directories' summaries side by side, as text and as a page.

Theory of operation: each run directory holds the `summary.json` that `pulsecheck run`
or `pulsecheck report` wrote; both are read and checked (a directory without one, or
with a summary of another schema, is an `InputError` naming the argument), and
`simulator.report.compare` lines up their figures. The page, when asked for, is
written to the path given.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simulator.report import compare as rendering
from simulator.report.summary import SCHEMA_VERSION
from simulator.validation import InputError

FLAGS = "command line"
SUMMARY_FILE = "summary.json"


@dataclass(frozen=True)
class CompareRequest:
    run_a: Path
    run_b: Path
    html: Path | None = None  # write the comparison page here


@dataclass(frozen=True)
class Comparison:
    rows: list[rendering.Row]
    text: str  # at most 80 columns
    page: Path | None


def read_summary(run_dir: Path, field: str) -> dict[str, Any]:
    """The run's summary; `field` names the argument in the error when it is not a run."""
    path = run_dir / SUMMARY_FILE
    need = (
        "a run directory holding summary.json (from `pulsecheck run`, or `pulsecheck "
        "report RUN_DIR` for a replay or Locust run)"
    )
    if not run_dir.is_dir():
        raise InputError(FLAGS, field, str(run_dir), need)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(FLAGS, field, str(run_dir), need) from None
    except (OSError, ValueError) as err:
        raise InputError(FLAGS, field, str(path), f"must be JSON: {err}") from None
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA_VERSION:
        found = doc.get("schema") if isinstance(doc, dict) else type(doc).__name__
        raise InputError(FLAGS, field, f"{path} (schema {found})", f"must be {SCHEMA_VERSION}")
    return doc


def compare(request: CompareRequest) -> Comparison:
    a = read_summary(request.run_a, "RUN_A")
    b = read_summary(request.run_b, "RUN_B")
    name_a, name_b = str(request.run_a), str(request.run_b)
    if request.html is not None:
        request.html.write_text(rendering.page(name_a, name_b, a, b), encoding="utf-8")
    return Comparison(rendering.rows(a, b), rendering.text(name_a, name_b, a, b), request.html)
