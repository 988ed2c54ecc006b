"""`pulsecheck replay`: replay a schedule open-loop against a collection system.

Theory of operation: checks every flag and input file at the boundary (loopback-only
targets unless --allow-remote, schedule and workforce columns), then runs the engine in
one process or in `--workers N`, with Ctrl-C stopping cleanly, and writes RUN_DIR:
results.parquet, latency_corrected.hlog, latency_uncorrected.hlog and replay.json.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa

from simulator.cli import EXIT_FAILED, EXIT_OK
from simulator.collections import default_collections
from simulator.columns import SCHEDULE, WORKFORCE
from simulator.replay.engine import ReplayOptions, replay
from simulator.replay.live import LiveDisplay
from simulator.replay.targets import Tokens, make_target, parse_target
from simulator.replay.workers import new_event_loop, run_workers, secret_tokens
from simulator.safety import check_target
from simulator.schedule.io import read_rendering
from simulator.tables import read_table
from simulator.traffic.record import write_run
from simulator.validation import InputError, finite_float

WORKFORCE_COLUMNS = ("email", "first_name", "last_name", "occupation")


def add_parser(sub: argparse._SubParsersAction[Any]) -> None:
    parser = sub.add_parser(
        "replay",
        help="Replay a schedule open-loop against a collection system.",
        description="Send every scheduled event at its intended time (compressed by "
        "--speedup), measure latency from that time (wrk2 style) and from the actual send, "
        "and write RUN_DIR/results.parquet, *.hlog and replay.json.",
    )
    parser.add_argument("schedule", type=Path, help="schedule Parquet (pulsecheck schedule)")
    parser.add_argument("--workforce", type=Path, required=True, help="workforce Parquet")
    parser.add_argument(
        "--target", required=True, help="http://127.0.0.1:PORT/PATH or smtp://127.0.0.1:PORT"
    )
    parser.add_argument("--out", type=Path, required=True, help="run directory to write")
    parser.add_argument("--speedup", type=finite_float, default=1.0, help="time compression (>0)")
    parser.add_argument("--max-events", type=int, default=None, help="replay only the first N")
    parser.add_argument(
        "--max-duration", type=finite_float, default=600.0, help="seconds; later events are dropped"
    )
    parser.add_argument("--concurrency", type=int, default=64, help="open connections")
    parser.add_argument("--retries", type=int, default=3, help="retries of temporary failures")
    parser.add_argument("--workers", type=int, default=1, help="processes to split across")
    parser.add_argument("--timeout", type=finite_float, default=30.0, help="seconds per request")
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed for rendered content (default: the schedule manifest's, else 0)",
    )
    parser.add_argument(
        "--html-share",
        type=finite_float,
        default=None,
        help="share of replies sent as HTML (default: the schedule manifest's, else 0)",
    )
    parser.add_argument(
        "--collection",
        action="append",
        default=[],
        metavar="ID=ADDRESS",
        help="address of a collection system (repeatable); default ID@collect.example",
    )
    parser.add_argument(
        "--token-secret",
        type=Path,
        default=None,
        help="secret file of the collection API; each request carries its agency's token",
    )
    parser.add_argument("--http-client", choices=("fast", "aiohttp"), default="fast")
    parser.add_argument("--allow-remote", action="store_true", help="allow non-loopback targets")
    parser.add_argument("--no-live", action="store_true", help="no live display")
    parser.set_defaults(func=run)


def _positive(name: str, value: float | None, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if value is None or value <= 0:
        raise InputError("command line", name, value, "must be a number > 0")


def check_args(args: argparse.Namespace) -> dict[str, str]:
    """Validate flags; return the collection address map."""
    parse_target(args.target)
    check_target(args.target, args.allow_remote, "--target")
    _positive("--speedup", args.speedup)
    _positive("--max-duration", args.max_duration)
    _positive("--timeout", args.timeout)
    _positive("--max-events", args.max_events, allow_none=True)
    for name in ("--concurrency", "--workers"):
        value = getattr(args, name[2:].replace("-", "_"))
        if not 1 <= value <= 100_000:
            raise InputError("command line", name, value, "must be between 1 and 100000")
    if not 0 <= args.retries <= 100:
        raise InputError("command line", "--retries", args.retries, "must be between 0 and 100")
    if args.html_share is not None and not 0 <= args.html_share <= 1:
        raise InputError("command line", "--html-share", args.html_share, "must be 0..1")
    if args.seed is not None and args.seed < 0:
        raise InputError("command line", "--seed", args.seed, "must be >= 0")
    collections = {c.id: c.address for c in default_collections()}
    for item in args.collection:
        cid, sep, address = item.partition("=")
        if not sep or "@" not in address:
            raise InputError("command line", "--collection", item, "must be ID=user@host.example")
        collections[cid] = address
    return collections


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


def tokens_from(path: Path | None) -> Tokens | None:
    """Bearer tokens minted from the collection API's secret file, if one is given."""
    if path is None:
        return None
    if not path.is_file():
        raise InputError("command line", "--token-secret", str(path), "file not found")
    return secret_tokens(path)


