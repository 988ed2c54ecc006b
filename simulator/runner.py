"""`pulsecheck run`: every stage in order, against the embedded collection systems.

Theory of operation: this is the one place that chains the stages, and it does so through
the same files a user would see: `workforce.parquet`, `schedule.parquet`, the replay's
`results.parquet` and histograms, the collection store `store.db`, then `run.json`,
`summary.json` and `report.html`, all in the run directory. The collection server runs
in a child process (its own core), the replay in this one. After the replay the server
is stopped with SIGTERM (drain, flush, close) and the store is read back: every event the
replay saw acknowledged must be in it, exactly once, or it counts as lost.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from simulator.collect.servers import ServerProcess, ServerSpec
from simulator.collections import Collection as StoreCollection
from simulator.replay.engine import ReplayOptions, replay
from simulator.replay.targets import make_target
from simulator.report.summary import ACKNOWLEDGED, column
from simulator.scenario import Scenario
from simulator.schedule.build import build_schedule
from simulator.schedule.io import rendering_of, write_schedule
from simulator.traffic.record import write_run
from simulator.workforce import build_workforce, load_tables, write_workforce

Say = Callable[[str], None]

# The replay names each event in its store key: the SMTP Message-ID
# `<EVENT.SEED@pulsecheck.example>` or the API idempotency key `SEED-EVENT`.
_EVENT_KEY = re.compile(r"<(\d+)\.\d+@pulsecheck\.example>|/\d+-(\d+)$")
API_SECRET = b"pulsecheck-run-local"  # the embedded API's token secret; loopback only


@dataclass(frozen=True)
class RunPlan:
    scenario: Scenario
    scale: float
    speedup: float
    out: Path
    protocol: str  # "smtp" (mailbox) or "http" (API), for the embedded systems
    live: bool = False


@dataclass(frozen=True)
class StoreCheck:
    acknowledged: int
    stored: int  # acknowledged events found in the store
    missing: int  # acknowledged but not stored: lost
    extra_rows: int  # rows in the store no acknowledged event accounts for


def build_inputs(plan: RunPlan, say: Say) -> tuple[pa.Table, pa.Table]:
    """Stages 1 and 2: the workforce and every round's schedule, written to the run dir."""
    spec = plan.scenario.workforce
    started = time.perf_counter()
    workforce = build_workforce(plan.scale, spec.seed, load_tables(_tables_dir(spec.tables)))
    write_workforce(workforce, plan.out / "workforce.parquet")
    say(f"workforce: {workforce.num_rows:,} employees ({time.perf_counter() - started:.1f} s)")
    started = time.perf_counter()
    schedule = build_schedule(plan.scenario, workforce, spec.seed)
    manifest = {"scenario": plan.scenario.name, "rendering": rendering_of(plan.scenario, spec.seed)}
    write_schedule(schedule, plan.out / "schedule.parquet", manifest)
    say(f"schedule: {schedule.num_rows:,} events ({time.perf_counter() - started:.1f} s)")
    return workforce, schedule


def _tables_dir(tables: str) -> Path | None:
    return None if tables == "builtin" else Path(tables)


def server_spec(plan: RunPlan) -> ServerSpec:
    scenario = plan.scenario
    return ServerSpec(
        kind="mailbox" if plan.protocol == "smtp" else "api",
        store_path=str(plan.out / "store.db"),
        rules_by_round={r.id: r.rules for r in scenario.rounds},
        workforce_path=str(plan.out / "workforce.parquet"),
        collections=[
            StoreCollection(c.id, c.address, c.internal_to, c.rules) for c in scenario.collections
        ],
        broadcast_sender=scenario.rounds[0].sender,
        time_scale=plan.speedup,
        secret=API_SECRET,
    )


@contextmanager
def embedded_server(plan: RunPlan, say: Say) -> Iterator[str]:
    """Stage 3: the reference collection system in a child process; yields its URL."""
    with serving(server_spec(plan), say) as url:
        yield url


