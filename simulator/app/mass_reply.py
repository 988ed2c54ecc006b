"""The mass-reply kind: a broadcast and its reply storm, against any collection system.

Theory of operation: the workforce and every round's schedule are built and written to
the run directory. The target is the reference collection system the scenario names
(`[target] kind = "embedded"`, started in a child process with a per-run token secret)
or the user's own endpoint (`kind = "http"` or `"smtp"`, its URL checked for loopback by
the caller). After the replay the reference store is read back; the user's own system
is read back when the plan names a mailbox to verify over IMAP (`app.verifying`), and
otherwise has no store check (`lost` is then not known). The cost and capacity plan is
priced for the full workforce with the capacity the run measured, and the record keeps
all of it. A plan's `window` is resolved on the built schedule before the collection
system starts; only its events are replayed and checked, while the cost still covers
the whole round.

With `auto_headroom` (`--speedup auto`) a "capacity probe" stage chooses the speedup
before the replay (`replaying.resolve_speedup`): the user's endpoint is probed as it is;
the embedded system is probed in a server of its own with a throwaway store, so the
run's store holds only the run's messages, and the run's server is then started with
the chosen speedup as its time scale.
"""

from __future__ import annotations

import tempfile
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from simulator.app.inputs import write_built_schedule, write_built_workforce
from simulator.app.kinds import Executed, Figures, Sections
from simulator.app.progress import Steps
from simulator.app.record import RunRecord
from simulator.app.replaying import (
    AutoSpeedup,
    LiveFactory,
    ReplayRequest,
    ReplayRun,
    auto_line,
    replay_watched,
    resolve_speedup,
    timezone_of,
    windowed,
)
from simulator.app.serving import check_store, served_scenario, serving
from simulator.collect.servers import ServerSpec
from simulator.cost.plan import CostOptions, cost_figures, plan_cost, plan_of
from simulator.cost.runfile import read_run
from simulator.replay.engine import ReplayOptions
from simulator.replay.metrics import MetricsOptions
from simulator.replay.smtp_auth import SmtpAuth
from simulator.replay.targets import TargetOptions
from simulator.replay.tls import TlsOptions
from simulator.replay.verify import VerifySpec
from simulator.report.cost_section import cost_html
from simulator.scenario import Scenario
from simulator.schedule.io import rendering_of
from simulator.tokens import new_secret
from simulator.traffic.record import read_results


@dataclass(frozen=True)
class MassReplyPlan:
    scenario: Scenario
    scale: float
    speedup: float
    out: Path
    protocol: str  # "smtp" or "http"
    target_url: str | None  # None: the embedded reference system
    workers: int
    allow_remote: bool = False
    tls: TlsOptions = field(default_factory=TlsOptions)  # for an https target_url
    smtp_tls: str = "none"  # your own SMTP server: STARTTLS or implicit TLS
    smtp_auth: SmtpAuth | None = None  # its submission account(s)
    source: str = "command line"  # where smtp_tls was given, for errors
    verify: VerifySpec | None = None  # a mailbox of the user's system to read back
    metrics: MetricsOptions | None = None  # live Prometheus metrics of the replay
    auto_headroom: float | None = None  # --speedup auto: choose `speedup` from a probe
    window: str | None = None  # replay only this stretch (simulator.schedule.window)


def server_spec(plan: MassReplyPlan, secret: bytes, store: Path | None = None) -> ServerSpec:
    served = served_scenario(plan.scenario)
    return ServerSpec(
        kind="mailbox" if plan.protocol == "smtp" else "api",
        store_path=str(store or plan.out / "store.db"),
        rules_by_round=served.rules_by_round,
        workforce_path=str(plan.out / "workforce.parquet"),
        collections=served.collections,
        broadcast_sender=served.broadcast_sender,
        time_scale=plan.speedup,
        secret=secret,
        # the replay opens up to `concurrency` sessions plus a pool of idle ones per agency
        max_sessions_per_client=max(500, plan.scenario.replay.concurrency + 64),
    )


