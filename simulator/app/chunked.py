"""A workforce and schedule above scale 1: built copy by copy over processes, piece by piece.

Theory of operation: a workforce above scale 1 is ceil(scale) copies of the calibrated
layout (`simulator.workforce.generate.parts`), each at most federal-sized. The copies are
built in a pool of forked worker processes (at most `os.cpu_count()`, no more than there
are copies, and no more than $PULSECHECK_WORKERS when set). A worker hands its copy back
as an Arrow IPC file in a scratch directory (in /dev/shm when there is one: memory, no
disk write-back); this process maps the files in row order and appends each copy to one
Parquet file (`write_workforce_parts`). At most one task per worker plus `AHEAD` are
submitted and not yet written, so memory stays a few copies' worth whatever the scale.

The schedule of such a workforce is built in two passes over the same pool:

1. parts: each worker reads one copy's rows (the row groups of its id range), builds that
   copy's events (`build_part`: sorted by intended time, ids of the whole workforce, the
   inputs of their sizes, and the copy's exclusions report) and writes them to an Arrow
   IPC file in the scratch directory;
2. slices: the intended times of the largest part cut the round into stretches of about
   `SLICE_EVENTS` events; each part is sorted, so a stretch is one contiguous range of
   every part. A worker maps the part files, merges one stretch's ranges and numbers and
   sizes its events (`number_slice`, ids from the events of the stretches before it);
   this process writes the stretches in order, so the file is sorted by intended time and
   its event ids are 0..n-1 in that order, as for any schedule.

The arrival curves (and the manifest's replies by and after each deadline) are read from
the parts' code columns, which the order does not change; the exclusions reports are the
parts' added up. The scratch directory is removed whatever happens.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from simulator.behaviour.exclusions import ExclusionRow, merge_reports
from simulator.columns import CONTENTS, KINDS
from simulator.scenario import Scenario, load_scenario
from simulator.schedule.build import Part, build_part, number_slice
from simulator.schedule.people import NEEDED
from simulator.schedule.summary import ArrivalCurve, round_curves
from simulator.workforce import load_tables
from simulator.workforce.generate import COPY_SCALE, build_workforce, parts
from simulator.workforce.generate import Part as Copy
from simulator.workforce.io import copies_of, write_workforce_parts

Progress = Callable[[str, float], None]
SLICE_EVENTS = 1_000_000  # events per written stretch of the schedule (a row group)
AHEAD = 1  # finished tasks that may wait, beyond one per worker, for the writer


WORKERS_ENV = "PULSECHECK_WORKERS"  # fewer worker processes than cores (e.g. 1 to compare)


def workers_for(tasks: int) -> int:
    """Worker processes for `tasks` tasks: at most one per core (or $PULSECHECK_WORKERS)."""
    cores = os.cpu_count() or 1
    asked = os.environ.get(WORKERS_ENV, "")
    if asked.isdigit() and int(asked) >= 1:
        cores = min(cores, int(asked))
    return max(1, min(cores, tasks))


def _pool(workers: int) -> ProcessPoolExecutor:
    # fork: a worker starts in milliseconds with the modules already loaded (Arrow
    # re-creates its thread pools in a forked child); the workers use no locks of ours
    context = multiprocessing.get_context("fork")
    return ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_one_thread)


M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc mallopt parameters
MMAP_THRESHOLD = 32 << 20  # glibc's largest: columns of a copy (<= 18 MB) stay in the heap
TRIM_THRESHOLD = 512 << 20  # keep up to this much freed heap for the next copy


def _one_thread() -> None:
    """Each worker uses one core: the pool already keeps every core busy, and Arrow's own
    thread pools on top of it only contend (measured: about 25% slower per copy). And
    the heap keeps freed column buffers for reuse instead of returning each to the
    kernel, which would fault every page of the next copy's columns in afresh (measured:
    system time per copy from about 0.8 s to 0.2-0.5 s)."""
    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc: keep the allocator's defaults
        return
    libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
    libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)


def in_order(
    pool: ProcessPoolExecutor,
    workers: int,
    fn: Callable[..., Any],
    tasks: Sequence[tuple[Any, ...]],
) -> Iterator[Any]:
    """`fn(*task)` for each task, run on the pool of `workers`, yielded in task order,
    with at most one task per worker plus `AHEAD` submitted and not yet taken."""
    limit = workers + AHEAD
    pending: list[Future[Any]] = []
    queue = iter(tasks)
    for task in queue:
        pending.append(pool.submit(fn, *task))
        if len(pending) >= limit:
            break
    while pending:
        done = pending.pop(0).result()
        for task in queue:
            pending.append(pool.submit(fn, *task))
            break
        yield done


# -- the workforce ----------------------------------------------------------------------
def _build_copy(scale: float, seed: int, tables: Path | None, copy: Copy, folder: Path) -> Path:
    table = build_workforce(scale, seed, load_tables(tables), part=copy)
    return _to_file(table, folder / f"copy-{copy.copy:03d}.arrow")


def _to_file(table: pa.Table, path: Path) -> Path:
    """Hand a table to the writing process as an Arrow IPC file: written once here and
    mapped there, it costs one copy, where a pipe costs a pickle and three."""
    with ipc.new_file(path, table.schema) as writer:
        writer.write_table(table)
    return path


def _taken(paths: Iterator[Path]) -> Iterator[pa.Table]:
    """Each file's table, mapped; the file is removed once the next one is asked for."""
    for path in paths:
        yield _mapped(path)
        path.unlink()