@contextmanager
def serving(spec: ServerSpec, say: Say) -> Iterator[str]:
    """Run the server `spec` describes in a child process; yield its URL; stop it (SIGTERM)."""
    server = ServerProcess(spec)
    host, port = server.start()
    url = f"smtp://{host}:{port}" if spec.kind == "mailbox" else f"http://{host}:{port}/replies"
    say(f"collection system: {url} (store {spec.store_path})")
    try:
        yield url
    finally:
        code = server.stop()
        say(f"collection system stopped (exit {code})")


def replay_options(plan: RunPlan) -> ReplayOptions:
    spec = plan.scenario.replay
    return ReplayOptions(
        speedup=plan.speedup,
        concurrency=spec.concurrency,
        max_events=spec.max_events,
        max_duration_s=spec.max_duration_s,
        retries=spec.retries,
        collections={c.id: c.address for c in plan.scenario.collections},
        broadcast_sender=plan.scenario.rounds[0].sender,
        seed=plan.scenario.workforce.seed,
        html_share=float(rendering_of(plan.scenario, plan.scenario.workforce.seed)["html_share"]),
    )


def run_replay(
    out: Path, url: str, workforce: pa.Table, schedule: pa.Table, options: ReplayOptions
) -> dict[str, Any]:
    """Stage 4: the open-loop replay; writes results and histograms to `out`."""
    from simulator.tokens import mint_token

    target = make_target(url, tokens=lambda agency: mint_token(API_SECRET, agency))
    result = asyncio.run(replay(schedule, workforce, target, options))
    write_run(out, result.results, result.summary, result.corrected, result.uncorrected)
    return result.summary


def stored_event_ids(store: Path) -> tuple[np.ndarray[Any, Any], int]:
    """Event ids found in the store's replies and deliveries, and the number of rows."""
    conn = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    try:
        keys = [
            k
            for (k,) in conn.execute(
                "SELECT idem_key FROM replies UNION ALL SELECT idem_key FROM deliveries"
            )
        ]
    finally:
        conn.close()
    ids = [int(m.group(1) or m.group(2)) for k in keys if (m := _EVENT_KEY.search(k))]
    return np.unique(np.array(ids, dtype=np.int64)), len(keys)


def check_store(results: pa.Table, store: Path) -> StoreCheck:
    """Stage 5: is every acknowledged event in the store?"""
    acked = column(results, "event_id")[np.isin(column(results, "outcome"), ACKNOWLEDGED)]
    stored_ids, rows = stored_event_ids(store)
    found = np.isin(acked, stored_ids)
    return StoreCheck(
        acknowledged=int(acked.size),
        stored=int(found.sum()),
        missing=int((~found).sum()),
        extra_rows=max(rows - int(found.sum()), 0),
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


def write_meta(out: Path, meta: dict[str, Any]) -> None:
    (out / "run.json").write_text(json.dumps(meta, indent=2, default=str) + "\n")


def cost_report(plan: RunPlan) -> tuple[dict[str, Any], dict[str, tuple[str, Any]], str]:
    """Stage 6: cost and capacity from the run's files, as `pulsecheck cost --run` gives.

    Counts are scaled up to the full workforce (1 / scale) so the figures answer the
    planner's question for the real event; the run's own capacity sizes the servers.
    Returns (JSON document, figures, the terminal text for the report page).
    """
    from rich.console import Console

    from simulator.cli import build_parser
    from simulator.cli.cost import build_document, cost_figures, show

    args = build_parser().parse_args(
        [
            "cost",
            plan.scenario.path,
            "--workforce",
            str(plan.out / "workforce.parquet"),
            "--schedule",
            str(plan.out / "schedule.parquet"),
            "--run",
            str(plan.out),
            "--scale-up",
            f"{1.0 / plan.scale:g}",
        ]
    )
    doc, est, swings, first = build_document(args)
    console = Console(record=True, width=120, file=io.StringIO())
    show(doc, est, swings["year"], console)
    return doc, cost_figures(est, swings, first), console.export_text()
