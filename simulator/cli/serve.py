"""`pulsecheck serve`: run a reference collection system (HTTP API or SMTP mailbox) on loopback.

Theory of operation: flags are checked here and turned into a `ServerSpec`; the server
itself lives in `simulator.collect`. It prints its address once listening and runs until
SIGTERM or Ctrl-C, then drains in-flight writes, commits them and closes the store.
With `--scenario S.toml` the collections (ids, addresses, internal_to), the rounds and
the content rules (each round's, and each collection's own on top) come from the
scenario, as `pulsecheck run` sets them; without it, the default collections and
default rules for the `--rounds` given.
Both servers read `--secret-file` and `--revoked-file`: the API's bearer tokens and the
mailbox's SMTP AUTH passwords are the same tokens. The mailbox's time limits,
per-address session cap and input buffer budget have flags of their own.

`serve token` mints an API bearer token (agency, fresh key id, expiry `--ttl`) from the
secret file and prints it; `serve revoke` adds a token's key id to the revocation file
the API re-reads on every change (`--revoked-file`, the same default for both), so one
token stops working at once without a restart and without touching the others.

With `--key-file K` reply subjects, cc lists and bodies are stored encrypted under
per-agency keys derived from K (created 0600 when missing); `--retain-days N` purges
them N days after receipt (see collect/README.md).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simulator.cli import EXIT_FAILED, EXIT_OK, HelpFormatter
from simulator.collections import Collection, default_collections
from simulator.rules import ContentRules
from simulator.tokens import (
    DEFAULT_TTL_S,
    MAX_TTL_S,
    RevocationList,
    kid_of,
    load_or_create_secret,
    mint_token,
    revoke,
)
from simulator.validation import InputError, finite_float

if TYPE_CHECKING:  # the servers (aiohttp, cryptography) load on use: `--help` stays light
    from simulator.collect.policy import Policy
    from simulator.collect.servers import Running, ServerSpec

DEFAULT_READ_TIMEOUT_S = 30.0  # as simulator.collect.api.DEFAULT_READ_TIMEOUT_S (tests/cli)


class SpecDefaults:
    """ServerSpec's defaults for the flags, here so `--help` needs no aiohttp (tests/cli)."""

    command_timeout = 300.0
    data_timeout = 600.0
    max_sessions_per_client = 500
    max_buffered_bytes = 64 * 2**20


POLICIES = ("none", "exchange")
KINDS = ("api", "mailbox", "token", "revoke")
DEFAULT_REVOKED_FILE = ".pulsecheck-revoked"
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}

EPILOG = """\
examples:
  pulsecheck serve mailbox --store store.db --workforce wf.parquet --port 2525
  pulsecheck serve mailbox --store store.db --workforce wf.parquet --port 2525 \\
      --key-file store.key --scenario scenarios/opm-weekly.toml

A server, a token for DHS, a read with it, then that token revoked:
  pulsecheck serve api --store replies.db --workforce wf.parquet --port 8080 &
  TOKEN=$(pulsecheck serve token --agency DHS --ttl 8h)
  curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8080/counts
  pulsecheck serve revoke --token "$TOKEN"  # its next read: 401 token revoked

Tokens read AGENCY.KID.EXPIRY.MAC, signed with the secret in --secret-file (the server
and `serve token` must use the same file). `serve revoke` adds the key id to
--revoked-file, which the API re-reads when it changes; an expired or revoked token is
answered 401 with a reason naming which.
"""