def write_workforce_copies(
    scale: float,
    seed: int,
    tables: Path | None,
    out: Path,
    progress: Progress | None = None,
    largest: float = COPY_SCALE,
) -> tuple[int, Path]:
    """Build a workforce of copies no bigger than `largest` over processes and write it to
    `out`; return the rows and the manifest's path."""
    report = progress or (lambda stage, done: None)
    plan = parts(scale, load_tables(tables), largest)
    report(f"{len(plan)} copies of {plan[0].copy_rows:,} rows", 0.0)

    def built(folder: Path) -> Iterator[pa.Table]:
        workers = workers_for(len(plan))
        with _pool(workers) as pool:
            tasks = [(scale, seed, tables, copy, folder) for copy in plan]
            files = in_order(pool, workers, _build_copy, tasks)
            for i, table in enumerate(_taken(files)):
                report(f"copy {i + 1} of {len(plan)} built", (i + 1) / len(plan))
                yield table

    with _scratch(out) as folder:
        return write_workforce_parts(built(folder), out)


SHARED_MEMORY = Path("/dev/shm")  # memory-backed files: no disk writes, no write-back stalls


@contextlib.contextmanager
def _scratch(out: Path) -> Iterator[Path]:
    """A temporary directory in shared memory (else beside `out`), removed whatever
    happens. It holds one copy or stretch per worker at a time, and the parts of a
    schedule (about 70 bytes an event: 0.8 GB at scale 10)."""
    where = (
        SHARED_MEMORY
        if SHARED_MEMORY.is_dir() and os.access(SHARED_MEMORY, os.W_OK)
        else out.parent
    )
    folder = Path(tempfile.mkdtemp(prefix=f"pulsecheck-{out.name}.", dir=where))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def copy_bounds(workforce: Path) -> list[tuple[int, int, int]]:
    """(copy, first row, stop row) of each copy of a workforce file: one copy for a
    workforce at scale <= 1 or one from elsewhere, else the copies its scale (from the
    file's schema metadata) says."""
    try:
        file = pq.ParquetFile(workforce)
    except (OSError, pa.ArrowException):  # the stage reader says what is wrong with it
        return [(0, 0, 0)]
    rows = file.metadata.num_rows
    k = copies_of(file.schema_arrow)
    if rows % k:
        k = 1
    size = rows // k
    return [(c, c * size, (c + 1) * size) for c in range(k)]


def read_rows(workforce: Path, start: int, stop: int, columns: Sequence[str]) -> pa.Table:
    """Rows [start, stop) of a Parquet file, reading only the row groups that hold them."""
    file = pq.ParquetFile(workforce)
    groups, first, at = [], None, 0
    for g in range(file.metadata.num_row_groups):
        n = file.metadata.row_group(g).num_rows
        if at < stop and at + n > start:
            groups.append(g)
            first = at if first is None else first
        at += n
    table = file.read_row_groups(groups, columns=list(columns))
    return table.slice(start - (first or 0), stop - start)


# -- the schedule -----------------------------------------------------------------------
@dataclass(frozen=True)
class PartFile:
    path: Path
    events: int
    agencies: list[str]
    exclusions: dict[str, list[ExclusionRow]]


def _schedule_part(
    scenario_path: Path,
    workforce: Path,
    seed: int,
    round_ids: tuple[str, ...] | None,
    bounds: tuple[int, int, int],
    total: int,
    folder: Path,
) -> PartFile:
    scenario = load_scenario(scenario_path)
    copy, start, stop = bounds
    people = read_rows(workforce, start, stop, NEEDED)
    part = Part(copy, start, total)
    reports: dict[str, list[ExclusionRow]] = {}
    table = build_part(scenario, people, seed, part, round_ids, reports)
    path = _to_file(table, folder / f"part-{copy:03d}.arrow")
    agencies = [str(v) for v in people.column("department").chunk(0).dictionary.to_pylist()]
    return PartFile(path, table.num_rows, agencies, reports)


def _mapped(path: Path) -> pa.Table:
    return ipc.open_file(pa.memory_map(str(path))).read_all()


