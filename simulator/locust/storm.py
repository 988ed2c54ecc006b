"""The Locust wiring of a storm: event hooks on the master, the workers and a local run.

Theory of operation (one run, three roles):
- master (or a lone local runner), at `test_start`: check the options and the loopback
  rule, read the schedule, plan the storm, pick a common start time, and send each
  connected worker its `Share` (`runner.send_message`; it arrives before the spawn
  message, over the same socket), with its part of the master's user count.
- worker (or the local runner), at `test_start` (the spawn message has brought the
  master's options): start the native engine for the share in a child process, `python
  -m simulator.app.storm_share` (the engine runs on asyncio, this process on gevent),
  and hand it an `EngineJob` on its stdin. The engine paces, sends, retries and drops
  exactly as `pulsecheck replay` does, with the share's users as its concurrency. A
  greenlet reads the frames it writes every 3 s (`simulator.traffic.frames`: finished
  rows), logs every sent event into Locust's request stats, in bulk
  (`simulator.locust.bulk`: Locust's tables, charts, CSV and HTML show them as if each
  had gone through `events.request`), and its latencies into the `pulsecheck` rows
  (`webui.log_latencies`), and keeps the reports for the next `report_to_master`; the
  last frame goes in a final "pulsecheck_done" message. Locust's users only hold the
  share open: each waits until the engine is done.
- master: `worker_report` and "pulsecheck_done" feed a `RunCollector`; when every worker
  is done it writes the run directory and stops the run (with the web UI, it stops the
  test and writes the run but leaves the UI up with the final figures until Locust's
  `--autoquit` or Ctrl-C).

A stop (`--run-time`, the web UI's stop, Ctrl-C, a quit) reaches each engine as SIGINT
(the master also sends "pulsecheck_stop" to workers it quits without stopping): the
engine stops claiming events, gives those in flight its grace period, and its last frame
still reaches the master; events no worker reported are recorded as dropped with a
reason, so nothing is lost silently. A local run has no worker reports: its reader feeds
the collector directly.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import gevent  # type: ignore[import-untyped]  # no stubs; see the README
import gevent.event  # type: ignore[import-untyped]
import gevent.subprocess  # type: ignore[import-untyped]
import numpy as np
from locust.exception import StopUser
from locust.runners import MasterRunner, WorkerRunner

import simulator
from simulator.collections import default_collections
from simulator.locust import bulk, webui
from simulator.locust.collector import RunCollector
from simulator.locust.options import StormOptions, add_options, read_options
from simulator.locust.plan import (
    EngineJob,
    Share,
    StormPlan,
    assign_shares,
    plan_storm,
    read_plan_columns,
)
from simulator.safety import check_target
from simulator.traffic.frames import Report, read_frame, table_from_ipc
from simulator.validation import InputError

log = logging.getLogger("pulsecheck.locust")

SHARE_MESSAGE = "pulsecheck_share"
STOP_MESSAGE = "pulsecheck_stop"
DONE_MESSAGE = "pulsecheck_done"
REPORT_KEY = "pulsecheck"
ENGINE_MODULE = "simulator.app.storm_share"
ENGINE_GRACE_S = 10.0  # the engine's grace for in-flight sends after a stop
ENGINE_STOP_WAIT_S = ENGINE_GRACE_S + 5.0  # then the engine is killed
FINAL_REPORT_WAIT_S = ENGINE_STOP_WAIT_S + 2.0  # how long a stopping master waits
UI_FINAL_STATS_WAIT_S = 1.0  # with the web UI: time for the workers' last Locust stats
EXIT_BAD_INPUT = 2
CHANNEL_SCHEMES = {"http": ("http", "https"), "smtp": ("smtp", "smtps")}
ANSWERED = ("ok", "late")


@dataclass
class WorkerState:
    """One share in this process: the engine child, its reader and what is unreported."""

    share: Share
    proc: Any = None  # gevent.subprocess.Popen of the engine
    reader: Any = None  # the greenlet reading its frames
    pending: list[Report] = field(default_factory=list)  # for the next report_to_master
    done: Any = field(default_factory=gevent.event.Event)
    final_sent: bool = False


class Storm:
    """One storm's hooks and state in this Locust process (master, worker or local)."""

    def __init__(self, collections: Mapping[str, str], channel: str) -> None:
        self.channel = channel  # "http" or "smtp": the --host scheme this storm speaks
        self.collections = dict(collections)
        self.environment: Any = None
        self.options: StormOptions | None = None
        self.refused: str | None = None
        self.share: Share | None = None  # the latest share the master sent this worker
        self.worker: WorkerState | None = None
        self.collector: RunCollector | None = None
        self.assigned: set[str] = set()
        self.done_workers: set[str] = set()
        self.started_at = 0.0
        self.users = 0
        self.summary: dict[str, Any] | None = None
        self.interrupted = False  # some worker was stopped before its share was done
        self.quitting = False  # Locust is shutting down: it quits the runner itself

    # -- hooks ----------------------------------------------------------------------
    def hook(self, events: Any) -> None:
        events.init_command_line_parser.add_listener(lambda parser, **_: add_options(parser))
        events.init.add_listener(self._on_init)
        events.test_start.add_listener(self._on_test_start)
        events.test_stop.add_listener(self._on_test_stop)
        events.report_to_master.add_listener(self._on_report_to_master)
        events.worker_report.add_listener(self._on_worker_report)
        events.quitting.add_listener(self._on_quitting)

    def _on_init(self, environment: Any, runner: Any = None, web_ui: Any = None, **_: Any) -> None:
        self.environment = environment
        if web_ui is not None:
            webui.install(web_ui, self.live_figures)
        if isinstance(runner, MasterRunner):
            runner.register_message(DONE_MESSAGE, self._on_done)
        if isinstance(runner, WorkerRunner):
            runner.register_message(SHARE_MESSAGE, self._on_share)
            runner.register_message(STOP_MESSAGE, self._on_stop_message)

    def _on_test_start(self, environment: Any, **_: Any) -> None:
        runner = environment.runner
        if isinstance(runner, WorkerRunner):
            share, self.share = self.share, None  # each test brings its own share
            if share is not None:
                self._start_engine(share)
            return
        try:
            plan = self._plan(environment)
        except InputError as err:
            self._refuse(str(err))
            return
        self.collector = RunCollector(plan.event_ids, plan.offsets_us)
        self.done_workers = set()
        self.started_at = time.time() + self.options_checked.start_delay_s
        self.users = int(getattr(runner, "target_user_count", 0) or 0) or _users(environment)
        if isinstance(runner, MasterRunner):
            self._send_shares(runner, plan)
        else:
            local = assign_shares(["local"], self.started_at, plan.fingerprint, self.users)
            self._start_engine(local["local"])
        log.info(
            "pulsecheck storm: %d events, fingerprint %s", len(plan.offsets_us), plan.fingerprint
        )

    def _send_shares(self, runner: Any, plan: StormPlan) -> None:
        ids = [client.id for client in runner.clients.all]
        shares = assign_shares(ids, self.started_at, plan.fingerprint, self.users)
        for client_id, share in shares.items():
            runner.send_message(SHARE_MESSAGE, share.as_message(), client_id=client_id)
        self.assigned = set(shares)

    def _on_share(self, environment: Any, msg: Any, **_: Any) -> None:
        self.share = Share.from_message(msg.data)

    @property
    def options_checked(self) -> StormOptions:
        assert self.options is not None
        return self.options

    def _check_host(self, environment: Any) -> StormOptions:
        self.options = read_options(environment.parsed_options)
        opts = self.options
        host = environment.host or ""
        if urlsplit(host).scheme not in CHANNEL_SCHEMES[self.channel]:
            raise InputError(
                "command line", "--host", host, f"must be a {self.channel}://HOST:PORT URL"
            )
        check_target(host, opts.allow_remote, "--host")
        if self.channel == "http" and opts.api_secret_file is None:
            raise InputError(
                "command line", "--api-secret-file", "", "is required for the HTTP storm"
            )
        return opts

    def _plan(self, environment: Any) -> StormPlan:
        opts = self._check_host(environment)
        return plan_storm(read_plan_columns(opts.schedule), opts.speedup, opts.max_events)

    def _refuse(self, reason: str) -> None:
        self.refused = reason
        log.error("pulsecheck storm refused: %s", reason)
        self.environment.process_exit_code = EXIT_BAD_INPUT
        gevent.spawn_later(0.1, self.environment.runner.quit)

    # -- the engine (worker or local) --------------------------------------------------
    def _start_engine(self, share: Share) -> None:
        """Start the native engine on `share` in a child process, and its reader."""
        previous = self.worker
        if previous is not None and previous.proc is not None:
            self._stop_engine(previous)
        state = self.worker = WorkerState(share)
        try:
            opts = self._check_host(self.environment)
        except InputError as err:
            self._engine_refused(state, str(err))
            return
        job = self._job(opts, share)
        state.proc = gevent.subprocess.Popen(
            [sys.executable, "-m", ENGINE_MODULE],
            stdin=gevent.subprocess.PIPE,
            stdout=gevent.subprocess.PIPE,
            env=_engine_env(),
        )
        state.proc.stdin.write(job.to_json().encode())
        state.proc.stdin.close()
        state.reader = gevent.spawn(self._read_engine, state)
        log.info(
            "pulsecheck share %d/%d: native engine pid %d, concurrency %d",
            share.index + 1, share.count, state.proc.pid, share.concurrency,
        )  # fmt: skip

    def _job(self, opts: StormOptions, share: Share) -> EngineJob:
        host = self.environment.host or ""
        target = host.rstrip("/") + opts.api_path if self.channel == "http" else host
        secret = opts.api_secret_file
        return EngineJob(
            schedule=str(opts.schedule),
            workforce=str(opts.workforce),
            target=target,
            share=share,
            speedup=opts.speedup,
            max_events=opts.max_events,
            max_duration_s=opts.max_duration_s,
            drop_after_s=opts.drop_after_s,
            late_after_ms=opts.late_after_ms,
            timeout_s=opts.timeout_s,
            token_secret=None if secret is None else str(secret),
            allow_remote=opts.allow_remote,
            collections=self.collections,
            grace_s=ENGINE_GRACE_S,
        )

    def _read_engine(self, state: WorkerState) -> None:
        """Read the engine's frames until it ends; log, keep and finally send them."""
        proc = state.proc
        final: Report | None = None
        try:
            while (report := read_frame(proc.stdout.read)) is not None:
                if "refused" in report:
                    proc.wait()
                    self._engine_refused(state, str(report["refused"]))
                    return
                self._log_stats(report, state.share.start_at)
                if report.get("final"):
                    final = report
                elif self._local():
                    self._collect(report)
                else:
                    state.pending.append(report)
        except ValueError as err:
            log.error("pulsecheck engine pid %d: %s", proc.pid, err)
        code = proc.wait()
        if final is None:
            log.error("pulsecheck engine pid %d ended (code %s) without its last report",
                      proc.pid, code)  # fmt: skip
        self._share_done(state, final)

    def _log_stats(self, report: Report, start_at: float) -> None:
        """The report's sent events into Locust's request stats, the answered ones' two
        latencies into the pulsecheck rows: in bulk (`simulator.locust.bulk`), each
        counted in the second it ended (`start_at`: the epoch of the share's offset 0)."""
        if not report["count"]:
            return
        rows = table_from_ipc(report["rows"])
        sent = rows.column("t_sent").to_numpy()
        done = rows.column("t_done").to_numpy()
        went = sent >= 0
        answered = done[went] >= 0
        at_s = start_at + np.where(done >= 0, done, sent)[went] / 1e6
        uncorrected = rows.column("latency_uncorrected_us").to_numpy()[went] / 1000
        corrected = rows.column("latency_corrected_us").to_numpy()[went] / 1000
        outcome = rows.column("outcome").cast("string").to_numpy(zero_copy_only=False)[went]
        error = rows.column("error").cast("string").to_numpy(zero_copy_only=False)[went]
        failed = ~np.isin(outcome, ANSWERED)
        flags = zip(error, outcome, failed.tolist(), strict=True)
        errors = [(e or o) if f else None for e, o, f in flags]
        stats = self.environment.stats
        kind, name = self._request_name()
        bulk.log_requests(
            stats, kind, name, at_s, np.where(answered, uncorrected, 0.0),
            rows.column("bytes").to_numpy()[went].astype(np.int64), errors,
        )  # fmt: skip
        webui.log_latencies(stats, at_s[answered], corrected[answered], uncorrected[answered])

    def _request_name(self) -> tuple[str, str]:
        if self.channel == "http":
            return "POST", f"POST {self.options_checked.api_path}"
        return "SMTP", "message"

    def _engine_refused(self, state: WorkerState, reason: str) -> None:
        state.final_sent = True
        state.done.set()
        self.refused = reason
        log.error("pulsecheck storm worker refused: %s", reason)
        if isinstance(self.environment.runner, WorkerRunner):
            self.environment.runner.send_message(DONE_MESSAGE, {"refused": reason})
        else:
            self._refuse(reason)

    def _share_done(self, state: WorkerState, final: Report | None) -> None:
        """The engine ended: its remaining reports go to the master (or the collector)."""
        if state.final_sent:
            return
        state.final_sent = True
        reports = [*state.pending, *([] if final is None else [final])]
        state.pending = []
        interrupted = final is None or bool(final.get("interrupted"))
        if isinstance(self.environment.runner, WorkerRunner):
            message = {"reports": reports, "interrupted": interrupted}
            self.environment.runner.send_message(DONE_MESSAGE, message)
        else:
            self._accept_done("local", reports, interrupted)
        state.done.set()

    def _stop_engine(self, state: WorkerState) -> None:
        """SIGINT to the engine (a clean stop), then wait for its last report; kill it if
        it does not end within its grace period."""
        proc = state.proc
        if proc is None or state.reader is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        state.reader.join(timeout=ENGINE_STOP_WAIT_S)
        if not state.reader.dead:
            log.error("pulsecheck engine pid %d did not stop: killed", proc.pid)
            proc.kill()
            state.reader.join(timeout=2.0)

    def _on_stop_message(self, environment: Any, msg: Any, **_: Any) -> None:
        if self.worker is not None:
            gevent.spawn(self._stop_engine, self.worker)

    def run_user(self) -> None:
        """A user's whole life: hold the share open until the engine is done."""
        state = self.worker
        if state is None or self.refused is not None:
            raise StopUser()
        state.done.wait()
        raise StopUser()

    def _local(self) -> bool:
        return not isinstance(self.environment.runner, MasterRunner | WorkerRunner)

    def _collect(self, report: Report) -> None:
        if self.collector is not None:
            self.collector.add(report)

    def live_figures(self) -> dict[str, Any]:
        """The collector's counts so far, for the web UI (master or local run)."""
        collector = self.collector
        if collector is None:
            return {"state": "refused" if self.refused else "waiting for the test to start"}
        figures = collector.figures()
        figures["late_after_ms"] = self.options_checked.late_after_ms
        figures["state"] = "done" if self.summary is not None else "running"
        return figures

    def _on_report_to_master(self, client_id: str, data: dict[str, Any], **_: Any) -> None:
        state = self.worker
        if state is not None and state.pending and not state.final_sent:
            data[REPORT_KEY], state.pending = state.pending, []

    def _on_test_stop(self, environment: Any, **_: Any) -> None:
        runner = environment.runner
        if isinstance(runner, MasterRunner):
            for client_id in self.assigned - self.done_workers:  # a quit sends no stop
                runner.send_message(STOP_MESSAGE, None, client_id=client_id)
            self._wait_for_final_reports()
            return
        if self.worker is not None:
            self._stop_engine(self.worker)

    def _on_quitting(self, environment: Any, **_: Any) -> None:
        """Write the run last, once the workers' final Locust stats are in too."""
        self.quitting = True
        if isinstance(environment.runner, WorkerRunner):
            if self.worker is not None:
                self._stop_engine(self.worker)
            return
        if self.worker is not None:
            self._stop_engine(self.worker)
        self._finish_run()

    # -- the master side ---------------------------------------------------------------
    def _on_worker_report(self, client_id: str, data: dict[str, Any], **_: Any) -> None:
        for report in data.get(REPORT_KEY, ()):
            self._collect(report)

    def _on_done(self, environment: Any, msg: Any, **_: Any) -> None:
        if "refused" in msg.data:
            log.error("worker %s refused its share: %s", msg.node_id, msg.data["refused"])
            self.refused = str(msg.data["refused"])
            environment.process_exit_code = EXIT_BAD_INPUT
        reports = msg.data.get("reports", [])
        self._accept_done(msg.node_id, reports, bool(msg.data.get("interrupted")))

    def _accept_done(self, worker: str, reports: list[Report], interrupted: bool) -> None:
        for report in reports:
            self._collect(report)
        self.interrupted = self.interrupted or interrupted
        self.done_workers.add(worker)
        if self.done_workers >= (self.assigned or {"local"}) and not self.quitting:
            gevent.spawn_later(0.1, self._end)

    def _end(self) -> None:
        """Every share is done: quit; with the web UI, stop the test, write the run and
        keep the final figures on screen (Locust's --autoquit S ends it S seconds later)."""
        env = self.environment
        if self.quitting:
            return
        web_ui = getattr(env, "web_ui", None)
        if web_ui is None:
            env.runner.quit()
            return
        env.runner.stop()
        gevent.sleep(UI_FINAL_STATS_WAIT_S)
        self._finish_run()
        autoquit = getattr(env.parsed_options, "autoquit", -1)
        if autoquit is not None and autoquit >= 0:
            gevent.sleep(autoquit)
            env.runner.quit()
            web_ui.stop()

    def _wait_for_final_reports(self) -> None:
        deadline = time.monotonic() + FINAL_REPORT_WAIT_S
        while not self.done_workers >= self.assigned and time.monotonic() < deadline:
            gevent.sleep(0.1)

    def _finish_run(self) -> None:
        """Write the run directory once, from everything the workers reported."""
        if self.summary is not None or self.collector is None or self.options is None:
            return
        missing = self.assigned - self.done_workers
        meta = self._meta(interrupted=bool(missing) or self.interrupted)
        self.summary = self.collector.write(self.options.out_dir, meta)
        log.info("pulsecheck run written to %s: %s", self.options.out_dir, _brief(self.summary))

    def _meta(self, interrupted: bool) -> dict[str, Any]:
        opts = self.options_checked
        env = self.environment
        end = time.time()
        total = env.stats.total
        return {
            "engine": "locust+native",
            "target": env.host or "",
            "speedup": opts.speedup,
            "concurrency": self.users,
            "workers": max(1, len(self.assigned)),
            "workers_finished": len(self.done_workers),
            "start": self.started_at,
            "end": end,
            "duration_s": max(0.0, end - self.started_at),
            "interrupted": interrupted,
            "late_after_ms": opts.late_after_ms,
            "drop_after_s": opts.drop_after_s,
            "locust": {
                "requests": int(total.num_requests),
                "failures": int(total.num_failures),
                "p50_ms": float(total.get_response_time_percentile(0.5) or 0),
                "p99_ms": float(total.get_response_time_percentile(0.99) or 0),
            },
        }


