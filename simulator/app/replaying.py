"""`replay_schedule`: a schedule replayed open-loop against a target, into a run directory.

Theory of operation: the one path from a schedule to a run directory, used by `pulsecheck
replay` and by `pulsecheck run`. The request names the files, the target URL and the
options; the workforce must be the one the schedule was built from (its manifest's sha256
is compared with the one the schedule's manifest recorded). The replay runs in this
process, or split over `workers` processes whose runs are merged; either way the run
directory gets results.parquet, the two latency histograms and replay.json. With
`verify` (an IMAP mailbox, `simulator.app.verifying`) the mailbox is examined before the
first event is sent and read back after the last: the run's `store_check`, also written
into replay.json.

Before any load is sent, the connection options are checked against the target (the
files they name exist; TLS options need a TLS target; SMTP TLS and accounts need an
smtp(s):// target; a sender the credentials file does not name needs the one account;
a request template compiles with its credentials readable) and the target's `preflight`
probes the server once (TLS handshake, STARTTLS, login), so a run that cannot work
stops with one InputError rather than every event failing; a mailbox to verify gets its
own preflight login then too.

With `window` (`simulator.schedule.window`) only the events whose intended time falls in
it are replayed, the clock starting at its first; replay.json says which window, how many
events it holds and what share of the round that is, and the store check expects only
those events.

With `metrics`, a single-process replay serves live Prometheus metrics
(`simulator.replay.metrics`) from just before the first event until `linger_s` after the
last; a split replay (`workers` > 1) refuses them before any load.

With `auto` (`--speedup auto`), the speedup is chosen after the preflight and before
any load: a short closed-loop probe of the target (`simulator.replay.probe`, its
messages under a content seed of their own) measures its capacity, and
`simulator.traffic.autospeed.choose_speedup` picks the highest speedup whose busiest
second fits under `headroom` of it. The figures go to replay.json as `speedup_auto`.
A request whose `auto` already holds them (the embedded system, probed in a throwaway
store of its own by `simulator.app.mass_reply`) is not probed again.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from simulator.app.record import StoreCheck
from simulator.columns import NO_ID
from simulator.replay import smtp_auth
from simulator.replay.engine import ReplayOptions, replay
from simulator.replay.live import EventClock, LiveDisplay
from simulator.replay.metrics import MetricsOptions, MetricsServer
from simulator.replay.probe import ProbeOptions, probe
from simulator.replay.source import Loaded, intended_times, load_rows
from simulator.replay.targets import (
    SMTP_TLS_MODES,
    TargetOptions,
    auth_header,
    load_template,
    make_target,
    parse_target,
)
from simulator.replay.verify import VerifySpec, check_spec
from simulator.replay.workers import new_event_loop, run_workers
from simulator.schedule.io import file_sha256, read_schedule_manifest
from simulator.schedule.window import Window
from simulator.schedule.window import resolve as resolve_window
from simulator.tables import manifest_path
from simulator.traffic.autospeed import AUTO_HEADROOM, best_rate, choose_speedup, peak_per_s
from simulator.traffic.pacer import intended_offsets_us, run_window, send_order
from simulator.traffic.record import SUMMARY_FILE, Recorder, read_results, value_counts, write_run
from simulator.validation import InputError

I64 = npt.NDArray[np.int64]
OnStart = Callable[[Recorder, float], None]
LiveFactory = Callable[[EventClock, float | None, float], LiveDisplay]
# ^ (event clock, time limit s, late after ms) -> the display a replay is watched with
Say = Callable[[str], None]


def _stderr(line: str) -> None:
    print(line, file=sys.stderr)


@dataclass(frozen=True)
class AutoSpeedup:
    """`--speedup auto`: the headroom, where it was asked for, and (once probed) the
    figures the speedup was chosen from."""

    headroom: float = AUTO_HEADROOM
    source: str = "command line"
    field: str = "--speedup"
    record: dict[str, Any] | None = None  # replay.json's speedup_auto, once probed


@dataclass(frozen=True)
class ReplayRequest:
    schedule: Path
    workforce: Path
    target: str  # checked URL (loopback unless the caller allowed otherwise)
    out: Path
    options: ReplayOptions = field(default_factory=ReplayOptions)
    workers: int = 1
    connection: TargetOptions = field(default_factory=TargetOptions)  # TLS, auth, timeout
    verify: VerifySpec | None = None  # a mailbox to read back after the replay
    metrics: MetricsOptions | None = None  # live Prometheus metrics (single process only)
    auto: AutoSpeedup | None = None  # choose options.speedup from a capacity probe
    window: str | None = None  # --window: busiest:DURATION or FROM/TO (simulator.schedule.window)
    timezone: str = "UTC"  # the scenario's, for a FROM/TO window and for describing it


@dataclass(frozen=True)
class ReplayRun:
    summary: dict[str, Any]  # replay.json
    events: int  # events in the schedule
    store_check: StoreCheck | None = None  # the read-back, when the request asked for one


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


TLS_FLAGS = {
    "ca_file": "--ca-file",
    "cert_file": "--client-cert",
    "key_file": "--client-key",
    "server_name": "--tls-server-name",
}


def check_connection(
    connection: TargetOptions, url: str, field: str = "--target"
) -> smtp_auth.Accounts | None:
    """Files and options the connection names, checked against the target URL before
    any load is sent; the submission accounts, when some are given."""
    path = connection.token_secret
    if path is not None and not path.is_file():
        raise InputError("command line", "--token-secret", str(path), "file not found")
    scheme = parse_target(url)[0]
    tls = connection.tls
    given = [flag for name, flag in TLS_FLAGS.items() if getattr(tls, name) is not None]
    if given and scheme == "http":
        raise InputError(
            "command line", field, url, f"is plain http; {', '.join(given)} need an https:// target"
        )
    for name in ("ca_file", "cert_file", "key_file"):
        file = getattr(tls, name)
        if file is not None and not file.is_file():
            raise InputError("command line", TLS_FLAGS[name], str(file), "file not found")
    template = load_template(connection)
    if template is not None:
        auth_header(template)
    smtp = scheme in ("smtp", "smtps")
    source = connection.source
    flags = source == "command line"
    tls_field = "--smtp-tls" if flags else "target.smtp_tls"
    mode = connection.smtp_tls
    if mode not in SMTP_TLS_MODES:
        raise InputError(source, tls_field, mode, f"must be one of {', '.join(SMTP_TLS_MODES)}")
    if mode != "none" and not smtp:
        raise InputError(source, tls_field, mode, "needs an smtp:// or smtps:// target")
    if scheme == "smtps" and mode == "starttls":
        raise InputError(
            source, tls_field, mode, "smtps:// is TLS from the first byte; use smtp:// for it"
        )
    auth = connection.smtp_auth
    if auth is None or not auth.given:
        return None
    if not smtp:
        raise InputError(auth.source, auth.field("user"), "(given)", "needs an smtp(s):// target")
    if connection.token_secret is not None:
        raise InputError(
            auth.source, auth.field("user"), "(given)", "and --token-secret: give one of them"
        )
    return smtp_auth.load(auth)


def check_senders(
    auth: smtp_auth.SmtpAuth,
    accounts: smtp_auth.Accounts,
    events: pa.Table,
    workforce: pa.Table,
    broadcast_sender: str,
) -> None:
    """Every message's From: address must have an account to send as: its own in the
    credentials file, else the one account."""
    kinds = events.column("kind").cast(pa.string())
    senders = events.column("sender_id").to_numpy()
    own = pc.equal(kinds, "broadcast").to_numpy(zero_copy_only=False) | (senders == NO_ID)
    emails = workforce.column("email").to_numpy(zero_copy_only=False)
    addresses = set(emails[np.unique(senders[~own])].tolist())
    if own.any():
        addresses.add(broadcast_sender)
    lacking = smtp_auth.missing(accounts, addresses)
    if lacking:
        more = f" and {len(lacking) - 3} more" if len(lacking) > 3 else ""
        raise InputError(
            auth.source,
            auth.field("credentials"),
            ", ".join(lacking[:3]) + more,
            f"names no account for {len(lacking)} sender(s) of the schedule; add them, or "
            f"give {auth.field('user')} with a password for the others",
        )


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


def windowed(
    request: ReplayRequest, events: pa.Table | I64 | None = None
) -> tuple[ReplayRequest, Window | None]:
    """The request with its window resolved into `options.window` (positions in
    intended-time order), and the window; unchanged without one. `events` is the
    schedule or its `t_intended` column in microseconds (read from the file without)."""
    if request.window is None:
        return request, None
    if events is None:
        events = intended_times(request.schedule)
    if isinstance(events, pa.Table):
        events = events.column("t_intended").cast(pa.int64()).to_numpy()
    window = resolve_window(request.window, events, request.timezone)  # of the whole round
    options = replace(request.options, window=(window.first, window.stop))
    return replace(request, options=options), window


def _load(request: ReplayRequest, times: I64) -> Loaded:
    """The events the request sends (its window's, by its max_events) and the employees
    they name, read from disk alone (`simulator.replay.source`)."""
    options = request.options
    rows, offsets = send_order(times, options.speedup, options.max_events, options.window)
    return load_rows(request.schedule, request.workforce, rows, offsets)


def replay_schedule(
    request: ReplayRequest, on_start: OnStart | None = None, say: Say = _stderr
) -> ReplayRun:
    """Replay the schedule (or its window) against the target and write the run directory.
    Only the events sent and the employees they name are read (`simulator.replay.source`)."""
    from simulator.app import verifying

    check_workforce_matches(request.schedule, request.workforce)
    times = intended_times(request.schedule)
    request, window = windowed(request, times)
    loaded: Loaded | None = _load(request, times)
    assert loaded is not None
    accounts = check_connection(request.connection, request.target)
    auth = request.connection.smtp_auth
    if accounts is not None and auth is not None:
        check_senders(
            auth, accounts, loaded.events, loaded.workforce, request.options.broadcast_sender
        )
    verify = request.verify
    if verify is not None:
        check_spec(verify)
    metrics = request.metrics
    if metrics is not None and request.workers > 1:
        raise InputError(
            metrics.source, metrics.field, metrics.port, "needs a single-process replay (workers 1)"
        )
    preflight(request.target, request.connection)
    request = resolve_speedup(request, say, times)
    options = request.options
    offsets = intended_offsets_us(times[loaded.rows], options.speedup)
    loaded = replace(loaded, offsets=offsets)  # the same rows, at the chosen speedup
    assert loaded is not None
    mark = None if verify is None else verifying.preflight(verify)
    request.out.mkdir(parents=True, exist_ok=True)
    if request.workers > 1:
        del loaded  # each worker reads its own share
        summary = run_workers(
            request.schedule,
            request.workforce,
            request.target,
            request.options,
            request.workers,
            request.out,
            request.connection,
        )
        loaded = _load(request, times) if verify is not None else None
    elif metrics is None:
        target = make_target(request.target, request.connection)
        summary = _run_single(loaded, target, request.options, request.out, on_start)
    else:
        summary = _run_metered(request, metrics, loaded, on_start)
    extra: dict[str, Any] = {}
    if window is not None:
        extra["window"] = window.describe(request.timezone)
    if request.auto is not None and request.auto.record is not None:
        extra["speedup_auto"] = request.auto.record
    check = None
    if verify is not None:
        assert loaded is not None
        # the results hold only the window's events, so only those are expected in the store
        expected = verifying.expected_events(
            read_results(request.out),
            loaded.events,
            loaded.workforce,
            request.options,
            verify.mailbox_address,
        )
        check = verifying.verify_mailbox(verify, mark, expected, request.options.seed, say)
        extra["store_check"] = asdict(check)
    if extra:
        summary = {**summary, **extra}
        _write_summary(request.out, summary)
    return ReplayRun(summary, len(times), check)


def _write_summary(out: Path, summary: dict[str, Any]) -> None:
    path = out / SUMMARY_FILE
    path.write_text(json.dumps(summary, indent=2, default=str) + "\n", encoding="utf-8")


def resolve_speedup(
    request: ReplayRequest, say: Say = _stderr, times: I64 | None = None
) -> ReplayRequest:
    """The request with its speedup chosen from a capacity probe of its target, when it
    asks for `auto` and has not been probed yet; else the request as it is. The probe
    sends events like those the run sends: `probe_rows` of them (its window's, by its
    max_events), and reads only those and the employees they name; `times` is the
    schedule's `t_intended` column when the caller has it."""
    auto = request.auto
    if auto is None or auto.record is not None:
        return request
    options = request.options
    if times is None:
        times = intended_times(request.schedule)
    sent = windowed(request, times)[0].options
    rows = send_order(times, 1.0, sent.max_events, sent.window)[0]
    spec = ProbeOptions(
        seed=options.seed,
        html_share=options.html_share,
        collections=dict(options.collections),
        broadcast_sender=options.broadcast_sender,
        source=auto.source,
        field=auto.field,
    )
    per_step = max(1, spec.max_events // max(1, len(spec.steps)))
    chosen_rows = probe_rows(rows, per_step)
    probed = load_rows(request.schedule, request.workforce, chosen_rows, np.zeros_like(chosen_rows))

    async def run() -> list[Any]:
        target = make_target(request.target, request.connection)
        return await probe(probed.events, probed.workforce, target, spec)

    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        steps = runner.run(run())
    capacity = best_rate(steps)
    t_us = times[rows]  # the pace must fit the busiest second of what is sent
    chosen = choose_speedup(t_us, capacity, auto.headroom)
    span_s = float(t_us.max() - t_us.min()) / 1e6 if len(t_us) else 0.0
    record = {
        "probe_steps": [
            {**asdict(step), "rate_per_s": round(step.rate_per_s, 1)} for step in steps
        ],
        "probe_s": round(sum(step.elapsed_s for step in steps), 3),
        "probe_kinds": value_counts(probed.events.column("kind")),
        "capacity_per_s": round(capacity, 1),
        "peak_intended_per_s": peak_per_s(t_us),
        "headroom": auto.headroom,
        "chosen": chosen,
        "peak_at_chosen_per_s": peak_per_s(t_us, chosen),
        "replay_s": round(span_s / chosen, 3),
        "max_duration_s": options.max_duration_s,
    }
    say(auto_line(record))
    return replace(
        request, options=replace(options, speedup=chosen), auto=replace(auto, record=record)
    )


def probe_rows(rows: I64, count: int) -> I64:
    """`count` of the rows a run sends, evenly spaced through them in send order, so the
    probe's events are of the kinds the run sends in their shares (a round opens with
    its broadcast, whose messages carry many recipients each; its replies carry two)."""
    if len(rows) <= count:
        return rows
    return rows[np.linspace(0, len(rows) - 1, count).round().astype(np.int64)]


def auto_line(record: dict[str, Any]) -> str:
    """What `--speedup auto` measured and chose, in one line."""
    return (
        f"speedup auto: measured capacity {record['capacity_per_s']:,.0f}/s in "
        f"{record['probe_s']:.1f} s of probing; peak intended rate "
        f"{record['peak_intended_per_s']:,}/s; headroom {record['headroom']:g}: "
        f"speedup {record['chosen']:g} (busiest second {record['peak_at_chosen_per_s']:,} "
        f"events, replay {record['replay_s']:,.1f} s)" + _over_limit(record)
    )


def _over_limit(record: dict[str, Any]) -> str:
    """A warning when the chosen pace needs longer than the replay's time limit."""
    limit = record.get("max_duration_s")
    if limit is None or record["replay_s"] <= limit:
        return ""
    return (
        f"; WARNING: that is longer than the {limit:,.0f} s time limit, so the events due "
        "after it will be dropped (raise max_duration_s or replay a window)"
    )


def _run_metered(
    request: ReplayRequest,
    metrics: MetricsOptions,
    loaded: Loaded,
    on_start: OnStart | None,
) -> dict[str, Any]:
    """`_run_single` with a metrics server up from before the first event until
    `linger_s` after the last."""
    server = MetricsServer(metrics, request.options.late_after_ms)  # the port is free: bound
    try:
        target = make_target(request.target, request.connection)
        hook = _both(server.attach, on_start)
        summary = _run_single(loaded, target, request.options, request.out, hook)
        server.finish()
        server.linger()
    finally:
        server.close()
    return summary


def _both(first: OnStart, then: OnStart | None) -> OnStart:
    def hook(rec: Recorder, start: float) -> None:
        first(rec, start)
        if then is not None:
            then(rec, start)

    return hook


def event_clock(schedule: Path, options: ReplayOptions, timezone: str) -> EventClock:
    """The scenario time of a replay's offsets: its first intended time, its speedup."""
    t_us = intended_times(schedule)
    if options.window is not None and len(t_us):
        return EventClock(int(np.sort(t_us)[options.window[0]]), options.speedup, timezone)
    t_us = t_us[: run_window(len(t_us), options.max_events)]
    first = int(t_us.min()) if len(t_us) else 0
    return EventClock(first, options.speedup, timezone)


def timezone_of(scenario: Any) -> str:
    """The time zone of a scenario's first round ("UTC" without one)."""
    rounds = getattr(scenario, "rounds", None)
    zone = rounds[0].send_time.tzinfo if rounds else None
    return str(getattr(zone, "key", "UTC"))


def replay_watched(
    request: ReplayRequest, live: LiveFactory | None, timezone: str = "UTC", say: Say = _stderr
) -> ReplayRun:
    """`replay_schedule` with a live view from `live` (one process only: a run split over
    worker processes has no one recorder to watch)."""
    if live is None or request.workers > 1:
        return replay_schedule(request, say=say)
    if request.auto is not None and request.auto.record is None:
        check_connection(request.connection, request.target)
        preflight(request.target, request.connection)
        request = resolve_speedup(request, say)  # the live clock needs the speedup
    options = windowed(request)[0].options
    clock = event_clock(request.schedule, options, timezone)
    display = live(clock, options.max_duration_s, options.late_after_ms)
    try:
        return replay_schedule(request, display.attach, say)
    finally:
        display.close()


def _run_single(
    loaded: Loaded,
    target: Any,
    options: ReplayOptions,
    out: Path,
    on_start: OnStart | None,
) -> dict[str, Any]:
    async def main() -> dict[str, Any]:
        options.stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGINT, options.stop.set)
        options.on_start = on_start
        result = await replay(loaded.events, loaded.workforce, target, options, loaded.offsets)
        return write_run(out, result.results, result.summary, result.corrected, result.uncorrected)

    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        return runner.run(main())