def _slice(
    paths: list[Path],
    ranges: list[tuple[int, int]],
    first_event_id: int,
    scenario_path: Path,
    seed: int,
    agencies: list[str],
    folder: Path,
) -> Path:
    pieces = [
        _mapped(p).slice(lo, hi - lo) for p, (lo, hi) in zip(paths, ranges, strict=True) if hi > lo
    ]
    scenario = load_scenario(scenario_path)
    table = number_slice(pieces, first_event_id, scenario, seed, agencies)
    return _to_file(table, folder / f"stretch-{first_event_id:012d}.arrow")


def _cuts(parts: list[pa.Table]) -> list[np.ndarray[Any, Any]]:
    """Per part, the positions that cut it into the same stretches of intended time."""
    biggest = max(parts, key=lambda t: t.num_rows)
    t_big = biggest.column("t_us").to_numpy()
    step = max(1, SLICE_EVENTS // len(parts))
    cut_times = np.unique(t_big[step::step])
    out = []
    for table in parts:
        t = table.column("t_us").to_numpy()
        inner = np.searchsorted(t, cut_times, side="left")
        out.append(np.concatenate([[0], inner, [len(t)]]).astype(np.int64))
    return out


def _curves(parts: list[pa.Table], scenario: Scenario) -> list[ArrivalCurve]:
    """Arrival curves from the parts' code columns (the order does not matter to them)."""
    rounds = pa.array([r.id for r in scenario.rounds], type=pa.string())

    def coded(name: str, names: pa.Array) -> pa.ChunkedArray:
        return pa.chunked_array(
            [
                pa.DictionaryArray.from_arrays(c.cast(pa.int16()), names)
                for t in parts
                for c in t.column(name).chunks
            ],
            type=pa.dictionary(pa.int16(), pa.string()),
        )

    t_us = pa.chunked_array(
        [c for t in parts for c in t.column("t_us").chunks], type=pa.int64()
    ).cast(pa.timestamp("us", tz="UTC"))
    table = pa.table(
        {
            "t_intended": t_us,
            "round": coded("round", rounds),
            "kind": coded("kind", pa.array(KINDS, type=pa.string())),
            "content": coded("content", pa.array(CONTENTS, type=pa.string())),
        }
    )
    return round_curves(table, scenario)


@dataclass(frozen=True)
class PartsResult:
    rows: int
    curves: list[ArrivalCurve]
    deadlines: dict[str, dict[str, int]]
    exclusions: dict[str, list[dict[str, object]]]
    workforce_rows: int


def write_schedule_parts(
    scenario: Scenario,
    workforce: Path,
    seed: int,
    round_ids: tuple[str, ...] | None,
    out: Path,
    progress: Callable[[str], None] | None = None,
) -> PartsResult:
    """Build the schedule of a workforce of several copies over processes and write it to
    `out` (the Parquet file only: the caller writes the manifest from the result)."""
    from simulator.schedule.io import write_schedule_parts as write_pieces

    step = progress or (lambda _: None)
    bounds = copy_bounds(workforce)
    total = bounds[-1][2]
    with _scratch(out) as folder:
        workers = workers_for(len(bounds))
        with _pool(workers) as pool:
            step(f"{len(bounds)} copies: who replies and when")
            tasks = [(scenario.path, workforce, seed, round_ids, b, total, folder) for b in bounds]
            files: list[PartFile] = list(in_order(pool, workers, _schedule_part, tasks))
            tables = [_mapped(f.path) for f in files]
            cuts = _cuts(tables)
            counts = np.sum([np.diff(c) for c in cuts], axis=0)
            firsts = np.concatenate([[0], np.cumsum(counts)[:-1]])
            paths = [f.path for f in files]
            agencies = files[0].agencies
            slices = [
                (
                    paths,
                    [(int(c[i]), int(c[i + 1])) for c in cuts],
                    int(firsts[i]),
                    scenario.path,
                    seed,
                    agencies,
                    folder,
                )
                for i in range(len(counts))
            ]

            def pieces() -> Iterator[pa.Table]:
                files_ = in_order(pool, workers, _slice, slices)
                for i, table in enumerate(_taken(files_)):
                    step(f"numbering and sizing: stretch {i + 1} of {len(slices)}")
                    yield table

            rows = write_pieces(pieces(), out)
            curves = _curves(tables, scenario)
            del tables
    deadlines = {c.round: {"before": c.before_deadline, "after": c.after_deadline} for c in curves}
    reports = {
        r: merge_reports([f.exclusions.get(r, []) for f in files])
        for r in sorted({r for f in files for r in f.exclusions})
    }
    exclusions = {r: [asdict(row) for row in rows_] for r, rows_ in reports.items()}
    return PartsResult(rows, curves, deadlines, exclusions, total)
