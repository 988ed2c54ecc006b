"""The single stages as typed calls: build a workforce, a schedule, or a reply-all model.

Theory of operation: each function takes a request naming its inputs and outputs, does
the stage's pure work through the core packages, writes the stage's files (Parquet with
its manifest, or a model's JSON, figures and page) and returns what a caller prints. The
CLI checks flags before it builds a request; these functions check what only the files
can tell (a scenario's rounds, a defence's name). Above scale 1 the workforce and its
schedule are built copy by copy over processes and written piece by piece
(`simulator.app.chunked`), so neither is ever whole in memory.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from simulator.app.inputs import directive_records, schedule_manifest, write_schedule_in_parts
from simulator.scenario import Scenario, load_scenario
from simulator.schedule.build import build_schedule
from simulator.schedule.io import read_workforce_columns, write_schedule
from simulator.schedule.summary import ArrivalCurve, round_curves
from simulator.validation import InputError
from simulator.workforce import build_workforce, load_tables, write_workforce

if TYPE_CHECKING:
    from simulator.replyall.section import StormModel

Progress = Callable[[str, float], None]  # stage description, share done (0..1)
FLAGS = "command line"


@dataclass(frozen=True)
class WorkforceRequest:
    scale: float
    seed: int
    out: Path
    tables: Path | None = None  # calibration CSV directory; None: the built-in tables


@dataclass(frozen=True)
class WorkforceResult:
    rows: int
    path: Path
    manifest: Path


def workforce(request: WorkforceRequest, progress: Progress | None = None) -> WorkforceResult:
    """Build the workforce and write it with its manifest."""
    if request.scale > 1:
        from simulator.app.chunked import write_workforce_copies

        try:
            rows, manifest = write_workforce_copies(
                request.scale, request.seed, request.tables, request.out, progress
            )
        except OSError as err:
            raise InputError(
                FLAGS, "--out", str(request.out), f"could not be written: {err}"
            ) from err
        return WorkforceResult(rows, request.out, manifest)
    table = build_workforce(
        request.scale, request.seed, load_tables(request.tables), progress=progress
    )
    try:
        manifest = write_workforce(table, request.out)
    except OSError as err:
        raise InputError(FLAGS, "--out", str(request.out), f"could not be written: {err}") from err
    return WorkforceResult(table.num_rows, request.out, manifest)


@dataclass(frozen=True)
class ScheduleRequest:
    scenario: Path
    workforce: Path
    out: Path
    round_ids: tuple[str, ...] | None = None  # None: every round
    seed: int | None = None  # None: the scenario's workforce seed


@dataclass(frozen=True)
class ScheduleResult:
    scenario: Scenario
    rows: int
    path: Path
    curves: list[ArrivalCurve]
    # per round: staff excluded, rows of {agency, category, reason, count}
    exclusions: dict[str, list[dict[str, object]]] = field(default_factory=dict)
    table: pa.Table | None = None  # the events, unless built piece by piece (scale > 1)


def plan_schedule(request: ScheduleRequest) -> tuple[Scenario, int]:
    """The scenario and the seed a schedule request means, its round ids checked."""
    scenario = load_scenario(request.scenario)
    ids = [r.id for r in scenario.rounds]
    unknown = [r for r in request.round_ids or () if r not in ids]
    if unknown:
        raise InputError(FLAGS, "--round", unknown[0], f"must be one of: {', '.join(ids)}")
    return scenario, scenario.workforce.seed if request.seed is None else request.seed


def schedule(
    request: ScheduleRequest, progress: Callable[[str], None] | None = None
) -> ScheduleResult:
    """Build the scenario's rounds for the workforce and write them with their manifest."""
    scenario, seed = plan_schedule(request)
    from simulator.app.chunked import copy_bounds

    if len(copy_bounds(request.workforce)) > 1:
        return _schedule_in_parts(request, scenario, seed, progress)
    people = read_workforce_columns(request.workforce)
    rounds = None if request.round_ids is None else list(request.round_ids)
    table = build_schedule(scenario, people, seed, rounds, progress)
    if progress is not None:
        progress(f"writing {request.out}")
    records = directive_records(scenario, table, people, seed)
    manifest = schedule_manifest(scenario, seed, request.workforce, people.num_rows, records)
    write_schedule(table, request.out, manifest)
    curves = round_curves(table, scenario)
    return ScheduleResult(scenario, table.num_rows, request.out, curves, records[1], table)


def _schedule_in_parts(
    request: ScheduleRequest,
    scenario: Scenario,
    seed: int,
    progress: Callable[[str], None] | None,
) -> ScheduleResult:
    """The schedule of a workforce of several copies, built and written piece by piece."""
    try:
        built = write_schedule_in_parts(
            scenario, seed, request.workforce, request.out, request.round_ids, progress
        )
    except OSError as err:
        raise InputError(FLAGS, "--out", str(request.out), f"could not be written: {err}") from err
    return ScheduleResult(scenario, built.rows, request.out, built.curves, built.exclusions)


@dataclass(frozen=True)
class ReplyAllRequest:
    scenario: Path
    runs: int = 100
    seed: int | None = None  # None: the scenario's
    defence: str | None = None  # compare only this defence; None: all
    out: Path | None = None  # write replyall.json, the figures and a page here


def replyall(request: ReplyAllRequest) -> StormModel:
    """The storm model of a reply-all scenario: one run, the defences, the band."""
    from simulator.replyall.compare import cases
    from simulator.replyall.params import load_replyall
    from simulator.replyall.section import model_storm

    sc = load_replyall(request.scenario)
    known = [*cases(sc), "all"]
    if request.defence is not None and not any(k.startswith(request.defence) for k in known):
        raise InputError(FLAGS, "--defence", request.defence, f"must be one of: {', '.join(known)}")
    seed = sc.seed if request.seed is None else request.seed
    model = model_storm(sc, request.runs, seed, request.defence)
    if request.out is not None:
        write_model(request.out, model)
    return model


def write_model(out: Path, model: StormModel) -> None:
    from simulator.replyall.section import model_figures, model_parts, view_of
    from simulator.report.html import write_page

    out.mkdir(parents=True, exist_ok=True)
    (out / "replyall.json").write_text(json.dumps(model.to_json(), indent=2, default=float))
    view = view_of(model)
    figures = model_figures(view)
    for name, (_, fig) in figures.items():
        fig.savefig(out / f"{name}.png", dpi=110)
    write_page(
        out / "report.html", f"Reply-all storm: {model.scenario.name}", model_parts(view), figures
    )
