"""The reply-all kind: the storm model on the full list, and a scaled-down storm replayed.

Theory of operation: the model runs on the full list (one seeded run, each defence side
by side, the band of `BAND_RUNS` runs). Then the scenario is scaled to
`[replyall.replay] list_size` members (`scale_down`), one seeded run becomes an event
table (`storm_events`: the original to the whole list, each reply-all again to the whole
list as one SMTP transaction with a RCPT per member, refused posts and automatic answers
as single deliveries), and it is replayed open-loop against the reference SMTP mailbox in
a child process with the list's directory. With `[replyall.replay] defences = "none"` the
defences are switched off first, to watch what an unguarded list does to the server; a
mailbox receiving limit in the scenario is enforced by the mailbox too, on a clock sped up
as much as the replay. The record keeps the model's figures and tables (the band's
per-minute curves in `replyall_curves.npz`), and the page shows both beside the backlog
that formed in the real mailbox.
"""

from __future__ import annotations

import dataclasses
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from simulator.app.kinds import Executed, Figures, Sections
from simulator.app.progress import Steps
from simulator.app.record import SCENARIO_COPY, RunRecord, StoreCheck
from simulator.app.serving import check_store, serving
from simulator.collect.policy import Policy
from simulator.collect.servers import ServerSpec
from simulator.collections import Collection
from simulator.replay.engine import ReplayOptions
from simulator.replyall.defences import DEFENCE_NAMES
from simulator.replyall.observed import delivery_curves
from simulator.replyall.params import ReplyAllScenario, parse_replyall
from simulator.replyall.replay import ROUND, list_workforce, scale_down, storm_events
from simulator.replyall.section import (
    StormView,
    model_figures,
    model_parts,
    model_storm,
    replay_figures,
    replay_parts,
    view_of,
)
from simulator.rules import ContentRules
from simulator.scenario import read_toml
from simulator.schedule.io import ScheduleManifest, write_schedule
from simulator.tables import read_stage
from simulator.traffic.record import read_results
from simulator.validation import Fields
from simulator.workforce import write_workforce

if TYPE_CHECKING:
    from simulator.app.replaying import LiveFactory

BAND_RUNS = 100
CURVES_FILE = "replyall_curves.npz"


@dataclass(frozen=True)
class ReplyAllPlan:
    scenario: ReplyAllScenario  # with the replay speedup the run uses
    out: Path


@dataclass(frozen=True)
class StormSent:
    scenario: ReplyAllScenario  # the scaled-down storm that was sent
    events: pa.Table  # its SCHEDULE rows
    summary: dict[str, Any]  # the replay engine's summary
    check: StoreCheck


def mailbox_spec(sc: ReplyAllScenario, out: Path) -> ServerSpec:
    """The reference mailbox for the list: members and sender admitted, no collections."""
    limit = sc.defences.mailbox_receiving_limit
    return ServerSpec(
        kind="mailbox",
        store_path=str(out / "store.db"),
        rules_by_round={ROUND: ContentRules()},
        workforce_path=str(out / "workforce.parquet"),
        collections=list[Collection](),
        broadcast_sender=sc.sender,
        time_scale=sc.replay.speedup,
        policy=Policy(per_hour=limit.per_hour) if limit.enabled else Policy(),
    )


def sent_scenario(sc: ReplyAllScenario) -> ReplyAllScenario:
    """The scaled-down storm the replay sends (unguarded when the replay asks for it)."""
    if sc.replay.defences == "none":
        sc = sc.with_defences(**dict.fromkeys(DEFENCE_NAMES, False))
    return scale_down(sc, sc.replay.list_size)


