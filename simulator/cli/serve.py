"""`pulsecheck serve`: run a reference collection system (HTTP API or SMTP mailbox) on loopback.

Theory of operation: flags are checked here and turned into a `ServerSpec`; the server
itself lives in `simulator.collect`. It prints its address once listening and runs until
SIGTERM or Ctrl-C, then drains in-flight writes, commits them and closes the store.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from simulator.cli import EXIT_FAILED, EXIT_OK
from simulator.collect.auth import load_or_create_secret
from simulator.collect.policy import Policy
from simulator.collect.servers import Running, ServerSpec, check_bind, run_blocking
from simulator.rules import ContentRules
from simulator.validation import InputError

POLICIES = ("none", "exchange")


def add_parser(sub: argparse._SubParsersAction[Any]) -> None:
    parser = sub.add_parser(
        "serve",
        help="Run a reference collection system (HTTP API or SMTP mailbox) on loopback.",
        description="Run a reference collection system (HTTP API or SMTP mailbox) on "
        "loopback. It prints its address, and on SIGTERM drains, flushes and closes.",
    )
    parser.add_argument("kind", choices=("api", "mailbox"))
    parser.add_argument("--store", required=True, help="SQLite store file (created if missing)")
    parser.add_argument("--workforce", required=True, help="workforce Parquet (email, department)")
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    parser.add_argument("--allow-remote", action="store_true", help="allow a non-loopback bind")
    parser.add_argument("--rounds", default="r1", help="comma-separated round ids (default r1)")
    parser.add_argument(
        "--policy",
        choices=POLICIES,
        default="none",
        help="mailbox receiving policy: none, or exchange (3,600/h, 50 GB)",
    )
    parser.add_argument("--rate-per-hour", type=int, help="override the per-mailbox hourly limit")
    parser.add_argument("--quota-mb", type=int, help="override the mailbox quota (MB)")
    parser.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="policy clock speed-up, to match a compressed replay",
    )
    parser.add_argument(
        "--secret-file",
        default=".pulsecheck-secret",
        help="API token secret; created (0600) if missing",
    )
    parser.add_argument(
        "--sync",
        choices=("full", "normal"),
        default="full",
        help="SQLite fsync discipline (full survives power loss)",
    )
    parser.set_defaults(func=run)


def build_spec(args: argparse.Namespace) -> ServerSpec:
    check_bind(args.host, args.allow_remote)
    if not 0 <= args.port <= 65535:
        raise InputError("--port", "port", args.port, "must be between 0 and 65535")
    if not Path(args.workforce).is_file():
        raise InputError(args.workforce, "--workforce", args.workforce, "file not found")
    rounds = [r.strip() for r in args.rounds.split(",") if r.strip()]
    if not rounds:
        raise InputError("--rounds", "rounds", args.rounds, "must name at least one round")
    secret = load_or_create_secret(args.secret_file) if args.kind == "api" else b""
    return ServerSpec(
        kind=args.kind,
        store_path=args.store,
        rules_by_round={r: ContentRules() for r in rounds},
        workforce_path=args.workforce,
        host=args.host,
        port=args.port,
        allow_remote=args.allow_remote,
        secret=secret,
        policy=_policy(args),
        time_scale=_positive(args.time_scale, "--time-scale"),
        sync=args.sync,
    )


def _policy(args: argparse.Namespace) -> Policy:
    base = Policy.exchange() if args.policy == "exchange" else Policy()
    per_hour = base.per_hour if args.rate_per_hour is None else args.rate_per_hour
    quota = base.quota_bytes if args.quota_mb is None else args.quota_mb * 10**6
    if per_hour is not None and per_hour < 1:
        raise InputError("--rate-per-hour", "rate", per_hour, "must be >= 1")
    if quota is not None and quota < 1:
        raise InputError("--quota-mb", "quota", args.quota_mb, "must be >= 1")
    return Policy(per_hour, quota)


def _positive(value: float, flag: str) -> float:
    if not value > 0:
        raise InputError(flag, flag.lstrip("-"), value, "must be > 0")
    return value


def run(args: argparse.Namespace) -> int:
    spec = build_spec(args)

    def ready(running: Running) -> None:
        print(f"pulsecheck serve {running.kind}: listening on {running.url}", flush=True)
        if running.kind == "api":
            print(
                f"  tokens: simulator.collect.mint_token(secret from {args.secret_file}, "
                "agency code)",
                flush=True,
            )

    try:
        run_blocking(spec, ready)
    except OSError as err:
        print(f"pulsecheck serve: error: could not start: {err}", file=sys.stderr)
        return EXIT_FAILED
    print(f"pulsecheck serve {args.kind}: stopped; store {args.store} closed", flush=True)
    return EXIT_OK
