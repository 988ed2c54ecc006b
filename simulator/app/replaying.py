"""`replay_schedule`: a schedule replayed open-loop against a target, into a run directory.

Theory of operation: the one path from a schedule to a run directory, used by `pulsecheck
replay` and by `pulsecheck run`. The request names the files, the target URL and the
options; the workforce must be the one the schedule was built from (its manifest's sha256
is compared with the one the schedule's manifest recorded). The replay runs in this
process, or split over `workers` processes whose runs are merged; either way the run
directory gets results.parquet, the two latency histograms and replay.json.

Before any load: the connection's files must exist, TLS options need a TLS target, and
the target's `preflight` opens one probe connection (for https: the handshake), so a
certificate problem is one `InputError` rather than every event failing.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from simulator.replay.engine import ReplayOptions, replay
from simulator.replay.targets import TargetOptions, make_target
from simulator.replay.workers import new_event_loop, run_workers
from simulator.schedule.io import file_sha256, read_schedule_manifest
from simulator.tables import manifest_path, read_stage
from simulator.traffic.record import Recorder, write_run
from simulator.validation import InputError

WORKFORCE_COLUMNS = ("email", "first_name", "last_name", "occupation")
OnStart = Callable[[Recorder, float], None]


@dataclass(frozen=True)
class ReplayRequest:
    schedule: Path
    workforce: Path
    target: str  # checked URL (loopback unless the caller allowed otherwise)
    out: Path
    options: ReplayOptions = field(default_factory=ReplayOptions)
    workers: int = 1
    connection: TargetOptions = field(default_factory=TargetOptions)  # TLS, auth, timeout


@dataclass(frozen=True)
class ReplayRun:
    summary: dict[str, Any]  # replay.json
    events: int  # events in the schedule


def check_workforce_matches(schedule: Path, workforce: Path) -> None:
    """Refuse a workforce other than the one the schedule was built from."""
    manifest = read_schedule_manifest(schedule)
    recorded = None if manifest is None else manifest.workforce_manifest_sha256
    if recorded is None:
        return  # a schedule from elsewhere: the id check still guards the rows
    actual = file_sha256(manifest_path(workforce))
    if actual != recorded:
        raise InputError(
            "command line",
            "--workforce",
            str(workforce),
            f"is not the workforce {schedule} was built from (its manifest's sha256 "
            f"{str(actual)[:12]}... differs from the schedule manifest's {recorded[:12]}...)",
        )


def check_ids(events: pa.Table, n_people: int, source: str) -> None:
    """Every employee id the schedule names must be a row of the workforce."""
    ends = {
        "sender_id": events.column("sender_id").to_numpy(),
        "cc_id": events.column("cc_id").to_numpy(),
        "rcpt_first + rcpt_count - 1": events.column("rcpt_first").to_numpy()
        + events.column("rcpt_count").to_numpy()
        - 1,
    }
    for name, ids in ends.items():
        if len(ids) and int(ids.max()) >= n_people:
            raise InputError(source, name, int(ids.max()), f"must be < {n_people} (workforce rows)")


TLS_FLAGS = {
    "ca_file": "--ca-file",
    "cert_file": "--client-cert",
    "key_file": "--client-key",
    "server_name": "--tls-server-name",
}


def check_connection(connection: TargetOptions, url: str, field: str = "--target") -> None:
    """Files the connection names must exist, and TLS options need a target that speaks
    TLS (https; smtp for STARTTLS, smtps), before any load is sent."""
    path = connection.token_secret
    if path is not None and not path.is_file():
        raise InputError("command line", "--token-secret", str(path), "file not found")
    tls = connection.tls
    given = [flag for name, flag in TLS_FLAGS.items() if getattr(tls, name) is not None]
    if given and url.split(":", 1)[0] == "http":
        raise InputError(
            "command line", field, url, f"is plain http; {', '.join(given)} need an https:// target"
        )
    for name in ("ca_file", "cert_file", "key_file"):
        file = getattr(tls, name)
        if file is not None and not file.is_file():
            raise InputError("command line", TLS_FLAGS[name], str(file), "file not found")


def preflight(url: str, connection: TargetOptions) -> None:
    """The target's own check before any load (`Target.preflight`), on a loop of its own."""

    async def check() -> None:
        target = make_target(url, connection)
        try:
            await target.preflight()
        finally:
            await target.aclose()

    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        runner.run(check())


def replay_schedule(request: ReplayRequest, on_start: OnStart | None = None) -> ReplayRun:
    """Replay the schedule against the target and write the run directory."""
    check_workforce_matches(request.schedule, request.workforce)
    events = read_stage(request.schedule, "schedule")
    workforce = read_stage(request.workforce, "workforce", WORKFORCE_COLUMNS)
    check_ids(events, workforce.num_rows, str(request.schedule))
    check_connection(request.connection, request.target)
    preflight(request.target, request.connection)
    request.out.mkdir(parents=True, exist_ok=True)
    if request.workers > 1:
        summary = run_workers(
            request.schedule,
            request.workforce,
            request.target,
            request.options,
            request.workers,
            request.out,
            request.connection,
        )
    else:
        target = make_target(request.target, request.connection)
        summary = _run_single(events, workforce, target, request.options, request.out, on_start)
    return ReplayRun(summary, events.num_rows)


def _run_single(
    events: pa.Table,
    workforce: pa.Table,
    target: Any,
    options: ReplayOptions,
    out: Path,
    on_start: OnStart | None,
) -> dict[str, Any]:
    async def main() -> dict[str, Any]:
        options.stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGINT, options.stop.set)
        options.on_start = on_start
        result = await replay(events, workforce, target, options)
        return write_run(out, result.results, result.summary, result.corrected, result.uncorrected)

    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        return runner.run(main())
