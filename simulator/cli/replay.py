"""`pulsecheck replay`: replay a schedule open-loop against a collection system.

Theory of operation: checks every flag and input file at the boundary (loopback-only
targets unless --allow-remote, schedule and workforce columns), then runs the engine in
one process or in `--workers N`, with Ctrl-C stopping cleanly, and writes RUN_DIR:
results.parquet, latency_corrected.hlog, latency_uncorrected.hlog and replay.json.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simulator.cli import EXIT_FAILED, EXIT_OK, HelpFormatter
from simulator.validation import AUTO, InputError, finite_float, speedup_arg

if TYPE_CHECKING:
    from simulator.replay.engine import ReplayOptions
    from simulator.replay.metrics import MetricsOptions
    from simulator.replay.tls import TlsOptions
    from simulator.replay.verify import VerifySpec

EPILOG = """\
examples:
  pulsecheck replay s.parquet --workforce wf.parquet \\
      --target smtp://127.0.0.1:2525 --speedup 2000 --out reports/run1
  pulsecheck replay s.parquet --workforce wf.parquet \\
      --scenario scenarios/opm-weekly.toml --token-secret api.secret \\
      --target http://127.0.0.1:8080/replies --speedup 2000 --out reports/run2
  pulsecheck replay s.parquet --workforce wf.parquet \\
      --target https://localhost:8443/replies --ca-file ca.pem \\
      --client-cert client.pem --client-key client.key --out reports/run3
  pulsecheck replay s.parquet --workforce wf.parquet \\
      --target http://127.0.0.1:9000/ --speedup 2000 --out reports/run4 \\
      --request scenarios/templates/hr-intake.toml
  pulsecheck replay s.parquet --workforce wf.parquet \\
      --target smtp://127.0.0.1:587 --smtp-tls starttls --ca-file ca.pem \\
      --smtp-user loadtest --smtp-password-file smtp.pw --out reports/run5
  pulsecheck replay s.parquet --workforce wf.parquet \\
      --target smtp://127.0.0.1:2525 --speedup 2000 --out reports/run6 \\
      --verify imap://hr@opm.example@127.0.0.1:1143/INBOX \\
      --verify-password-file hr.pass
  pulsecheck replay s.parquet --workforce wf.parquet \\
      --target smtp://127.0.0.1:2525 --speedup 2000 --out reports/run7 \\
      --metrics-port 9464
  pulsecheck replay s.parquet --workforce wf.parquet \\
      --target smtp://127.0.0.1:2525 --speedup auto --out reports/run8
  pulsecheck replay s.parquet --workforce wf.parquet \\
      --target smtp://127.0.0.1:2525 --window busiest:15m --out reports/run9

The targets run first: `pulsecheck serve mailbox --store store.db --workforce wf.parquet
--port 2525`, and `pulsecheck serve api --store api.db --workforce wf.parquet --port 8080
--secret-file api.secret --scenario scenarios/opm-weekly.toml`, whose secret gives each
request its agency's bearer token. --speedup 2000 plays a 55-hour window in 99 s.