def run_secret(folder: Path) -> tuple[bytes, Path]:
    """A fresh token secret for one run, and the private file the replay mints tokens from.

    The secret is hex text, as `pulsecheck serve` keeps one: a secret file is read back
    stripped, so raw random bytes that begin or end with white space would mint tokens the
    server refuses."""
    secret = new_secret().hex().encode("ascii")
    path = folder / "api.secret"
    path.touch(mode=0o600)
    path.write_bytes(secret)
    return secret, path


def replay_options(plan: MassReplyPlan) -> ReplayOptions:
    spec, seed = plan.scenario.replay, plan.scenario.workforce.seed
    return ReplayOptions(
        speedup=plan.speedup,
        concurrency=spec.concurrency,
        max_events=spec.max_events,
        max_duration_s=spec.max_duration_s,
        retries=spec.retries,
        collections={c.id: c.address for c in plan.scenario.collections},
        broadcast_sender=plan.scenario.rounds[0].sender,
        seed=seed,
        html_share=rendering_of(plan.scenario, seed).html_share,
    )


def agency_counts(workforce: pa.Table, schedule: pa.Table) -> dict[str, dict[str, int]]:
    """Recipients and replies per department, for the response-rate figure."""
    departments = workforce.column("department").cast(pa.string())
    recipients = pc.value_counts(departments).to_pylist()
    replies = schedule.filter(pc.equal(schedule.column("kind").cast(pa.string()), "reply"))
    by_agency = pc.value_counts(replies.column("agency").cast(pa.string())).to_pylist()
    return {
        "recipients": {r["values"]: r["counts"] for r in recipients},
        "replies": {r["values"]: r["counts"] for r in by_agency},
    }


def stage_names(plan: MassReplyPlan) -> list[str]:
    """The stages a run of `plan` goes through, in order."""
    embedded = plan.target_url is None
    serve = ["collection system"] if embedded else []
    check = ["store check"] if embedded else []
    probe = [] if plan.auto_headroom is None else ["capacity probe"]
    return ["workforce", "schedule", *probe, *serve, "replay", *check, "cost"]


def execute(plan: MassReplyPlan, steps: Steps, live: LiveFactory | None = None) -> Executed:
    out = plan.out
    with steps.step("workforce") as step:
        workforce = write_built_workforce(plan.scenario, plan.scale, out)
        step.done(f"{workforce.num_rows:,} employees")
    with steps.step("schedule") as step:
        schedule = write_built_schedule(plan.scenario, workforce, out)
        step.done(f"{schedule.num_rows:,} events")
    request = ReplayRequest(
        schedule=out / "schedule.parquet",
        workforce=out / "workforce.parquet",
        target=plan.target_url or "",
        out=out,
        options=replay_options(plan),
        workers=plan.workers,
        connection=TargetOptions(
            allow_remote=plan.allow_remote,
            tls=plan.tls,
            template=plan.scenario.target.template if plan.target_url else None,
            template_source=plan.scenario.path,
            template_prefix="target.",
            smtp_tls=plan.smtp_tls,
            smtp_auth=plan.smtp_auth,
            source=plan.source,
        ),
        verify=plan.verify,
        metrics=plan.metrics,
        auto=None if plan.auto_headroom is None else AutoSpeedup(plan.auto_headroom),
        window=plan.window,
        timezone=timezone_of(plan.scenario),
    )
    timezone = request.timezone
    request = windowed(request, schedule)[0]  # a bad window stops the run before any load
    check = None
    if request.auto is not None:
        with steps.step("capacity probe") as step:
            request = _probe(plan, request)
            assert request.auto is not None and request.auto.record is not None
            step.done(auto_line(request.auto.record))
        plan = replace(plan, speedup=request.options.speedup)
    if plan.target_url is None:
        (out / "store.db").unlink(missing_ok=True)
        kind = "mailbox" if plan.protocol == "smtp" else "api"
        with tempfile.TemporaryDirectory(prefix="pulsecheck-run-") as tmp, ExitStack() as stack:
            secret, secret_file = run_secret(Path(tmp))
            with steps.step("collection system") as step:
                url = stack.enter_context(serving(server_spec(plan, secret), steps.say))
                step.done(f"embedded {kind} on {url}")
            connection = replace(
                request.connection, token_secret=secret_file, reason_field=("rule",)
            )
            request = replace(request, target=url, connection=connection)
            done = _replay(request, steps, live, timezone)
        target = f"embedded {kind} ({url})"
        with steps.step("store check") as step:
            check = check_store(read_results(out), out / "store.db")
            step.done(
                f"{check.stored:,} of {check.acknowledged:,} acknowledged stored, "
                f"{check.missing:,} lost"
            )
    else:
        done = _replay(request, steps, live, timezone)
        check, target = done.store_check, plan.target_url
    with steps.step("cost") as step:
        options = CostOptions(run=read_run(out, 1.0), run_label=str(out))
        sources = {
            "workforce": str(out / "workforce.parquet"),
            "schedule": str(out / "schedule.parquet"),
        }
        doc = plan_cost(plan.scenario, workforce, schedule, options, sources).document
        first, priced = next(iter(doc["estimate"]["rounds"].items()))
        step.done(f"round {first} P50 ${priced['total']['p50']:,.0f}")
    return Executed(
        target=target,
        protocol=plan.protocol,
        store_check=check,
        agencies=agency_counts(workforce, schedule),
        cost=doc,
        speedup=plan.speedup,
        speedup_auto=None if request.auto is None else request.auto.record,
        window=done.summary.get("window"),
    )