def add_parser(sub: argparse._SubParsersAction[Any]) -> None:
    parser = sub.add_parser(
        "serve",
        help="Run a reference collection system (HTTP API or SMTP mailbox) on loopback.",
        description="Run a reference collection system (HTTP API or SMTP mailbox) on "
        "loopback. It prints its address, and on SIGTERM drains, flushes and closes. "
        "`serve token` mints an API bearer token; `serve revoke` revokes one.",
        epilog=EPILOG,
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "kind",
        choices=KINDS,
        help="api or mailbox: run that server; token: print a bearer token; revoke: revoke one",
    )
    parser.add_argument("--store", help="SQLite store file (created if missing); api, mailbox")
    parser.add_argument("--workforce", help="workforce Parquet (email, department); api, mailbox")
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
        type=finite_float,
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
        type=finite_float,
        default=SpecDefaults.command_timeout,
        help="seconds a client has to send each command line (default %(default)s)",
    )
    limits.add_argument(
        "--data-timeout",
        type=finite_float,
        default=SpecDefaults.data_timeout,
        help="seconds a client has for the whole of one DATA (default %(default)s)",
    )
    limits.add_argument(
        "--max-sessions-per-client",
        type=int,
        default=SpecDefaults.max_sessions_per_client,
        help="open SMTP sessions per client IP address (default %(default)s)",
    )
    limits.add_argument(
        "--max-buffer-mb",
        type=finite_float,
        default=SpecDefaults.max_buffered_bytes / 2**20,
        help="MiB of input all SMTP sessions may hold together (default %(default)s)",
    )
    parser.add_argument(
        "--sync",
        choices=("full", "normal"),
        default="full",
        help="SQLite fsync discipline (full survives power loss)",
    )
    parser.add_argument(
        "--key-file",
        help="store master key: encrypt reply subject, cc and body per agency with keys "
        "derived from it (created 0600 if missing); without it replies are stored in plaintext",
    )
    parser.add_argument(
        "--retain-days",
        type=finite_float,
        help="purge reply subject, cc and body this many days after receipt (rows and "
        "counts stay; each purge is audited)",
    )
    parser.add_argument(
        "--read-timeout",
        type=finite_float,
        default=DEFAULT_READ_TIMEOUT_S,
        help="api: seconds a client has to send a request head (and, after it, the body); "
        f"slower connections are closed (default {DEFAULT_READ_TIMEOUT_S:g})",
    )
    parser.add_argument(
        "--revoked-file",
        default=DEFAULT_REVOKED_FILE,
        help="api, mailbox, revoke: revoked token key ids, one per line; the servers re-read "
        f"it when it changes; missing = none revoked (default {DEFAULT_REVOKED_FILE})",
    )
    tokens = parser.add_argument_group("token and revoke")
    tokens.add_argument("--agency", help="token: the agency (department code) it speaks for")
    tokens.add_argument(
        "--ttl",
        default=f"{DEFAULT_TTL_S // 3600}h",
        help="token: lifetime, e.g. 90s, 30m, 8h, 2d (default %(default)s)",
    )
    tokens.add_argument("--kid", help="revoke: the key id to revoke (a token's second field)")
    tokens.add_argument("--token", help="revoke: the token to revoke (its key id is listed)")
    parser.set_defaults(func=run)


def build_spec(args: argparse.Namespace) -> ServerSpec:
    from simulator.collect.servers import ServerSpec, check_bind
    from simulator.collect.vault import load_or_create_key

    for flag, value in (("--store", args.store), ("--workforce", args.workforce)):
        if value is None:
            raise InputError(flag, flag.lstrip("-"), None, f"is required for serve {args.kind}")
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
    secret = load_or_create_secret(args.secret_file)  # API tokens, mailbox AUTH passwords
    revoked = _revoked_file(args.revoked_file)
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
        read_timeout_s=_positive(args.read_timeout, "--read-timeout"),
        revoked_path=revoked,
        store_key=None if args.key_file is None else load_or_create_key(args.key_file),
        retain_days=None
        if args.retain_days is None
        else _positive(args.retain_days, "--retain-days"),
    )


def _revoked_file(path: str) -> str:
    """The revocation file, checked now so a bad one stops start-up (exit 2)."""
    try:
        RevocationList(path)
    except (OSError, ValueError) as err:
        raise InputError(path, "--revoked-file", path, str(err)) from None
    return path


def parse_ttl(text: str) -> int:
    """A lifetime such as 90s, 30m, 8h or 2d (plain numbers are seconds), in seconds."""
    value = text.strip().lower()
    unit = _UNITS.get(value[-1:], 0)
    number = value[:-1] if unit else value
    scale = unit or 1
    if not number.isdigit() or not 0 < int(number) * scale <= MAX_TTL_S:
        raise InputError(
            "--ttl", "ttl", text, f"must be like 90s, 30m, 8h or 2d, at most {MAX_TTL_S // 86400}d"
        )
    return int(number) * scale


