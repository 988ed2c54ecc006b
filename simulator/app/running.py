"""`run`: every stage end to end, for any scenario kind, then the record, page and verdict.

Theory of operation: the request carries the scenario file and the flags that override
it; `plan_run` checks them against the scenario's kind (a bad value is an `InputError`
naming the flag) and the kind's `execute` does the work. The scenario is copied into the
run directory, the record is written, and the page is built by `reporting.report` from
the directory's files, the same function `pulsecheck report` calls. The verdict is the
thresholds', but a run whose target acknowledged nothing, or whose store lost an
acknowledged event or holds one twice, has failed whatever the thresholds say. Against
the user's own system, `--verify imap://...` (or `[target] verify`) reads a mailbox back
(`simulator.app.verifying`) into the same store check.
"""

from __future__ import annotations

import dataclasses
import re
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simulator import __version__
from simulator.app.kinds import Executed
from simulator.app.progress import Steps
from simulator.app.record import SCENARIO_COPY, RunInfo, RunRecord, write_record
from simulator.app.replaying import LiveFactory, check_connection, preflight
from simulator.app.reporting import ReportResult, report
from simulator.app.scenarios import AnyScenario, load_any
from simulator.replay.metrics import MetricsOptions
from simulator.replay.smtp_auth import SmtpAuth
from simulator.replay.targets import TargetOptions
from simulator.replay.tls import TlsOptions
from simulator.replyall.params import ReplyAllScenario
from simulator.safety import check_target
from simulator.scenario import MAX_SCALE, TargetTls
from simulator.schedule.window import check_spec as check_window
from simulator.validation import Fields, InputError

if TYPE_CHECKING:
    from simulator.replay.verify import VerifySpec
    from simulator.scenario import Scenario

Say = Callable[[str], None]
FLAGS = "command line"


@dataclass(frozen=True)
class RunRequest:
    scenario: Path
    out: Path | None = None  # default reports/<scenario name>
    scale: float | None = None  # default the scenario's
    speedup: float | None = None  # default the scenario's
    protocol: str | None = None  # embedded system: "smtp" (mailbox) or "http" (API)
    target: str | None = None  # the user's endpoint, overriding [target] url
    allow_remote: bool = False  # allow a target outside loopback
    workers: int | None = None  # default the scenario's [replay] workers
    ca_file: Path | None = None  # TLS options for an https target, each overriding
    client_cert: Path | None = None  # the scenario's [target.tls] field of that name
    client_key: Path | None = None
    tls_server_name: str | None = None
    smtp_tls: str | None = None  # your SMTP target's TLS, overriding [target] smtp_tls
    smtp_auth: SmtpAuth | None = None  # its accounts, overriding [target.smtp_auth]
    verify: str | None = None  # imap(s)://USER@HOST:PORT/MAILBOX, overriding [target] verify
    verify_password_file: Path | None = None
    verify_password_env: str | None = None
    verify_address: str | None = None
    verify_ca_file: Path | None = None
    verify_wait: float | None = None  # seconds to wait for deliveries (default 30)
    metrics: MetricsOptions | None = None  # live Prometheus metrics of the replay
    auto_headroom: float | None = None  # --speedup auto (speedup None): probe, then choose
    window: str | None = None  # replay only this stretch (simulator.schedule.window)


@dataclass(frozen=True)
class RunResult:
    record: RunRecord
    report: ReportResult
    failure: str | None  # why the run failed regardless of thresholds, if it did

    @property
    def verdict(self) -> str:
        """ "failed", or the thresholds' "pass", "fail" or "none" (no thresholds set)."""
        return "failed" if self.failure else str(self.report.summary["verdict"])


def _flags(request: RunRequest) -> Fields:
    values = {k: v for k, v in dataclasses.asdict(request).items() if v is not None}
    return Fields(values, FLAGS)


