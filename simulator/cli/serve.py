"""`pulsecheck serve`: run a reference collection system (HTTP API or SMTP mailbox) on loopback.

Theory of operation: flags are checked here and turned into a `ServerSpec`; the server
itself lives in `simulator.collect`. It prints its address once listening and runs until
SIGTERM or Ctrl-C, then drains in-flight writes, commits them and closes the store.
With `--scenario S.toml` the collections (ids, addresses, internal_to), the rounds and
the content rules (each round's, and each collection's own on top) come from the
scenario, as `pulsecheck run` sets them; without it, the default collections and
default rules for the `--rounds` given.
Both servers read `--secret-file`: the API's bearer tokens and the mailbox's SMTP AUTH
passwords are `mint_token(secret, agency)`. The mailbox's time limits, per-address
session cap and input buffer budget have flags of their own.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from simulator.cli import EXIT_FAILED, EXIT_OK
from simulator.collect.policy import Policy
from simulator.collect.servers import Running, ServerSpec, check_bind, run_blocking
from simulator.collections import Collection, default_collections
from simulator.rules import ContentRules
from simulator.tokens import load_or_create_secret
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
    parser.add_argument(
        "--scenario",
        help="scenario TOML: take collections, rounds and content rules (per round and "
        "per collection) from it",
    )
    parser.add_argument(
        "--rounds",
        help="comma-separated round ids; the first is the mailbox's default (default r1, "
        "or with --scenario all of its rounds)",
    )
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
        help="token secret (API tokens, mailbox AUTH passwords); created (0600) if missing",
    )
    limits = parser.add_argument_group("mailbox limits")
    limits.add_argument(
        "--command-timeout",
        type=float,
        default=ServerSpec.command_timeout,
        help="seconds a client has to send each command line (default %(default)s)",
    )
    limits.add_argument(
        "--data-timeout",
        type=float,
        default=ServerSpec.data_timeout,
        help="seconds a client has for the whole of one DATA (default %(default)s)",
    )
    limits.add_argument(
        "--max-sessions-per-client",
        type=int,
        default=ServerSpec.max_sessions_per_client,
        help="open SMTP sessions per client IP address (default %(default)s)",
    )
    limits.add_argument(
        "--max-buffer-mb",
        type=float,
        default=ServerSpec.max_buffered_bytes / 2**20,
        help="MiB of input all SMTP sessions may hold together (default %(default)s)",
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
    if args.scenario is not None:
        collections, rules, sender = from_scenario(args.scenario, args.rounds)
    else:
        rules = {r: ContentRules() for r in _round_ids(args.rounds or "r1")}
        collections, sender = default_collections(), ServerSpec.broadcast_sender
    secret = load_or_create_secret(args.secret_file)
    if args.max_sessions_per_client < 1:
        raise InputError(
            "--max-sessions-per-client", "sessions", args.max_sessions_per_client, "must be >= 1"
        )
    return ServerSpec(
        kind=args.kind,
        store_path=args.store,
        rules_by_round=rules,
        workforce_path=args.workforce,
        collections=collections,
        host=args.host,
        port=args.port,
        allow_remote=args.allow_remote,
        secret=secret,
        policy=_policy(args),
        time_scale=_positive(args.time_scale, "--time-scale"),
        broadcast_sender=sender,
        sync=args.sync,
        command_timeout=_positive(args.command_timeout, "--command-timeout"),
        data_timeout=_positive(args.data_timeout, "--data-timeout"),
        max_sessions_per_client=args.max_sessions_per_client,
        max_buffered_bytes=_buffer_bytes(args.max_buffer_mb),
    )


def _round_ids(text: str) -> list[str]:
    rounds = [r.strip() for r in text.split(",") if r.strip()]
    if not rounds:
        raise InputError("--rounds", "rounds", text, "must name at least one round")
    return rounds


def from_scenario(
    path: str, rounds: str | None
) -> tuple[list[Collection], dict[str, ContentRules], str]:
    """Collections (with their own rules), rules by round and the broadcast sender."""
    from simulator.scenario import Scenario, load_any  # only when asked: keeps start-up lean

    scenario = load_any(path)
    if not isinstance(scenario, Scenario):
        raise InputError(
            path, "scenario.kind", "reply-all", "serve needs a mass-reply scenario with rounds"
        )
    by_id = {r.id: r for r in scenario.rounds}
    chosen = list(by_id) if rounds is None else _round_ids(rounds)
    for round_id in chosen:
        if round_id not in by_id:
            raise InputError(
                "--rounds", "rounds", round_id, f"must be rounds of {path}: {', '.join(by_id)}"
            )
    collections = [
        Collection(c.id, c.address, c.internal_to, c.rules) for c in scenario.collections
    ]
    rules = {round_id: by_id[round_id].rules for round_id in chosen}
    return collections, rules, by_id[chosen[0]].sender


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


def _buffer_bytes(megabytes: float) -> int:
    if not 0 < megabytes < 2**30:  # also refuses NaN and infinity
        raise InputError("--max-buffer-mb", "max-buffer-mb", megabytes, "must be > 0 (MiB)")
    return int(megabytes * 2**20)


def run(args: argparse.Namespace) -> int:
    spec = build_spec(args)

    def ready(running: Running) -> None:
        print(f"pulsecheck serve {running.kind}: listening on {running.url}", flush=True)
        if args.scenario is not None:
            print(f"  {describe(spec)}", flush=True)
        what = "tokens" if running.kind == "api" else "AUTH: user = agency code, password"
        print(
            f"  {what}: simulator.tokens.mint_token(secret from {args.secret_file}, agency code)",
            flush=True,
        )

    try:
        run_blocking(spec, ready)
    except OSError as err:
        print(f"pulsecheck serve: error: could not start: {err}", file=sys.stderr)
        return EXIT_FAILED
    print(f"pulsecheck serve {args.kind}: stopped; store {args.store} closed", flush=True)
    return EXIT_OK


def describe(spec: ServerSpec) -> str:
    """One line: the rounds and collections served, marking those with rules of their own."""
    own = [f"{c.id} (own rules)" if c.rules else c.id for c in spec.collections]
    return f"rounds {', '.join(spec.rules_by_round)}; collections {', '.join(own)}"