def run_token(args: argparse.Namespace) -> int:
    """Print a bearer token for `--agency`, valid for `--ttl`."""
    if not args.agency:
        raise InputError("--agency", "agency", args.agency, "is required for serve token")
    ttl = parse_ttl(args.ttl)
    try:
        secret = load_or_create_secret(args.secret_file)
    except (OSError, ValueError) as err:
        raise InputError(args.secret_file, "--secret-file", args.secret_file, str(err)) from None
    try:
        token = mint_token(secret, args.agency, ttl_s=ttl)
    except ValueError as err:
        raise InputError("--agency", "agency", args.agency, str(err)) from None
    agency, kid, expires, _ = token.split(".")
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(expires)))
    print(token, flush=True)
    print(f"pulsecheck serve token: {agency}, key id {kid}, expires {stamp}", file=sys.stderr)
    return EXIT_OK


def run_revoke(args: argparse.Namespace) -> int:
    """Add a key id (given, or taken from `--token`) to the revocation file."""
    if (args.kid is None) == (args.token is None):
        raise InputError("--kid", "kid", args.kid, "give exactly one of --kid or --token")
    try:
        kid = args.kid if args.token is None else kid_of(args.token)
    except ValueError as err:
        raise InputError("--token", "token", "(not shown)", str(err)) from None
    try:
        added = revoke(args.revoked_file, kid)
    except ValueError as err:
        raise InputError(args.revoked_file, "--kid", kid, str(err)) from None
    state = "revoked" if added else "already revoked"
    print(f"pulsecheck serve revoke: key id {kid} {state} in {args.revoked_file}", flush=True)
    return EXIT_OK


def _round_ids(text: str) -> list[str]:
    rounds = [r.strip() for r in text.split(",") if r.strip()]
    if not rounds:
        raise InputError("--rounds", "rounds", text, "must name at least one round")
    return rounds


def from_scenario(
    path: str, rounds: str | None
) -> tuple[list[Collection], dict[str, ContentRules], str]:
    """Collections (with their own rules), rules by round and the broadcast sender."""
    from simulator.app.scenarios import load_any  # only when asked: keeps start-up lean
    from simulator.app.serving import served_scenario
    from simulator.scenario import Scenario

    scenario = load_any(path)
    if not isinstance(scenario, Scenario):
        raise InputError(
            path, "scenario.kind", "reply-all", "serve needs a mass-reply scenario with rounds"
        )
    served = served_scenario(scenario, None if rounds is None else _round_ids(rounds))
    return served.collections, served.rules_by_round, served.broadcast_sender


def _policy(args: argparse.Namespace) -> Policy:
    from simulator.collect.policy import Policy

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
    if args.kind == "token":
        return run_token(args)
    if args.kind == "revoke":
        return run_revoke(args)
    from simulator.collect.servers import run_blocking

    spec = build_spec(args)

    def ready(running: Running) -> None:
        print(f"pulsecheck serve {running.kind}: listening on {running.url}", flush=True)
        if args.scenario is not None:
            print(f"  {describe(spec)}", flush=True)
        what = "tokens" if running.kind == "api" else "AUTH: user = agency code, password"
        print(
            f"  {what}: pulsecheck serve token --agency CODE --secret-file {args.secret_file}"
            f"; revoked key ids: {args.revoked_file}",
            flush=True,
        )
        print(f"  {protection(spec, args.key_file)}", flush=True)
        if spec.store_key is None:
            print(
                "pulsecheck serve: warning: replies are stored in plaintext; give --key-file "
                "to encrypt them at rest",
                file=sys.stderr,
                flush=True,
            )

    try:
        run_blocking(spec, ready)
    except OSError as err:
        print(f"pulsecheck serve: error: could not start: {err}", file=sys.stderr)
        return EXIT_FAILED
    print(f"pulsecheck serve {args.kind}: stopped; store {args.store} closed", flush=True)
    return EXIT_OK


def protection(spec: ServerSpec, key_file: str | None) -> str:
    from simulator.collect.vault import Vault

    """One line: how the store holds reply contents."""
    if spec.store_key is None:
        at_rest = "replies in plaintext"
    else:
        fingerprint = Vault(spec.store_key).fingerprint()
        at_rest = f"replies encrypted per agency (key {key_file}, fingerprint {fingerprint})"
    if spec.retain_days is None:
        return f"{at_rest}; kept until purged (pulsecheck store purge)"
    return f"{at_rest}; contents purged {spec.retain_days:g} days after receipt"


def describe(spec: ServerSpec) -> str:
    """One line: the rounds and collections served, marking those with rules of their own."""
    own = [f"{c.id} (own rules)" if c.rules else c.id for c in spec.collections]
    return f"rounds {', '.join(spec.rules_by_round)}; collections {', '.join(own)}"
