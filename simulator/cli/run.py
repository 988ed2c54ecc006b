"""`pulsecheck run SCENARIO`: every stage end to end, then the report and the verdict."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simulator.cli import EXIT_FAILED, HelpFormatter
from simulator.cli.replay import (
    add_metrics_flags,
    add_smtp_arguments,
    add_tls_flags,
    add_verify_flags,
    metrics_from,
    say_metrics,
    smtp_auth_from,
)
from simulator.cli.report import (
    CI_HELP,
    add_junit_flag,
    ci_outputs_from,
    print_verdict,
    write_ci_outputs,
)
from simulator.report.lines import WIDTH, fit, fitted

if TYPE_CHECKING:
    from simulator.app.running import RunRequest
from simulator.validation import AUTO, finite_float, speedup_arg

EPILOG = """\
examples:
  pulsecheck run scenarios/opm-round1.toml --out reports/opm-round1
  pulsecheck run scenarios/ci-smoke.toml --protocol http --out /tmp/smoke
  pulsecheck run scenarios/ci-smoke.toml --out /tmp/smoke \\
      --junit /tmp/smoke/junit.xml
  pulsecheck run scenarios/ci-smoke.toml --target http://127.0.0.1:8080/replies
  pulsecheck run scenarios/ci-smoke.toml \\
      --target https://localhost:8443/replies --ca-file ca.pem
  pulsecheck run scenarios/replyall-1m.toml --out reports/replyall-1m
  pulsecheck run scenarios/ci-smoke.toml --target smtp://127.0.0.1:587 \\
      --smtp-tls starttls --smtp-user loadtest --smtp-password-env SMTP_PASSWORD
  pulsecheck run scenarios/ci-smoke.toml --target smtp://127.0.0.1:2525 \\
      --verify imap://hr@opm.example@127.0.0.1:1143/INBOX \\
      --verify-password-env HR_PASS
  pulsecheck run scenarios/ci-smoke.toml --metrics-port 9464 --out /tmp/smoke
  pulsecheck run scenarios/ci-smoke.toml --speedup auto --out /tmp/smoke
  pulsecheck run scenarios/ci-smoke.toml --window busiest:1h --out /tmp/peak

Against the embedded reference systems (the default, [target] kind = "embedded") the run
also reads the store back: every acknowledged reply must be in it. Against your own
endpoint ([target] kind = "http" or "smtp", or --target URL; loopback unless
--allow-remote) there is no store check unless --verify (or [target] verify) names an
IMAP mailbox it delivers into: that mailbox is read back into the same check. An https
endpoint is verified with --ca-file (else the system's trust store), --client-cert/
--client-key for mutual TLS, or the scenario's [target.tls] table (ca_file, cert_file,
key_file, server_name). An SMTP server's TLS and submission account come from
--smtp-tls and --smtp-user (or [target] smtp_tls and [target.smtp_auth]). A reply-all
scenario runs the storm model on the full list, then replays a scaled-down storm against
the reference SMTP mailbox.

--speedup auto probes the target for at most 15 s before the replay (closed loop, 1 to
64 connections; the embedded system in a throwaway store of its own) and picks the
highest speedup whose busiest second fits under --auto-headroom (0.7) of the measured
capacity; the summary and run.json (speedup_auto) give the capacity, the peak intended
rate and the choice.

