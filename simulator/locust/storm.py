"""The Locust wiring of a storm: event hooks on the master, the workers and a local run.

Theory of operation (one run, three roles):
- master (or a lone local runner), at `test_start`: check the options and the loopback
  rule, read the schedule, plan the storm, pick a common start time, and send each
  connected worker its `Share` (`runner.send_message`; it arrives before the spawn
  message, over the same socket).
- worker: the first user to run reads the schedule and workforce (the paths come with the
  master's options), checks the plan's fingerprint against the master's, and sets up a
  `ShareRun`. Every user then claims events and sends each when due (open loop). Each
  Locust stats report (`report_to_master`) carries the rows and interval histograms
  finished since the last one; when the share is done, or the run is stopped, the worker
  sends the rest in a final "pulsecheck_done" message.
- master: `worker_report` and "pulsecheck_done" feed a `RunCollector`; when every worker
  is done it writes the run directory and stops the run (with the web UI, it stops the
  test and writes the run but leaves the UI up with the final figures until Locust's
  `--autoquit` or Ctrl-C). A stop by `--run-time` writes
  whatever arrived, with unreported events recorded as dropped.

In Locust's web UI (`simulator.locust.webui`), each answered event is also logged as two
`pulsecheck` latency rows of Locust's stats (from the intended time and from the first
send), and a "pulsecheck" tab and the `/pulsecheck` route show the collector's counts.
A local run has no worker reports, so the page's read drains the share into the
collector first, as a worker's report would.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import gevent  # type: ignore[import-untyped]  # no stubs; see the README
import gevent.lock  # type: ignore[import-untyped]
from locust.exception import StopUser
from locust.runners import MasterRunner, WorkerRunner

from simulator.collections import default_collections
from simulator.locust import webui
from simulator.locust.collector import RunCollector
from simulator.locust.options import StormOptions, add_options, read_options
from simulator.locust.plan import (
    Share,
    StormPlan,
    assign_shares,
    plan_storm,
    share_positions,
)
from simulator.locust.share import Pace, ShareRun
from simulator.safety import check_target
from simulator.schedule.io import read_rendering, read_schedule
from simulator.traffic.outcomes import Outcome
from simulator.traffic.payload import Payload
from simulator.validation import InputError
from simulator.workforce.io import read_workforce

log = logging.getLogger("pulsecheck.locust")

SHARE_MESSAGE = "pulsecheck_share"
DONE_MESSAGE = "pulsecheck_done"
REPORT_KEY = "pulsecheck"
RETRIES = 3  # as the native engine's default
RETRY_CAP_S = 5.0  # longest Retry-After honoured
FINAL_REPORT_WAIT_S = 10.0  # how long a stopping master waits for the workers' last rows
UI_FINAL_STATS_WAIT_S = 1.0  # with the web UI: time for the workers' last Locust stats
EXIT_BAD_INPUT = 2
CHANNEL_SCHEMES = {"http": ("http", "https"), "smtp": ("smtp",)}

Deliver = Callable[[int], Outcome]


@dataclass
class WorkerState:
    """What one worker process holds while it sends its share."""

    share: Share
    run: ShareRun | None = None
    payload: Payload | None = None
    origin: float = 0.0  # time.monotonic() at the common start
    final_sent: bool = False


class Storm:
    """One storm's hooks and state in this Locust process (master, worker or local)."""

    def __init__(
        self, kinds: Sequence[str] | None, collections: Mapping[str, str], channel: str
    ) -> None:
        self.channel = channel  # "http" or "smtp": the --host scheme this storm speaks
        self.kinds = None if kinds is None else tuple(kinds)
        self.collections = dict(collections)
        self.environment: Any = None
        self.options: StormOptions | None = None
        self.refused: str | None = None
        self.worker: WorkerState | None = None
        self.collector: RunCollector | None = None
        self.assigned: set[str] = set()
        self.done_workers: set[str] = set()
        self.started_at = 0.0
        self.summary: dict[str, Any] | None = None
        self.interrupted = False  # some worker was stopped before its share was done
        self._load_lock = gevent.lock.Semaphore()

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

    def _on_test_start(self, environment: Any, **_: Any) -> None:
        runner = environment.runner
        if isinstance(runner, WorkerRunner):
            return  # the share arrives as a message
        try:
            plan = self._plan(environment)
        except InputError as err:
            self._refuse(str(err))
            return
        self.collector = RunCollector(plan.event_ids, plan.offsets_us)
        self.started_at = time.time() + self.options_checked.start_delay_s
        if isinstance(runner, MasterRunner):
            self._send_shares(runner, plan)
        else:
            self.worker = WorkerState(Share(0, 1, self.started_at, plan.fingerprint))
        log.info(
            "pulsecheck storm: %d events, fingerprint %s", len(plan.offsets_us), plan.fingerprint
        )

    def _send_shares(self, runner: Any, plan: StormPlan) -> None:
        ids = [client.id for client in runner.clients.all]
        shares = assign_shares(ids, self.started_at, plan.fingerprint)
        for client_id, share in shares.items():
            runner.send_message(SHARE_MESSAGE, share.as_message(), client_id=client_id)
        self.assigned = set(shares)

    def _on_share(self, environment: Any, msg: Any, **_: Any) -> None:
        self.worker = WorkerState(Share.from_message(msg.data))

    @property
    def options_checked(self) -> StormOptions:
        assert self.options is not None
        return self.options

    def _plan(self, environment: Any) -> StormPlan:
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
        schedule = read_schedule(opts.schedule)
        return plan_storm(schedule, opts.speedup, self.kinds, opts.max_events)

    def _refuse(self, reason: str) -> None:
        self.refused = reason
        log.error("pulsecheck storm refused: %s", reason)
        self.environment.process_exit_code = EXIT_BAD_INPUT
        gevent.spawn_later(0.1, self.environment.runner.quit)

    # -- the worker side ---------------------------------------------------------------
    def prepared(self) -> WorkerState:
        """This worker's share, loaded on first use; StopUser when there is none."""
        with self._load_lock:
            state = self.worker
            if self.refused is not None or state is None:
                raise StopUser()
            if state.run is None:
                try:
                    self._load(state)
                except InputError as err:
                    self._refuse_worker(state, str(err))
                    raise StopUser() from None
            return state

    def _load(self, state: WorkerState) -> None:
        plan = self._plan(self.environment)
        if plan.fingerprint != state.share.fingerprint:
            raise InputError(
                str(self.options_checked.schedule), "(fingerprint)", plan.fingerprint,
                f"this worker's schedule differs from the master's ({state.share.fingerprint})",
            )  # fmt: skip
        positions = share_positions(len(plan.offsets_us), state.share)
        events = plan.events.take(positions)
        workforce = read_workforce(self.options_checked.workforce)
        rendering = read_rendering(self.options_checked.schedule)
        state.payload = Payload(
            events,
            workforce,
            self.collections,
            seed=rendering.seed,
            html_share=rendering.html_share,
        )
        opts = self.options_checked
        pace = Pace(opts.max_duration_s, opts.drop_after_s, opts.late_after_ms)
        state.run = ShareRun(plan.event_ids[positions], plan.offsets_us[positions], pace)
        state.origin = time.monotonic() + (state.share.start_at - time.time())

    def _refuse_worker(self, state: WorkerState, reason: str) -> None:
        self.refused = reason
        log.error("pulsecheck storm worker refused: %s", reason)
        if isinstance(self.environment.runner, WorkerRunner):
            self.environment.runner.send_message(DONE_MESSAGE, {"refused": reason})
            state.final_sent = True
        else:
            self._refuse(reason)

    def run_user(self, make_delivery: Callable[[Payload], Deliver]) -> None:
        """A user's whole life: send claimed events when due until the share is done."""
        state = self.prepared()
        run, payload = state.run, state.payload
        assert run is not None and payload is not None
        deliver = make_delivery(payload)
        while (j := run.claim()) is not None:
            _sleep_until_due(run, j, state.origin)
            now = time.monotonic() - state.origin
            if run.too_late(j, now):
                run.drop(j, "behind schedule")
                continue
            run.sent(j, now)
            out, retries = _send_with_retries(deliver, j)
            run.finish(j, time.monotonic() - state.origin, out, retries)
            self._log_latency(run, j)
        if run.finished:
            self._share_done(state, "due after max_duration", interrupted=False)
        raise StopUser()

    def _log_latency(self, run: ShareRun, j: int) -> None:
        rec = run.rec
        done = int(rec.done_at[j])
        if done < 0:
            return  # no answer: no latency
        sent = int(rec.sent[j])
        corrected_ms = (done - int(rec.intended[j])) / 1000
        uncorrected_ms = None if sent < 0 else (done - sent) / 1000
        webui.log_latency(self.environment.stats, corrected_ms, uncorrected_ms)

    def live_figures(self) -> dict[str, Any]:
        """The collector's counts so far, for the web UI (master or local run)."""
        collector = self.collector
        if collector is None:
            return {"state": "refused" if self.refused else "waiting for the test to start"}
        state = self.worker
        runner = self.environment.runner
        local = not isinstance(runner, MasterRunner | WorkerRunner)
        if local and state is not None and state.run is not None and not state.final_sent:
            collector.add(state.run.drain())  # a local run has no worker reports
        figures = collector.figures()
        figures["late_after_ms"] = self.options_checked.late_after_ms
        figures["state"] = "done" if self.summary is not None else "running"
        return figures

    def _share_done(self, state: WorkerState, reason: str, interrupted: bool) -> None:
        if state.final_sent or state.run is None:
            return
        state.final_sent = True
        state.run.close(reason)
        state.run.abandon(reason)
        report = {**state.run.drain(), "interrupted": interrupted}
        runner = self.environment.runner
        if isinstance(runner, WorkerRunner):
            runner.send_message(DONE_MESSAGE, {"report": report})
        else:
            self._accept_done("local", report)

    def _on_report_to_master(self, client_id: str, data: dict[str, Any], **_: Any) -> None:
        state = self.worker
        if state is not None and state.run is not None and not state.final_sent:
            data[REPORT_KEY] = state.run.drain()

    def _on_test_stop(self, environment: Any, **_: Any) -> None:
        state = self.worker
        if state is not None and not isinstance(environment.runner, MasterRunner):
            self._share_done(state, "stopped", interrupted=True)
        if not isinstance(environment.runner, WorkerRunner):
            self._wait_for_final_reports()

    def _on_quitting(self, environment: Any, **_: Any) -> None:
        """Write the run last, once the workers' final Locust stats are in too."""
        if not isinstance(environment.runner, WorkerRunner):
            self._finish_run()

    # -- the master side ---------------------------------------------------------------
    def _on_worker_report(self, client_id: str, data: dict[str, Any], **_: Any) -> None:
        if self.collector is not None and REPORT_KEY in data:
            self.collector.add(data[REPORT_KEY])

    def _on_done(self, environment: Any, msg: Any, **_: Any) -> None:
        if "refused" in msg.data:
            log.error("worker %s refused its share: %s", msg.node_id, msg.data["refused"])
            self.refused = str(msg.data["refused"])
            environment.process_exit_code = EXIT_BAD_INPUT
        self._accept_done(msg.node_id, msg.data.get("report"))

    def _accept_done(self, worker: str, report: dict[str, Any] | None) -> None:
        if self.collector is not None and report is not None:
            self.collector.add(report)
            self.interrupted = self.interrupted or bool(report["interrupted"])
        self.done_workers.add(worker)
        if self.done_workers >= (self.assigned or {"local"}):
            gevent.spawn_later(0.1, self._end)

    def _end(self) -> None:
        """Every share is done: quit; with the web UI, stop the test, write the run and
        keep the final figures on screen (Locust's --autoquit S ends it S seconds later)."""
        env = self.environment
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
            "engine": "locust",
            "target": env.host or "",
            "speedup": opts.speedup,
            "concurrency": int(getattr(env.parsed_options, "num_users", 0) or 0),
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