def _probe(plan: MassReplyPlan, request: ReplayRequest) -> ReplayRequest:
    """The request with its speedup chosen by a capacity probe: of the user's endpoint,
    or of an embedded server of its own whose store is thrown away."""
    if plan.target_url is not None:
        return resolve_speedup(request, _quiet)
    with tempfile.TemporaryDirectory(prefix="pulsecheck-probe-") as tmp:
        secret, secret_file = run_secret(Path(tmp))
        with serving(server_spec(plan, secret, Path(tmp) / "probe.db"), _quiet) as url:
            connection = replace(
                request.connection, token_secret=secret_file, reason_field=("rule",)
            )
            probed = resolve_speedup(replace(request, target=url, connection=connection), _quiet)
    return replace(request, options=probed.options, auto=probed.auto)


def _quiet(line: str) -> None:
    return None


def _replay(
    request: ReplayRequest, steps: Steps, live: LiveFactory | None, timezone: str
) -> ReplayRun:
    """The replay stage: watched live when a display is given (one process only)."""
    watched = live is not None and request.workers == 1
    with steps.step("replay", heartbeat=not watched) as step:
        done = replay_watched(request, live, timezone, steps.say)
        step.done(replay_figure(done.summary))
    return done


def replay_figure(summary: dict[str, Any]) -> str:
    """The replay's key figures for its stage line."""
    window = summary.get("window")
    share = (
        "" if window is None else f" (window {window['spec']}, {window['share']:.1%} of the round)"
    )
    return (
        f"{summary['acknowledged']:,} of {summary['events']:,} acknowledged{share}, "
        f"corrected p99 {_ms(summary['latency_corrected_ms']['p99'])}"
    )


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} ms"


class MassReply:
    name = "mass-reply"

    def report_parts(
        self, run_dir: Path, record: RunRecord, results: pa.Table
    ) -> tuple[Figures, Sections]:
        extra = exclusions_section(run_dir)
        if record.cost is None:
            return {}, extra
        plan = plan_of(record.cost)
        return cost_figures(plan), [("Cost and capacity", cost_html(record.cost)), *extra]


def exclusions_section(run_dir: Path) -> Sections:
    """The deadlines-and-exclusions section from the run's schedule manifest, if any."""
    from simulator.report.exclusions_section import TITLE, exclusions_html
    from simulator.schedule.io import read_schedule_manifest

    manifest = read_schedule_manifest(run_dir / "schedule.parquet")
    body = "" if manifest is None else exclusions_html(manifest.deadlines, manifest.exclusions)
    return [(TITLE, body)] if body else []


KIND = MassReply()