The run directory holds every stage's file: workforce.parquet, schedule.parquet,
results.parquet, latency histograms, run.json, summary.json and report.html.
Exit codes: 0 thresholds passed (or none set), 1 the run failed (the target acknowledged
nothing, or an acknowledged reply was lost), 2 bad input, 99 a threshold failed.
"""


def add_parser(sub: argparse._SubParsersAction[Any]) -> None:
    parser = sub.add_parser(
        "run",
        help="Run every stage end to end against a collection system.",
        description="Build the workforce and the schedule, replay the broadcast and the reply "
        "storm open-loop against the scenario's collection system (the embedded reference "
        "systems, or your own endpoint), check that every acknowledged message is stored, "
        "estimate the cost, and write the report. Scale and speedup default to the scenario's.",
        epilog=EPILOG + CI_HELP,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("scenario", type=Path, metavar="SCENARIO", help="scenario TOML file")
    parser.add_argument(
        "--scale", type=finite_float, help="multiple of the 2.3M workforce (0 < S <= 10)"
    )
    parser.add_argument(
        "--speedup",
        type=speedup_arg,
        help="time compression of the replay (> 0), or auto: the highest the target keeps "
        "up with, from a short capacity probe",
    )
    parser.add_argument(
        "--auto-headroom",
        type=finite_float,
        help="with --speedup auto: share of the measured capacity the busiest second may "
        "use (0..1, default 0.7)",
    )
    parser.add_argument("--out", type=Path, help="run directory (default reports/<scenario>)")
    parser.add_argument(
        "--window",
        help="replay only the events whose intended time falls in it: busiest:DURATION "
        "(e.g. busiest:15m, busiest:2h30m) or FROM/TO in the scenario's time zone "
        "(e.g. 2025-02-24T06:00/2025-02-24T09:00); cost and capacity still cover the round",
    )
    parser.add_argument(
        "--protocol", choices=("smtp", "http"), help="embedded system: SMTP mailbox or HTTP API"
    )
    parser.add_argument("--target", help="your endpoint: http://HOST:PORT/PATH or smtp://HOST:PORT")
    parser.add_argument("--allow-remote", action="store_true", help="allow a non-loopback target")
    parser.add_argument("--workers", type=int, help="replay processes (default [replay] workers)")
    add_tls_flags(parser)
    add_smtp_arguments(parser, default_tls=None)
    add_verify_flags(parser)
    add_junit_flag(parser)
    add_metrics_flags(parser)
    parser.set_defaults(func=run)


def request_from(args: argparse.Namespace) -> RunRequest:
    from simulator.app.running import RunRequest
    from simulator.cli.replay import auto_headroom

    return RunRequest(
        scenario=args.scenario,
        out=args.out,
        scale=args.scale,
        speedup=None if args.speedup == AUTO else args.speedup,
        auto_headroom=auto_headroom(args.speedup, args.auto_headroom),
        protocol=args.protocol,
        target=args.target,
        allow_remote=args.allow_remote,
        workers=args.workers,
        ca_file=args.ca_file,
        client_cert=args.client_cert,
        client_key=args.client_key,
        tls_server_name=args.tls_server_name,
        smtp_tls=args.smtp_tls,
        smtp_auth=smtp_auth_from(args),
        verify=args.verify,
        verify_password_file=args.verify_password_file,
        verify_password_env=args.verify_password_env,
        verify_address=args.verify_address,
        verify_ca_file=args.verify_ca_file,
        verify_wait=args.verify_wait,
        metrics=metrics_from(args),
        window=args.window,
    )


def say_to(console: Any) -> Callable[[str], None]:
    """Print one line as given: no markup, no highlighting, no wrapping by rich (the
    lines are already broken at phrase boundaries to fit)."""

    def say(text: str) -> None:
        for line in fit(text, min(console.width, WIDTH)):
            console.print(line, markup=False, highlight=False, soft_wrap=True)

    return say


def live_factory(console: Any) -> Any:
    """Displays for a replay on `console`: a live table on a terminal, else status lines."""
    from simulator.replay.live import LiveDisplay

    def make(clock: Any, limit_s: float | None, late_after_ms: float) -> LiveDisplay:
        return LiveDisplay(console, clock, limit_s, late_after_ms)

    return make


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from simulator.app.running import run as run_all

    console = Console(stderr=True)
    say = say_to(console)
    request = request_from(args)
    outputs = ci_outputs_from(args, args.out)
    say(f"pulsecheck run {args.scenario}")
    say_metrics(request.metrics)
    result = run_all(request, say, live_factory(console))
    summary, record = result.report.summary, result.record
    check = record.store_check
    if record.run.window is not None:
        from simulator.app.reporting import window_text

        say("window " + window_text(record.run.window))
    if check is not None:
        say(
            f"store ({check.source}): {check.stored:,} of {check.acknowledged:,} acknowledged "
            f"events stored, {check.missing:,} lost, {check.duplicates:,} duplicated, "
            f"{check.extra_rows:,} rows unaccounted for"
        )
    if record.cost is not None:
        first = next(iter(record.cost["estimate"]["rounds"]))
        total = record.cost["estimate"]["rounds"][first]["total"]
        say(
            f"cost of round {first} at scale {record.cost['inputs']['priced_scale']:g}: "
            f"P10 ${total['p10']:,.0f}, P50 ${total['p50']:,.0f}, P90 ${total['p90']:,.0f}"
        )
    say(f"report: {result.report.page} ({record.run.wall_s:,.0f} s in all)")
    write_ci_outputs(summary, outputs)
    code = print_verdict(summary)
    if result.failure:
        text = fitted(f"run failed: {result.failure}", min(console.width, WIDTH))
        console.print(text, style="red", markup=False, highlight=False, soft_wrap=True)
        return EXIT_FAILED
    return code