def _sleep_until_due(run: ShareRun, j: int, origin: float) -> None:
    wait = run.due_in(j, time.monotonic() - origin)
    while wait > 0:  # timers may fire early
        gevent.sleep(wait)
        wait = run.due_in(j, time.monotonic() - origin)


def _send_with_retries(deliver: Deliver, j: int) -> tuple[Outcome, int]:
    retries = 0
    while True:
        out = deliver(j)
        if out.retry_after is None or retries >= RETRIES:
            return out, retries
        retries += 1
        gevent.sleep(min(out.retry_after, RETRY_CAP_S))


def _brief(summary: Mapping[str, Any]) -> str:
    corrected = summary["latency_corrected_ms"]
    uncorrected = summary["latency_uncorrected_ms"]
    return (
        f"events={summary['events']} acknowledged={summary['acknowledged']} "
        f"outcomes={summary['outcomes']} corrected p50/p99={corrected['p50']:.1f}/"
        f"{corrected['p99']:.1f} ms uncorrected p50/p99={uncorrected['p50']:.1f}/"
        f"{uncorrected['p99']:.1f} ms"
    )


def install_storm(
    events: Any,
    channel: str,
    kinds: Sequence[str] | None,
    collections: Mapping[str, str] | None = None,
) -> Storm:
    """Create a storm for a locustfile and hook it into Locust's `events`.

    `channel`: "http" or "smtp" (the --host scheme). `kinds`: the schedule's event kinds
    this channel sends (None: all). `collections`:
    collection id -> address (default: the reference systems' collections).
    """
    if collections is None:
        collections = {c.id: c.address for c in default_collections()}
    if channel not in CHANNEL_SCHEMES:
        raise ValueError(f"channel must be http or smtp, got {channel!r}")
    storm = Storm(kinds, collections, channel)
    storm.hook(events)
    return storm
