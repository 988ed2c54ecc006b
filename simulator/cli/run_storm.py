"""`pulsecheck run` on a reply-all scenario: the model, a replayed storm, one report.

The model runs on the full list (one seeded run, each defence side by side, the band of
100 runs). Then a scaled-down copy of the storm (`[replyall.replay]`) is replayed
open-loop against the reference SMTP mailbox in a child process, the store is checked
for every acknowledged message, and the report shows the replay's throughput and latency
beside the storm curve, the MTA backlog, the defence comparison and the backlog that
formed in the real mailbox.
"""

from __future__ import annotations

import argparse
import html
import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from rich.console import Console

from simulator.cli import EXIT_FAILED
from simulator.cli.report import report_verdict
from simulator.replyall.params import ReplyAllScenario
from simulator.validation import Fields, InputError

BAND_RUNS = 100


def _checked(args: argparse.Namespace, sc: ReplyAllScenario) -> ReplyAllScenario:
    if args.scale is not None:
        raise InputError(
            "command line",
            "--scale",
            args.scale,
            "a reply-all run is sized by [replyall] list_size and [replyall.replay] list_size",
        )
    if args.protocol not in (None, "smtp"):
        raise InputError(
            "command line", "--protocol", args.protocol, "a reply-all storm replays over smtp"
        )
    flags = Fields({k: v for k, v in vars(args).items() if v is not None}, "command line")
    speedup = flags.float("speedup", sc.replay.speedup, lo=0.0, hi=1e6, lo_open=True)
    return replace(sc, replay=replace(sc.replay, speedup=speedup))


def run_storm(args: argparse.Namespace, scenario: ReplyAllScenario) -> int:
    # The stages load on use, so `pulsecheck --help` stays fast.
    from simulator.replyall.observed import delivery_curves
    from simulator.replyall.section import (
        model_figures,
        model_parts,
        model_storm,
        replay_figures,
        replay_parts,
    )
    from simulator.replyall.storm_run import replay_storm
    from simulator.report.build import build_report
    from simulator.runner import write_meta
    from simulator.traffic.record import read_results

    sc = _checked(args, scenario)
    out: Path = args.out or Path("reports") / sc.name
    console = Console(stderr=True)
    say = console.print
    started = time.perf_counter()
    say(f"[bold]pulsecheck run[/] {sc.name}: reply-all storm on a list of {sc.list_size:,}")
    model = model_storm(sc, BAND_RUNS, sc.seed)
    p10, p50, p90 = model.band.figures["deliveries"]
    say(
        f"model: {p50:,.0f} deliveries (P10 {p10:,.0f}, P90 {p90:,.0f}) over {BAND_RUNS} runs; "
        f"ended by {model.band.ended_by} ({time.perf_counter() - started:.1f} s)"
    )
    storm = replay_storm(sc, out, sc.seed, say)
    check = storm.check
    say(
        f"store: {check.stored:,} of {check.acknowledged:,} acknowledged messages stored, "
        f"{check.missing} lost, {check.extra_rows} rows unaccounted for"
    )
    curves = delivery_curves(read_results(out), storm.events)
    say(
        f"mailbox: peak backlog {curves.peak_backlog:,.0f} deliveries, drained "
        f"{curves.drain_s():.2f} s after the peak"
    )
    meta: dict[str, Any] = {
        "scenario_name": sc.name,
        "run": {
            "scenario": sc.source,
            "list_size": sc.replay.list_size,
            "speedup": sc.replay.speedup,
            "protocol": "smtp",
            "wall_s": round(time.perf_counter() - started, 1),
        },
        "stored": check.stored,
        "store_check": check.__dict__,
        "thresholds": [t.__dict__ for t in sc.thresholds],
        "replyall": model.to_json(),
        "replyall_replay": {
            "peak_backlog": curves.peak_backlog,
            "drain_s": curves.drain_s(),
            "deliveries": int(storm.events.column("rcpt_count").to_numpy().sum()),
        },
    }
    write_meta(out, meta)
    (out / "replyall.json").write_text(json.dumps(model.to_json(), indent=2, default=float))
    figures = {**model_figures(model), **replay_figures(curves, sc.replay.speedup)}
    sections = [
        (
            f"Reply-all storm on the full list ({sc.list_size:,} members)",
            "".join(model_parts(model)),
        ),
        (
            "Reply-all storm replayed against the reference mailbox",
            "".join(replay_parts(storm.scenario, storm.events, curves, check.__dict__)),
        ),
        ("Scenario", f"<pre>{html.escape(Path(sc.source).read_text())}</pre>"),
    ]
    summary = build_report(out, figures, sections)
    say(f"report: {out / 'report.html'} ({time.perf_counter() - started:.0f} s in all)")
    if check.missing:
        say(f"[red]{check.missing} acknowledged messages are not in the store[/]")
        return EXIT_FAILED
    return report_verdict(summary)