--speedup auto first probes the target for at most 15 s (closed loop, 1, 4, 16 then 64
connections, each step at most 5,000 of the schedule's first events under a content
seed of its own, so a store check by the run's seed skips them), then picks the highest
speedup whose busiest second of intended time fits under --auto-headroom (0.7) of the
best measured rate; replay.json records the probe and the choice as speedup_auto.

An https:// target is verified against the system's trust store, or --ca-file; its
certificate must name the URL's host (or --tls-server-name). One probe connection checks
the handshake before any load is sent. --client-cert (and --client-key) is for servers
that require mutual TLS.

--request FILE shapes each request for your own endpoint: a TOML file with [request]
(method, path, headers, a json, form or multipart body with {placeholders}), [response]
(which statuses acknowledge, mean duplicate, refuse or are retried) and [auth] (bearer,
agency_tokens, basic or header, each secret from a file or an environment variable).

Against your own submission server, --smtp-tls starttls upgrades each connection (its
certificate verified as for https, --ca-file included) and --smtp-user with
--smtp-password-file (or --smtp-password-env) logs in (AUTH PLAIN, else LOGIN);
--smtp-credentials FILE gives senders their own accounts. One probe connection checks
TLS and the login before any load is sent.

--metrics-port N serves live Prometheus metrics on http://127.0.0.1:N/metrics during
the replay (sent, acknowledged, late, failed and dropped by reason, in flight, corrected
and uncorrected latency histograms) and for --metrics-linger seconds after it; a single
process only (--workers 1).

With --scenario, the collection addresses and the thresholds come from the scenario the
schedule was built from; the summary then carries a verdict and a failed check exits 99.

With --verify imap://USER@127.0.0.1:PORT/MAILBOX the mailbox is logged into before the
replay and read back after it: every acknowledged event addressed to the mailbox's
address (the user, or --verify-address) must be there exactly once, else the run fails
(exit 1). The password comes from a file or an environment variable, never a flag.
"""


def add_parser(sub: argparse._SubParsersAction[Any]) -> None:
    parser = sub.add_parser(
        "replay",
        help="Replay a schedule open-loop against a collection system.",
        description="Send every scheduled event at its intended time (compressed by "
        "--speedup), measure latency from that time (wrk2 style) and from the actual send, "
        "and write RUN_DIR/results.parquet, *.hlog and replay.json.",
        epilog=EPILOG,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("schedule", type=Path, help="schedule Parquet (pulsecheck schedule)")
    parser.add_argument("--workforce", type=Path, required=True, help="workforce Parquet")
    parser.add_argument(
        "--target",
        required=True,
        help="http(s)://127.0.0.1:PORT/PATH or smtp://127.0.0.1:PORT",
    )
    parser.add_argument("--out", type=Path, required=True, help="run directory to write")
    parser.add_argument(
        "--speedup",
        type=speedup_arg,
        default=1.0,
        help="time compression (>0), or auto: the highest the target keeps up with, "
        "from a short capacity probe",
    )
    parser.add_argument(
        "--auto-headroom",
        type=finite_float,
        default=None,
        help="with --speedup auto: share of the measured capacity the busiest second "
        "may use (0..1, default 0.7)",
    )
    parser.add_argument("--max-events", type=int, default=None, help="replay only the first N")
    parser.add_argument(
        "--window",
        default=None,
        help="replay only the events whose intended time falls in it: busiest:DURATION "
        "(e.g. busiest:15m, busiest:2h30m) or FROM/TO in the scenario's time zone "
        "(e.g. 2025-02-24T06:00/2025-02-24T09:00; UTC without --scenario)",
    )
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
    parser.add_argument(
        "--scenario",
        type=Path,
        default=None,
        help="scenario the schedule was built from: its collection addresses and thresholds",
    )
    parser.add_argument(
        "--request",
        type=Path,
        default=None,
        metavar="FILE",
        help="request template TOML ([request], [response], [auth]) for your own endpoint",
    )
    parser.add_argument("--http-client", choices=("fast", "aiohttp"), default="fast")
    add_tls_flags(parser)
    add_smtp_arguments(parser)
    parser.add_argument("--allow-remote", action="store_true", help="allow non-loopback targets")
    parser.add_argument("--no-live", action="store_true", help="no live view or status lines")
    add_verify_flags(parser)
    add_metrics_flags(parser)
    parser.set_defaults(func=run)


def add_metrics_flags(parser: argparse.ArgumentParser) -> None:
    """The flags of a replay's live Prometheus metrics."""
    group = parser.add_argument_group("live metrics (Prometheus)")
    group.add_argument(
        "--metrics-port",
        type=int,
        metavar="N",
        help="serve /metrics on this port during the replay",
    )
    group.add_argument(
        "--metrics-host",
        default="127.0.0.1",
        metavar="HOST",
        help="address to serve on (loopback unless --allow-remote)",
    )
    group.add_argument(
        "--metrics-linger",
        type=finite_float,
        default=5.0,
        metavar="S",
        help="seconds to keep serving the final counts after the replay (default 5)",
    )


def metrics_from(args: argparse.Namespace) -> MetricsOptions | None:
    """The metrics flags as `MetricsOptions` (None without --metrics-port), checked."""
    from simulator.replay.metrics import MetricsOptions
    from simulator.safety import check_host

    if args.metrics_port is None:
        return None
    if not 1 <= args.metrics_port <= 65535:
        raise InputError("command line", "--metrics-port", args.metrics_port, "must be 1..65535")
    if not 0 <= args.metrics_linger <= 3600:
        raise InputError(
            "command line", "--metrics-linger", args.metrics_linger, "must be 0..3600 seconds"
        )
    check_host(args.metrics_host, args.allow_remote, "--metrics-host")
    return MetricsOptions(
        port=args.metrics_port,
        host=args.metrics_host,
        linger_s=args.metrics_linger,
        allow_remote=args.allow_remote,
    )


def say_metrics(metrics: MetricsOptions | None) -> None:
    if metrics is not None:
        host = f"[{metrics.host}]" if ":" in metrics.host else metrics.host
        print(
            f"metrics: http://{host}:{metrics.port}/metrics "
            f"(during the replay and {metrics.linger_s:g} s after)",
            file=sys.stderr,
        )


def add_tls_flags(parser: argparse.ArgumentParser) -> None:
    """The TLS flags of every command that sends load to a target URL."""
    group = parser.add_argument_group("TLS (https://, smtps:// and STARTTLS targets)")
    group.add_argument(
        "--ca-file", type=Path, help="PEM file of the CA(s) to trust instead of the system's"
    )
    group.add_argument("--client-cert", type=Path, help="client certificate (PEM) for mutual TLS")
    group.add_argument(
        "--client-key", type=Path, help="its private key (PEM), unless in --client-cert"
    )
    group.add_argument(
        "--tls-server-name", help="name to send as SNI and verify (default: the URL's host)"
    )


def tls_from(args: argparse.Namespace) -> TlsOptions:
    """The TLS flags as `TlsOptions` (checked where the target is: `check_connection`)."""
    from simulator.replay.tls import TlsOptions

    return TlsOptions(
        ca_file=args.ca_file,
        cert_file=args.client_cert,
        key_file=args.client_key,
        server_name=args.tls_server_name,
    )


def add_smtp_arguments(parser: argparse.ArgumentParser, default_tls: str | None = "none") -> None:
    """The flags of an SMTP submission target: TLS and accounts (passwords from files or
    environment variables only, never from the command line)."""
    group = parser.add_argument_group("SMTP submission (smtp:// or smtps:// targets)")
    group.add_argument(
        "--smtp-tls",
        choices=("none", "starttls", "implicit"),
        default=default_tls,
        help="STARTTLS on smtp://, or TLS from the first byte (smtps:// always is)",
    )
    group.add_argument("--smtp-user", help="the submission account every message logs in as")
    group.add_argument("--smtp-password-file", type=Path, help="file holding its password")
    group.add_argument("--smtp-password-env", metavar="NAME", help="variable holding it")
    group.add_argument(
        "--smtp-credentials",
        type=Path,
        metavar="FILE",
        help="per-sender accounts (CSV sender,user,password or TOML); senders it does not "
        "name log in as --smtp-user, and without --smtp-user they are refused before load",
    )


def smtp_auth_from(args: argparse.Namespace) -> Any:
    """The accounts the SMTP flags name (an `SmtpAuth`), or None."""
    from simulator.replay.smtp_auth import SmtpAuth

    auth = SmtpAuth(
        user=args.smtp_user,
        password_file=args.smtp_password_file,
        password_env=args.smtp_password_env,
        credentials=args.smtp_credentials,
    )
    return auth if auth.given else None


def add_verify_flags(parser: argparse.ArgumentParser) -> None:
    """The read-back flags `replay` and `run` share."""
    group = parser.add_argument_group("read-back of a mailbox (any IMAP server)")
    group.add_argument(
        "--verify",
        metavar="URL",
        help="after the replay, read imap(s)://USER@HOST:PORT/MAILBOX back: lost, duplicates",
    )
    group.add_argument(
        "--verify-password-file", type=Path, metavar="FILE", help="file holding the password"
    )
    group.add_argument(
        "--verify-password-env", metavar="NAME", help="environment variable holding it"
    )
    group.add_argument(
        "--verify-address", help="address the mailbox receives (default: USER, if an address)"
    )
    group.add_argument(
        "--verify-ca-file",
        type=Path,
        metavar="PEM",
        help="CA to trust for IMAP TLS (default --ca-file)",
    )
    group.add_argument(
        "--verify-wait",
        type=finite_float,
        default=None,
        metavar="S",
        help="seconds to wait for deliveries after the replay (default 30)",
    )


def verify_from(args: argparse.Namespace) -> VerifySpec | None:
    """The read-back the flags ask for, checked (URL, loopback, password), or None."""
    from simulator.replay.tls import TlsOptions
    from simulator.replay.verify import VerifySpec, check_spec

    named = [f for f in VERIFY_FLAGS if getattr(args, f[2:].replace("-", "_")) is not None]
    if args.verify is None:
        if named:
            raise InputError("command line", named[0], "(given)", "needs --verify URL")
        return None
    wait = 30.0 if args.verify_wait is None else args.verify_wait
    if not 0 <= wait <= 3600:
        raise InputError("command line", "--verify-wait", wait, "must be 0..3600 seconds")
    spec = VerifySpec(
        url=args.verify,
        password_file=args.verify_password_file,
        password_env=args.verify_password_env,
        address=args.verify_address,
        tls=TlsOptions(ca_file=args.verify_ca_file or getattr(args, "ca_file", None)),
        allow_remote=args.allow_remote,
        timeout_s=getattr(args, "timeout", None) or 30.0,
        wait_s=wait,
    )
    check_spec(spec)
    return spec


VERIFY_FLAGS = (
    "--verify-password-file",
    "--verify-password-env",
    "--verify-address",
    "--verify-ca-file",
    "--verify-wait",
)


def _positive(name: str, value: float | None, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if value is None or not value > 0 or value == float("inf"):
        raise InputError("command line", name, value, "must be a finite number > 0")


def check_args(args: argparse.Namespace) -> None:
    """Validate the flags that need no file."""
    from simulator.replay.targets import parse_target
    from simulator.safety import check_target

    parse_target(args.target)
    check_target(args.target, args.allow_remote, "--target")
    if args.speedup != AUTO:
        _positive("--speedup", args.speedup)
    auto_headroom(args.speedup, args.auto_headroom)
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


def auto_headroom(speedup: float | str | None, headroom: float | None) -> float | None:
    """The headroom of --speedup auto (None without auto), checked."""
    from simulator.traffic.autospeed import AUTO_HEADROOM

    if speedup != AUTO:
        if headroom is not None:
            raise InputError("command line", "--auto-headroom", headroom, "needs --speedup auto")
        return None
    if headroom is None:
        return AUTO_HEADROOM
    if not 0 < headroom <= 1:
        raise InputError("command line", "--auto-headroom", headroom, "must be in (0, 1]")
    return headroom


def template_from(args: argparse.Namespace) -> dict[str, Any]:
    """TargetOptions fields of a --request file: its tables, checked now."""
    if args.request is None:
        return {}
    from simulator.traffic.request import compile_template
    from simulator.validation import load_toml

    if not args.target.startswith(("http://", "https://")):
        raise InputError("command line", "--request", str(args.request), "needs an http(s) target")
    tables = load_toml(args.request)
    compile_template(tables, str(args.request), "", args.request.parent)
    return {"template": tables, "template_source": str(args.request)}


def collections_from(args: argparse.Namespace, scenario: Any) -> dict[str, str]:
    """Collection id -> address: the scenario's (or the defaults), then each --collection."""
    from simulator.collections import default_collections

    source = default_collections() if scenario is None else scenario.collections
    collections = {c.id: c.address for c in source}
    for item in args.collection:
        cid, sep, address = item.partition("=")
        if not sep or "@" not in address:
            raise InputError("command line", "--collection", item, "must be ID=user@host.example")
        collections[cid] = address
    return collections


def options_from(args: argparse.Namespace, scenario: Any) -> ReplayOptions:
    """Replay options from the flags; the content seed and HTML share default to the
    schedule manifest's, so the bodies sent are the ones whose sizes the schedule holds."""
    from simulator.replay.engine import ReplayOptions
    from simulator.schedule.io import read_rendering

    rendering = read_rendering(args.schedule)
    seed = rendering.seed if args.seed is None else args.seed
    html = rendering.html_share if args.html_share is None else args.html_share
    sender = {} if scenario is None else {"broadcast_sender": scenario.rounds[0].sender}
    return ReplayOptions(
        speedup=1.0 if args.speedup == AUTO else args.speedup,  # auto: chosen after a probe
        concurrency=args.concurrency,
        max_events=args.max_events,
        max_duration_s=args.max_duration,
        retries=args.retries,
        collections=collections_from(args, scenario),
        seed=seed,
        html_share=html,
        **sender,
    )


def run(args: argparse.Namespace) -> int:
    from simulator.app.replaying import AutoSpeedup, ReplayRequest, timezone_of
    from simulator.replay.targets import TargetOptions
    from simulator.scenario import load_scenario
    from simulator.schedule.window import check_spec

    check_args(args)
    headroom = auto_headroom(args.speedup, args.auto_headroom)
    verify = verify_from(args)
    scenario = None if args.scenario is None else load_scenario(args.scenario)
    if args.window is not None:
        check_spec(args.window, timezone_of(scenario))
    metrics = metrics_from(args)
    request = ReplayRequest(
        schedule=args.schedule,
        workforce=args.workforce,
        target=args.target,
        out=args.out,
        options=options_from(args, scenario),
        workers=args.workers,
        connection=TargetOptions(
            timeout_s=args.timeout,
            fast_http=args.http_client == "fast",
            token_secret=args.token_secret,
            allow_remote=args.allow_remote,
            tls=tls_from(args),
            **template_from(args),
            smtp_tls=args.smtp_tls,
            smtp_auth=smtp_auth_from(args),
        ),
        verify=verify,
        metrics=metrics,
        auto=None if headroom is None else AutoSpeedup(headroom),
        window=args.window,
        timezone=timezone_of(scenario),
    )
    say_metrics(metrics)
    from rich.console import Console

    from simulator.app.replaying import replay_watched
    from simulator.cli.run import live_factory

    live = None if args.no_live else live_factory(Console(stderr=True))
    done = replay_watched(request, live, timezone_of(scenario))
    summary, check = done.summary, done.store_check
    from simulator.report.lines import fitted

    _print_summary(summary, args.out)
    if check is not None:
        print(
            fitted(
                f"store ({check.source}): {check.stored:,} of {check.acknowledged:,} "
                f"acknowledged events addressed to it stored, {check.missing:,} lost, "
                f"{check.duplicates:,} duplicated, {check.extra_rows:,} messages unaccounted for"
            )
        )
    if summary["events"] and not summary["acknowledged"]:
        print("replay failed: the target acknowledged nothing", file=sys.stderr)
        return EXIT_FAILED
    code = EXIT_OK
    if scenario is None:
        print("verdict: no thresholds set (give --scenario to check the scenario's)")
    else:
        code = _verdict(args.out, scenario, check)
    if check is not None and (check.missing or check.duplicates):
        print(
            fitted(
                f"replay failed: {check.missing:,} acknowledged events lost and "
                f"{check.duplicates:,} stored more than once in {check.source}"
            ),
            file=sys.stderr,
        )
        return EXIT_FAILED
    return code


def _verdict(out: Path, scenario: Any, check: Any = None) -> int:
    """The scenario's thresholds against the run: summary.json and the one-line verdict."""
    import dataclasses
    import json

    from simulator.cli.report import print_verdict
    from simulator.report.summary import build_summary
    from simulator.traffic.record import read_results

    summary = build_summary(
        read_results(out),
        scenario=scenario.name,
        stored=None if check is None else check.stored,
        thresholds=scenario.thresholds,
        extra=None if check is None else {"store_check": dataclasses.asdict(check)},
        lost=None if check is None else check.missing,
        duplicates=None if check is None else check.duplicates,
    )
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    return print_verdict(summary)


def _print_summary(summary: dict[str, Any], out: Path) -> None:
    from simulator.report.lines import fitted

    counts = ", ".join(f"{v:,} {k}" for k, v in summary["outcomes"].items() if v)
    lat = summary["latency_corrected_ms"]
    print(
        fitted(
            f"replayed {summary['events']:,} events to {summary['target']}: {counts}; "
            f"{summary['throughput_per_s']:,.0f}/s; latency from intended time: "
            f"p50 {lat['p50']:,.2f} ms, p99 {lat['p99']:,.2f} ms, max {lat['max']:,.2f} ms"
            + ("; INTERRUPTED" if summary.get("interrupted") else "")
        )
    )
    reasons = summary.get("errors_by_reason") or {}
    if reasons:
        top = sorted(reasons.items(), key=lambda kv: -kv[1])[:5]
        print(fitted("failure reasons: " + ", ".join(f"{k} {v:,}" for k, v in top)))
    window = summary.get("window")
    if window:
        from simulator.app.reporting import window_text

        print(fitted("window " + window_text(window)))
    print(fitted(f"wrote {out}/results.parquet, latency_*.hlog, replay.json"))