def plan_run(request: RunRequest, scenario: AnyScenario, out: Path) -> Any:
    """The kind's plan: the scenario with the request's overrides, checked."""
    flags = _flags(request)
    if isinstance(scenario, ReplyAllScenario):
        from simulator.app.reply_all import ReplyAllPlan

        if request.verify is not None:
            raise InputError(
                FLAGS,
                "--verify",
                request.verify,
                "a reply-all storm replays against the reference mailbox, checked directly",
            )
        if request.auto_headroom is not None:
            raise InputError(
                FLAGS,
                "--speedup",
                "auto",
                "a reply-all storm is replayed at its [replyall.replay] speedup; give a number",
            )
        if request.window is not None:
            raise InputError(
                FLAGS, "--window", request.window, "a reply-all storm replays the whole storm"
            )
        for name in ("scale", "target", "workers", "metrics"):
            if getattr(request, name) is not None:
                raise InputError(
                    FLAGS,
                    "--metrics-port" if name == "metrics" else f"--{name}",
                    getattr(request, name),
                    "a reply-all run is sized by [replyall] list_size and "
                    "[replyall.replay] list_size",
                )
        if request.protocol not in (None, "smtp"):
            raise InputError(
                FLAGS, "--protocol", request.protocol, "a reply-all storm replays over smtp"
            )
        _no_tls_flags(request, "a reply-all storm replays over plain smtp to the mailbox")
        _no_smtp_flags(request, request.smtp_tls or "none", request.smtp_auth)
        speedup = flags.float("speedup", scenario.replay.speedup, lo=0.0, hi=1e6, lo_open=True)
        sc = dataclasses.replace(
            scenario, replay=dataclasses.replace(scenario.replay, speedup=speedup)
        )
        return ReplyAllPlan(sc, out)
    from simulator.app.mass_reply import MassReplyPlan

    url = request.target or scenario.target.url
    if url is not None:
        check_target(url, request.allow_remote, "--target" if request.target else "[target] url")
    if request.protocol is not None and url is not None:
        raise InputError(
            FLAGS,
            "--protocol",
            request.protocol,
            "chooses the embedded system; the target's URL already says its protocol",
        )
    tls = tls_options(request, scenario.target.tls)
    smtp_tls, auth, source = _smtp_connection(request, scenario)
    if url is None:
        _no_tls_flags(request, "the embedded reference systems speak plain http and smtp")
        _no_smtp_flags(request, smtp_tls, auth)
    else:
        field = "--target" if request.target else "[target] url"
        connection = TargetOptions(
            allow_remote=request.allow_remote,
            tls=tls,
            smtp_tls=smtp_tls,
            smtp_auth=auth,
            source=source,
        )
        check_connection(connection, url, field)
        preflight(url, connection)  # a certificate or login problem stops the run here
    verify = verify_spec(request, scenario, url, tls)
    workers = flags.int("workers", scenario.replay.workers, lo=1, hi=64)
    if request.metrics is not None and workers > 1:
        raise InputError(
            FLAGS, "--metrics-port", request.metrics.port, f"needs --workers 1 (not {workers})"
        )
    if request.window is not None:
        check_window(request.window, _timezone(scenario))
    return MassReplyPlan(
        window=request.window,
        verify=verify,
        scenario=scenario,
        scale=flags.float("scale", scenario.workforce.scale, lo=0.0, hi=MAX_SCALE, lo_open=True),
        speedup=flags.float("speedup", scenario.replay.speedup, lo=0.0, hi=1e7, lo_open=True),
        out=out,
        protocol=request.protocol or (scenario.target.protocol if url is None else _scheme(url)),
        target_url=url,
        workers=workers,
        allow_remote=request.allow_remote,
        tls=tls,
        smtp_tls=smtp_tls,
        smtp_auth=auth,
        source=source,
        metrics=request.metrics,
        auto_headroom=request.auto_headroom,
    )


TLS_FIELDS = ("ca_file", "client_cert", "client_key", "tls_server_name")


def _no_tls_flags(request: RunRequest, why: str) -> None:
    for name in TLS_FIELDS:
        value = getattr(request, name)
        if value is not None:
            flag = "--" + name.replace("_", "-")
            raise InputError(FLAGS, flag, str(value), f"{why}; it needs an https:// --target")