def options_from(args: argparse.Namespace, collections: dict[str, str]) -> ReplayOptions:
    """Replay options from the flags; the content seed and HTML share default to the
    schedule manifest's, so the bodies sent are the ones whose sizes the schedule holds."""
    rendering = read_rendering(args.schedule)
    seed = int(rendering.get("seed", 0)) if args.seed is None else args.seed
    html = float(rendering.get("html_share", 0.0)) if args.html_share is None else args.html_share
    return ReplayOptions(
        speedup=args.speedup,
        concurrency=args.concurrency,
        max_events=args.max_events,
        max_duration_s=args.max_duration,
        retries=args.retries,
        collections=collections,
        seed=seed,
        html_share=html,
    )


def run(args: argparse.Namespace) -> int:
    collections = check_args(args)
    events = read_table(args.schedule, SCHEDULE, tuple(SCHEDULE.names), "schedule")
    workforce = read_table(args.workforce, WORKFORCE, WORKFORCE_COLUMNS, "workforce")
    check_ids(events, workforce.num_rows, str(args.schedule))
    options = options_from(args, collections)
    fast = args.http_client == "fast"
    if args.workers > 1:
        summary = run_workers(
            args.schedule,
            args.workforce,
            args.target,
            options,
            args.workers,
            args.out,
            fast,
            args.timeout,
            args.token_secret,
        )
    else:
        target = make_target(args.target, args.timeout, fast, tokens_from(args.token_secret))
        live = None if args.no_live or not sys.stderr.isatty() else LiveDisplay()
        summary = _run_single(events, workforce, target, options, args.out, live)
    _print_summary(summary, args.out)
    return EXIT_FAILED if summary["events"] and not summary["acknowledged"] else EXIT_OK


def _run_single(
    events: pa.Table,
    workforce: pa.Table,
    target: Any,
    options: ReplayOptions,
    out: Path,
    live: LiveDisplay | None,
) -> dict[str, Any]:
    async def main() -> dict[str, Any]:
        options.stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGINT, options.stop.set)
        if live is not None:
            options.on_start = live.attach
        try:
            result = await replay(events, workforce, target, options)
        finally:
            if live is not None:
                live.close()
        return write_run(out, result.results, result.summary, result.corrected, result.uncorrected)

    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        return runner.run(main())


def _print_summary(summary: dict[str, Any], out: Path) -> None:
    counts = ", ".join(f"{k} {v}" for k, v in summary["outcomes"].items() if v)
    lat = summary["latency_corrected_ms"]
    print(
        f"replayed {summary['events']} events to {summary['target']}: {counts}; "
        f"{summary['throughput_per_s']:.0f}/s; corrected p50 {lat['p50']:.2f} ms, "
        f"p99 {lat['p99']:.2f} ms, max {lat['max']:.2f} ms"
        + ("; INTERRUPTED" if summary.get("interrupted") else "")
    )
    print(f"wrote {out}/results.parquet, latency_*.hlog, replay.json")