def _users(environment: Any) -> int:
    return int(getattr(environment.parsed_options, "num_users", 0) or 0) or 1


def _engine_env() -> dict[str, str]:
    """This environment, with this `simulator` package first on the engine's path."""
    root = str(Path(simulator.__file__).resolve().parent.parent)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    return env


def _brief(summary: Mapping[str, Any]) -> str:
    corrected = summary["latency_corrected_ms"]
    uncorrected = summary["latency_uncorrected_ms"]
    return (
        f"events={summary['events']} acknowledged={summary['acknowledged']} "
        f"outcomes={summary['outcomes']} corrected p50/p99={corrected['p50']:.1f}/"
        f"{corrected['p99']:.1f} ms uncorrected p50/p99={uncorrected['p50']:.1f}/"
        f"{uncorrected['p99']:.1f} ms"
    )


def install_storm(events: Any, channel: str, collections: Mapping[str, str] | None = None) -> Storm:
    """Create a storm for a locustfile and hook it into Locust's `events`.

    `channel`: "http" or "smtp" (the --host scheme). Every event of the schedule is sent,
    as `pulsecheck replay` sends them. `collections`: collection id -> address (default:
    the reference systems' collections).
    """
    if collections is None:
        collections = {c.id: c.address for c in default_collections()}
    if channel not in CHANNEL_SCHEMES:
        raise ValueError(f"channel must be http or smtp, got {channel!r}")
    storm = Storm(collections, channel)
    storm.hook(events)
    return storm