def _no_smtp_flags(request: RunRequest, smtp_tls: str, auth: SmtpAuth | None) -> None:
    """SMTP TLS and accounts are for the user's own SMTP server, not the embedded ones."""
    if smtp_tls != "none" or auth is not None:
        field = "--smtp-tls" if smtp_tls != "none" else "--smtp-user"
        raise InputError(
            FLAGS, field, "(given)", "is for your own SMTP server (--target smtp://...)"
        )


def tls_options(request: RunRequest, scenario: TargetTls) -> TlsOptions:
    """The scenario's [target.tls], each field overridden by its flag when given."""
    return TlsOptions(
        ca_file=request.ca_file or scenario.ca_file,
        cert_file=request.client_cert or scenario.cert_file,
        key_file=request.client_key or scenario.key_file,
        server_name=request.tls_server_name or scenario.server_name,
    )


def _smtp_connection(request: RunRequest, scenario: Any) -> tuple[str, SmtpAuth | None, str]:
    """TLS mode, accounts and where the mode was given: the flags, else the scenario's."""
    target, path = scenario.target, str(request.scenario)
    tls, source = target.smtp_tls, path if target.smtp_tls != "none" else FLAGS
    if request.smtp_tls is not None:
        tls, source = request.smtp_tls, FLAGS
    auth = request.smtp_auth
    if auth is None and target.smtp_auth is not None:
        auth = SmtpAuth(**dataclasses.asdict(target.smtp_auth), source=path)
    return tls, auth, source


def verify_spec(
    request: RunRequest, scenario: Scenario, url: str | None, target_tls: TlsOptions
) -> VerifySpec | None:
    """The read-back the flags or `[target] verify` ask for, with a preflight login (a
    refused login or a missing mailbox stops the run before anything is built). Its CA is
    --verify-ca-file or verify_ca_file, else the target's own (--ca-file)."""
    from simulator.replay.verify import VerifySpec
    from simulator.replay.verify import preflight as mailbox_preflight

    spec = scenario.target
    given = request.verify is not None
    verify = request.verify or spec.verify
    if verify is None:
        for name in ("password_file", "password_env", "address", "ca_file", "wait"):
            if getattr(request, f"verify_{name}") is not None:
                flag = f"--verify-{name.replace('_', '-')}"
                raise InputError(FLAGS, flag, "(given)", "needs --verify URL or [target] verify")
        return None
    if url is None:
        raise InputError(
            FLAGS if given else scenario.path,
            "--verify" if given else "target.verify",
            verify,
            "reads back your own system (--target or [target] url); the embedded reference "
            "systems are checked against their store",
        )
    password_file = request.verify_password_file
    password_env = request.verify_password_env
    if password_file is None and password_env is None:
        password_file = spec.verify_password_file
        password_env = spec.verify_password_env
    ca_file = request.verify_ca_file or spec.verify_ca_file or target_tls.ca_file
    wait = 30.0 if request.verify_wait is None else request.verify_wait
    if not 0 <= wait <= 3600:
        raise InputError(FLAGS, "--verify-wait", wait, "must be 0..3600 seconds")
    checked = VerifySpec(
        url=verify,
        password_file=password_file,
        password_env=password_env,
        address=request.verify_address or spec.verify_address,
        tls=TlsOptions(ca_file=ca_file),
        allow_remote=request.allow_remote,
        wait_s=wait,
        source=FLAGS if given else scenario.path,
        flag="--verify" if given else "target.verify",
    )
    mailbox_preflight(checked)
    return checked