def replay_storm(
    sc: ReplyAllScenario,
    out: Path,
    seed: int,
    steps: Steps,
    live: LiveFactory | None = None,
) -> StormSent:
    """Build, serve and replay the scaled-down storm of `sc`; check the store."""
    from simulator.app.mass_reply import replay_figure
    from simulator.app.replaying import ReplayRequest, replay_watched

    plan = sc.replay
    with steps.step("storm") as step:
        small = sent_scenario(sc)
        events = storm_events(small, seed, max_events=plan.max_events)
        workforce = list_workforce(small, seed)
        out.mkdir(parents=True, exist_ok=True)
        write_workforce(workforce, out / "workforce.parquet")
        manifest = ScheduleManifest(scenario=sc.name, seed=seed, list_size=plan.list_size)
        write_schedule(events, out / "schedule.parquet", manifest)
        fan = events.column("rcpt_count").to_numpy()
        step.done(
            f"{events.num_rows:,} messages, {int(fan.sum()):,} deliveries on a list of "
            f"{plan.list_size:,} (speedup {plan.speedup:g})"
        )
    (out / "store.db").unlink(missing_ok=True)
    options = ReplayOptions(
        speedup=plan.speedup,
        concurrency=plan.concurrency,
        max_events=plan.max_events,
        max_duration_s=plan.max_duration_s,
        broadcast_sender=sc.sender,
        seed=seed,
    )
    with ExitStack() as stack:
        with steps.step("collection system") as step:
            url = stack.enter_context(serving(mailbox_spec(sc, out), steps.say))
            step.done(f"embedded mailbox on {url}")
        request = ReplayRequest(
            out / "schedule.parquet", out / "workforce.parquet", url, out, options
        )
        with steps.step("replay", heartbeat=live is None) as step:
            summary = replay_watched(request, live, sc.timezone).summary
            step.done(replay_figure(summary))
    with steps.step("store check") as step:
        check = check_store(read_results(out), out / "store.db")
        step.done(
            f"{check.stored:,} of {check.acknowledged:,} acknowledged stored, "
            f"{check.missing:,} lost"
        )
    return StormSent(small, events, summary, check)


STAGES = ["model", "storm", "collection system", "replay", "store check"]


def execute(plan: ReplyAllPlan, steps: Steps, live: LiveFactory | None = None) -> Executed:
    sc = plan.scenario
    with steps.step("model") as step:
        model = model_storm(sc, BAND_RUNS, sc.seed)
        p10, p50, p90 = model.band.figures["deliveries"]
        step.done(
            f"{p50:,.0f} deliveries (P10 {p10:,.0f}, P90 {p90:,.0f}) over {BAND_RUNS} runs, "
            f"ended by {_ended_by(model.band.ended_by)}"
        )
    storm = replay_storm(sc, plan.out, sc.seed, steps, live)
    curves = delivery_curves(read_results(plan.out), storm.events)
    steps.say(
        f"mailbox: peak backlog {curves.peak_backlog:,.0f} deliveries, drained "
        f"{curves.drain_s():.2f} s after the peak"
    )
    view = view_of(model)
    np.savez_compressed(plan.out / CURVES_FILE, **view.curves)  # type: ignore[arg-type]
    return Executed(
        target="embedded mailbox",
        protocol="smtp",
        store_check=storm.check,
        replyall={
            "model": model.to_json(),
            "view": view.to_json(),
            "replay": {
                "peak_backlog": curves.peak_backlog,
                "drain_s": curves.drain_s(),
                "deliveries": int(storm.events.column("rcpt_count").to_numpy().sum()),
            },
        },
    )


def _ended_by(counts: dict[str, int]) -> str:
    """ "exchange_protection (100 runs)": what ended the runs, most often first."""
    ranked = sorted(counts.items(), key=lambda kv: -kv[1])
    return ", ".join(f"{name} ({n:,} run{'s' if n != 1 else ''})" for name, n in ranked)


def scenario_copy(run_dir: Path, speedup: float) -> ReplyAllScenario:
    """The scenario as run, from the copy in the run directory, at the run's speedup."""
    path = run_dir / SCENARIO_COPY
    sc = parse_replyall(Fields(read_toml(path), str(path)))
    return dataclasses.replace(sc, replay=dataclasses.replace(sc.replay, speedup=speedup))


class ReplyAll:
    name = "reply-all"

    def report_parts(
        self, run_dir: Path, record: RunRecord, results: pa.Table
    ) -> tuple[Figures, Sections]:
        if record.replyall is None or record.store_check is None:
            return {}, []
        with np.load(run_dir / CURVES_FILE) as data:
            view = StormView.from_json(record.replyall["view"], {k: data[k] for k in data.files})
        sc = scenario_copy(run_dir, record.run.speedup)
        events = read_stage(run_dir / "schedule.parquet", "schedule")
        curves = delivery_curves(results, events)
        check = dataclasses.asdict(record.store_check)
        figures = {**model_figures(view), **replay_figures(curves, sc.replay.speedup)}
        sections = [
            (
                f"Reply-all storm on the full list ({view.list_size:,} members)",
                "".join(model_parts(view)),
            ),
            (
                "Reply-all storm replayed against the reference mailbox",
                "".join(replay_parts(sent_scenario(sc), events, curves, check)),
            ),
        ]
        return figures, sections


KIND = ReplyAll()
