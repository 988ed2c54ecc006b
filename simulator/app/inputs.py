"""The workforce and schedule a stage works on: read from the user's files or built.

Theory of operation: a stage that needs a workforce or a schedule takes a path or None.
A path is read through the checked stage reader (`simulator.tables`); None builds the
table from the scenario (its workforce spec and seed), in memory. `write_inputs` builds
both and writes them with their manifests, the schedule's naming the workforce it was
built from (the sha256 of the workforce manifest), so a later replay can refuse a
workforce that does not match.

Above scale 1 (`pulsecheck run --scale 3`) both are built copy by copy and written piece
by piece (`simulator.app.chunked`); what the run's later stages get back is read from the
files, and of the workforce only the columns they use (`RUN_COLUMNS`: departments for
the response-rate figure, hourly cost and flags for the cost), not its 23M names.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from simulator.scenario import Scenario
from simulator.schedule.build import build_schedule
from simulator.schedule.io import (
    ScheduleManifest,
    file_sha256,
    rendering_of,
    write_schedule,
    write_schedule_manifest,
)
from simulator.tables import manifest_path, read_stage
from simulator.workforce import build_workforce, load_tables, write_workforce
from simulator.workforce.generate import COPY_SCALE
from simulator.workforce.io import copies_of

if TYPE_CHECKING:
    from simulator.app.chunked import PartsResult

Say = Callable[[str], None]
RUN_COLUMNS = ("department", "hourly_cost", "is_away", "is_stale")  # what cost and report use


def built_workforce(scenario: Scenario, scale: float | None = None) -> pa.Table:
    spec = scenario.workforce
    tables = load_tables(None if spec.tables == "builtin" else Path(spec.tables))
    table: pa.Table = build_workforce(spec.scale if scale is None else scale, spec.seed, tables)
    return table


def workforce_for(
    scenario: Scenario, path: Path | None, columns: Sequence[str] | None = None
) -> pa.Table:
    """The workforce at `path` (only `columns`, default all), or built from the scenario."""
    return built_workforce(scenario) if path is None else read_stage(path, "workforce", columns)


def schedule_for(scenario: Scenario, workforce: pa.Table, path: Path | None) -> pa.Table:
    """The schedule at `path`, or every round built from the scenario and the workforce."""
    if path is not None:
        return read_stage(path, "schedule")
    return build_schedule(scenario, workforce, scenario.workforce.seed)


def directive_records(
    scenario: Scenario, schedule: pa.Table, workforce: pa.Table, seed: int
) -> tuple[dict[str, dict[str, int]], dict[str, list[dict[str, object]]]]:
    """Per round, the replies by and after its deadline, and the exclusions report."""
    from dataclasses import asdict

    from simulator.schedule.build import exclusion_reports
    from simulator.schedule.summary import round_curves

    deadlines = {
        c.round: {"before": c.before_deadline, "after": c.after_deadline}
        for c in round_curves(schedule, scenario)
    }
    present = set(deadlines)
    reports = exclusion_reports(scenario, workforce, seed, sorted(present))
    return deadlines, {r: [asdict(row) for row in rows] for r, rows in reports.items()}


def schedule_manifest(
    scenario: Scenario,
    seed: int,
    workforce_path: Path,
    rows: int,
    records: tuple[dict[str, dict[str, int]], dict[str, list[dict[str, object]]]] = ({}, {}),
) -> ScheduleManifest:
    """What a schedule file records about how it was made (`records`: from
    `directive_records`)."""
    return ScheduleManifest(
        scenario=scenario.name,
        rendering=rendering_of(scenario, seed),
        scenario_file=str(scenario.path),
        seed=seed,
        workforce_file=str(workforce_path),
        workforce_manifest_sha256=file_sha256(manifest_path(workforce_path)),
        workforce_rows_read=rows,
        deadlines=records[0],
        exclusions=records[1],
    )


def write_built_workforce(scenario: Scenario, scale: float, out: Path) -> pa.Table:
    """The scenario's workforce at `scale`, written to `out/workforce.parquet` (above
    scale 1: copy by copy, and only `RUN_COLUMNS` are returned)."""
    path = out / "workforce.parquet"
    if scale > COPY_SCALE:
        from simulator.app.chunked import write_workforce_copies

        spec = scenario.workforce
        tables = None if spec.tables == "builtin" else Path(spec.tables)
        write_workforce_copies(scale, spec.seed, tables, path, largest=COPY_SCALE)
        return read_stage(path, "workforce", RUN_COLUMNS)
    workforce = built_workforce(scenario, scale)
    write_workforce(workforce, path)
    return workforce


def write_schedule_in_parts(
    scenario: Scenario,
    seed: int,
    workforce: Path,
    out: Path,
    round_ids: tuple[str, ...] | None = None,
    progress: Callable[[str], None] | None = None,
) -> PartsResult:
    """The schedule of a workforce of several copies, built and written piece by piece,
    with its manifest."""
    from simulator.app.chunked import write_schedule_parts

    built = write_schedule_parts(scenario, workforce, seed, round_ids, out, progress)
    records = (built.deadlines, built.exclusions)
    manifest = schedule_manifest(scenario, seed, workforce, built.workforce_rows, records)
    write_schedule_manifest(out, manifest, built.rows)
    return built


def write_built_schedule(scenario: Scenario, workforce: pa.Table, out: Path) -> pa.Table:
    """Every round of the scenario for `workforce`, written to `out/schedule.parquet`
    with a manifest naming `out/workforce.parquet` (a workforce of several copies: built
    in parts from that file, then read back)."""
    seed = scenario.workforce.seed
    if copies_of(workforce.schema) > 1:
        path = out / "schedule.parquet"
        write_schedule_in_parts(scenario, seed, out / "workforce.parquet", path)
        return read_stage(path, "schedule")
    schedule = build_schedule(scenario, workforce, seed)
    records = directive_records(scenario, schedule, workforce, seed)
    manifest = schedule_manifest(
        scenario, seed, out / "workforce.parquet", workforce.num_rows, records
    )
    write_schedule(schedule, out / "schedule.parquet", manifest)
    return schedule


def write_inputs(
    scenario: Scenario, scale: float, out: Path, say: Say
) -> tuple[pa.Table, pa.Table]:
    """Build the workforce and every round's schedule; write both into `out`."""
    import time

    started = time.perf_counter()
    workforce = write_built_workforce(scenario, scale, out)
    say(f"workforce: {workforce.num_rows:,} employees ({time.perf_counter() - started:.1f} s)")
    started = time.perf_counter()
    schedule = write_built_schedule(scenario, workforce, out)
    say(f"schedule: {schedule.num_rows:,} events ({time.perf_counter() - started:.1f} s)")
    return workforce, schedule
