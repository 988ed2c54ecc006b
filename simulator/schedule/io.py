"""Schedule files: Parquet for the events, `<file>.manifest.json` beside it.

Theory of operation: the manifest records what produced the schedule (scenario name,
seed, the workforce manifest's sha256, the rounds) and its counts, so a replay or cost
run can say which inputs it used; its `rendering` record (content seed, HTML share) lets
a replay send exactly the bodies whose sizes the schedule holds. Files are written to a
temporary name and renamed, so a reader never sees half a file; `read_schedule` checks
the columns against SCHEDULE. `write_schedule_parts` writes a schedule that arrives in
time-ordered pieces (a workforce above scale 1) through one `ParquetWriter`, a row group
or more per piece, so the whole table is never in memory.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from simulator.columns import SCHEDULE
from simulator.scenario import Scenario
from simulator.schedule.people import NEEDED
from simulator.tables import manifest_path, read_stage
from simulator.validation import InputError


def file_sha256(path: Path) -> str | None:
    """sha256 of a file's bytes, or None if it does not exist."""
    if not path.exists():
        return None
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class Rendering:
    """What a replay needs to render the bodies the schedule sized: the content seed and
    the share of replies written as HTML."""

    seed: int = 0
    html_share: float = 0.0


@dataclass(frozen=True)
class ScheduleManifest:
    """What a schedule file records about how it was made (`<file>.manifest.json`)."""

    scenario: str = ""  # the scenario name; "" when a schedule came from elsewhere
    rendering: Rendering = field(default_factory=Rendering)
    scenario_file: str | None = None
    seed: int | None = None
    workforce_file: str | None = None
    workforce_manifest_sha256: str | None = None  # the workforce it was built from
    workforce_rows_read: int | None = None
    list_size: int | None = None  # a reply-all storm: the members of the list it went to
    # per round: replies by and after its own deadline ({"before": n, "after": n})
    deadlines: dict[str, dict[str, int]] = field(default_factory=dict)
    # per round: staff excluded, rows of {agency, category, reason, count}
    exclusions: dict[str, list[dict[str, object]]] = field(default_factory=dict)


def write_schedule(table: pa.Table, path: Path, manifest: ScheduleManifest) -> Path:
    """Write the Parquet file and its manifest; return the manifest's path."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, path)
    return write_schedule_manifest(path, manifest, table.num_rows)


def write_schedule_manifest(path: Path, manifest: ScheduleManifest, rows: int) -> Path:
    """Write `<path>.manifest.json` for a schedule of `rows` events; return its path."""
    target = manifest_path(path)
    doc = {**asdict(manifest), "rows": rows, "file": Path(path).name}
    target.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return target


def write_schedule_parts(pieces: Iterable[pa.Table], path: Path) -> int:
    """Write SCHEDULE pieces, already in intended-time order, as one Parquet file (to a
    temporary name, then renamed); return the rows written. The manifest is written
    after, with `write_schedule_manifest`, once what it records is known."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    rows = 0
    with pq.ParquetWriter(tmp, SCHEDULE, compression="zstd") as writer:
        for table in pieces:
            writer.write_table(table)
            rows += table.num_rows
    os.replace(tmp, path)
    return rows


def rendering_of(scenario: Scenario, seed: int) -> Rendering:
    """The rendering of a scenario's replies at a content seed."""
    from simulator.behaviour.params import ContentShares, defaults

    html = ContentShares.from_behaviour({**defaults(), **scenario.behaviour}).html
    return Rendering(seed, float(html))


def read_schedule_manifest(path: Path) -> ScheduleManifest | None:
    """The manifest beside a schedule file, checked; None when there is none."""
    target = manifest_path(Path(path))
    if not target.exists():
        return None
    try:
        doc = json.loads(target.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise InputError(str(target), "(file)", str(target), f"must be JSON: {err}") from None
    if not isinstance(doc, dict):
        raise InputError(str(target), "(file)", type(doc).__name__, "must be a JSON object")
    rendering = doc.get("rendering") or {}
    seed, share = rendering.get("seed", 0), rendering.get("html_share", 0.0)
    if not isinstance(seed, int) or not isinstance(share, int | float) or not 0 <= share <= 1:
        raise InputError(
            str(target), "rendering", rendering, "needs an integer seed and 0 <= html_share <= 1"
        )
    known = {f.name for f in fields(ScheduleManifest)} - {"rendering"}
    values = {k: v for k, v in doc.items() if k in known}
    try:
        return ScheduleManifest(**values, rendering=Rendering(seed, float(share)))
    except TypeError as err:
        raise InputError(str(target), "(fields)", str(err), "must be a schedule manifest") from None


def read_rendering(path: Path) -> Rendering:
    """The rendering a schedule's manifest records; the defaults when there is none."""
    manifest = read_schedule_manifest(path)
    return Rendering() if manifest is None else manifest.rendering


def read_schedule(path: Path) -> pa.Table:
    """Read a schedule Parquet file; its columns must match SCHEDULE."""
    return read_stage(path, "schedule")


def read_workforce_columns(path: Path) -> pa.Table:
    """Only the workforce columns a schedule needs (names, flags, codes, managers)."""
    return read_stage(path, "workforce", NEEDED)