def run(request: RunRequest, say: Say, live: LiveFactory | None = None) -> RunResult:
    """Every stage of the scenario's kind, each said as it starts and ends (`Steps`); the
    replay watched with a display from `live` when one is given."""
    scenario = load_any(request.scenario)
    out = request.out or default_out(scenario.name, request.scenario)
    plan = plan_run(request, scenario, out)
    out.mkdir(parents=True, exist_ok=True)
    (out / SCENARIO_COPY).write_bytes(Path(request.scenario).read_bytes())
    started, started_at = time.perf_counter(), datetime.now(UTC)
    steps = Steps(say, [*stage_names(plan), "report"])
    executed = _execute(plan, steps, live)
    record = RunRecord(
        scenario_name=scenario.name,
        run=_info(request, scenario, plan, executed, started_at, time.perf_counter() - started),
        thresholds=tuple(scenario.thresholds),
        store_check=executed.store_check,
        agencies=executed.agencies,
        cost=executed.cost,
        replyall=executed.replyall,
        speedup_auto=executed.speedup_auto,
    )
    with steps.step("report") as step:
        write_record(out, record)
        page = report(out)
        record = dataclasses.replace(record, sections=page.sections, figures=page.figures)
        write_record(out, record)
        step.done(f"{len(page.sections):,} sections, {len(page.figures):,} figures")
    return RunResult(record, page, _failure(record, page.summary))


SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def default_out(name: str, source: Path) -> Path:
    """`reports/<scenario name>`, for a name that is one plain path segment."""
    if not SAFE_NAME.fullmatch(name):
        reason = "must be letters, digits, '.', '_' or '-' to name reports/<name>; or give --out"
        raise InputError(str(source), "scenario.name", name, reason)
    return Path("reports") / name


def stage_names(plan: Any) -> list[str]:
    """The stages before the report, for the kind of `plan`."""
    from simulator.app import mass_reply, reply_all

    if isinstance(plan, reply_all.ReplyAllPlan):
        return list(reply_all.STAGES)
    return mass_reply.stage_names(plan)


def _execute(plan: Any, steps: Steps, live: LiveFactory | None) -> Executed:
    from simulator.app import mass_reply, reply_all

    if isinstance(plan, reply_all.ReplyAllPlan):
        return reply_all.execute(plan, steps, live)
    return mass_reply.execute(plan, steps, live)


def _info(
    request: RunRequest,
    scenario: AnyScenario,
    plan: Any,
    executed: Executed,
    started_at: datetime,
    wall_s: float,
) -> RunInfo:
    reply_all = isinstance(scenario, ReplyAllScenario)
    replay = plan.scenario.replay
    return RunInfo(
        kind="reply-all" if reply_all else "mass-reply",
        scenario=str(request.scenario),
        target=executed.target,
        protocol=executed.protocol,
        speedup=float(
            replay.speedup
            if reply_all
            else executed.speedup
            if executed.speedup is not None
            else plan.speedup
        ),
        concurrency=int(replay.concurrency),
        workers=1 if reply_all else int(plan.workers),
        scale=None if reply_all else float(plan.scale),
        list_size=int(replay.list_size) if reply_all else None,
        started_at=started_at.isoformat(timespec="seconds"),
        wall_s=round(wall_s, 1),
        version=__version__,
        command=shlex.join(["pulsecheck", *sys.argv[1:]]),
        timezone=_timezone(scenario),
        window=executed.window,
    )


def _timezone(scenario: AnyScenario) -> str:
    """The IANA zone of the scenario's clock: a reply-all storm's, else its first round's."""
    if isinstance(scenario, ReplyAllScenario):
        return scenario.timezone
    return str(scenario.rounds[0].send_time.tzinfo)


def _failure(record: RunRecord, summary: dict[str, Any]) -> str | None:
    events = summary["events"]
    if events["scheduled"] and not events["acknowledged"]:
        answered = events["rejected"] + events["by_outcome"].get("error", 0)
        return (
            "the target answered nothing"
            if not answered
            else f"the target acknowledged nothing ({answered:,} refused or failed)"
        )
    check = record.store_check
    if check is not None and check.missing:
        return f"{check.missing:,} acknowledged events are not in the store ({check.source})"
    if check is not None and check.duplicates:
        return (
            f"{check.duplicates:,} acknowledged events are stored more than once ({check.source})"
        )
    return None


def _scheme(url: str) -> str:
    """ "http" or "smtp": the protocol a target URL names."""
    return url.split(":", 1)[0]
