"""Schedule files: Parquet for the events, `<file>.manifest.json` beside it.

Theory of operation: the manifest records what produced the schedule (scenario name,
seed, the workforce manifest's sha256, the rounds) and its counts, so a replay or cost
run can say which inputs it used; its `rendering` record (content seed, HTML share) lets
a replay send exactly the bodies whose sizes the schedule holds. Files are written to a
temporary name and renamed, so a reader never sees half a file; `read_schedule` checks
the columns against SCHEDULE.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from simulator.scenario import Scenario
from simulator.schedule.people import NEEDED
from simulator.tables import manifest_path, read_stage
from simulator.validation import InputError


def file_sha256(path: Path) -> str | None:
    """sha256 of a file's bytes, or None if it does not exist."""
    if not path.exists():
        return None
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_schedule(table: pa.Table, path: Path, manifest: dict[str, Any]) -> Path:
    """Write the Parquet file and its manifest; return the manifest's path."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, path)
    target = manifest_path(path)
    doc = {**manifest, "rows": table.num_rows, "file": path.name}
    target.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return target


def rendering_of(scenario: Scenario, seed: int) -> dict[str, float | int]:
    """What a replay needs to render the bodies the schedule sized: the content seed and
    the share of replies written as HTML."""
    from simulator.behaviour.params import ContentShares, defaults

    html = ContentShares.from_behaviour({**defaults(), **scenario.behaviour}).html
    return {"seed": seed, "html_share": html}


def read_manifest_doc(path: Path) -> dict[str, Any]:
    """The manifest beside a schedule file; {} when there is none."""
    target = manifest_path(Path(path))
    if not target.exists():
        return {}
    try:
        doc = json.loads(target.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise InputError(str(target), "(file)", str(target), f"must be JSON: {err}") from None
    if not isinstance(doc, dict):
        raise InputError(str(target), "(file)", type(doc).__name__, "must be a JSON object")
    return doc


def read_rendering(path: Path) -> dict[str, float | int]:
    """The `rendering_of` record in a schedule's manifest; {} when there is none."""
    target = manifest_path(Path(path))
    doc = read_manifest_doc(path)
    if not doc:
        return {}
    rendering = doc.get("rendering", {})
    seed, share = rendering.get("seed", 0), rendering.get("html_share", 0.0)
    if not isinstance(seed, int) or not isinstance(share, int | float) or not 0 <= share <= 1:
        raise InputError(
            str(target), "rendering", rendering, "needs an integer seed and 0 <= html_share <= 1"
        )
    return {"seed": seed, "html_share": float(share)}


def read_schedule(path: Path) -> pa.Table:
    """Read a schedule Parquet file; its columns must match SCHEDULE."""
    return read_stage(path, "schedule")


def read_workforce_columns(path: Path) -> pa.Table:
    """Only the workforce columns a schedule needs (names, flags, codes, managers)."""
    return read_stage(path, "workforce", NEEDED)
