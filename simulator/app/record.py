"""The run record: what a run did and measured, versioned, as `run.json` in its directory.

Theory of operation: `pulsecheck run` writes one `RunRecord` after the replay, with
everything the report shows that the results table does not hold: how the run was made
(`RunInfo`), the store check, the thresholds, per-agency counts, the cost and capacity
document, the reply-all model's figures, and the names of the report's sections and
figures. `pulsecheck report` reads it back (`read_record`, which checks the schema) and
rebuilds the page from it and the run directory's other files, so the page is the same
whichever command wrote it. A run directory made by `pulsecheck replay` or a Locust run
has no record; the report then says what it lacks.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from simulator.scenario import Threshold
from simulator.traffic.record import RUN_FILE
from simulator.validation import InputError

RECORD_SCHEMA = "pulsecheck.run/2"
RECORD_FILE = RUN_FILE
SCENARIO_COPY = "scenario.toml"  # the scenario as run, copied into the run directory
SCENARIO_KINDS = ("mass-reply", "reply-all")


@dataclass(frozen=True)
class RunInfo:
    """How the run was made."""

    kind: str  # one of SCENARIO_KINDS
    scenario: str  # the scenario file as given
    target: str  # "embedded mailbox", "embedded api", or the user's URL
    protocol: str  # "smtp" or "http"
    speedup: float
    concurrency: int
    workers: int
    scale: float | None  # share of the workforce (mass reply)
    list_size: int | None  # members of the replayed list (reply-all)
    started_at: str  # ISO 8601, UTC
    wall_s: float
    version: str
    command: str
    timezone: str = "UTC"  # IANA zone of the scenario's clock (its first round's)
    window: dict[str, Any] | None = None  # the replayed window (schedule.window), if any


@dataclass(frozen=True)
class StoreCheck:
    acknowledged: int
    stored: int  # acknowledged events found in the store
    missing: int  # acknowledged but not stored: lost
    extra_rows: int  # rows (messages) in the store no acknowledged event accounts for
    duplicates: int = 0  # acknowledged events stored more than once
    source: str = "store.db"  # what was read: the reference store, or imap://user@host/BOX


@dataclass(frozen=True)
class RunRecord:
    scenario_name: str
    run: RunInfo
    thresholds: tuple[Threshold, ...] = ()
    store_check: StoreCheck | None = None  # None: the target's store was not read
    agencies: dict[str, dict[str, int]] | None = None  # recipients and replies per department
    cost: dict[str, Any] | None = None  # the cost and capacity document (cost.plan)
    replyall: dict[str, Any] | None = None  # the model's figures and the replayed storm's
    sections: tuple[str, ...] = ()  # section titles of the page, in order
    figures: tuple[str, ...] = ()  # figure names of the page, in order
    speedup_auto: dict[str, Any] | None = None  # --speedup auto: the probe and the choice
    schema: str = field(default=RECORD_SCHEMA)

    def to_json(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["thresholds"] = [asdict(t) for t in self.thresholds]
        return doc


def write_record(run_dir: Path, record: RunRecord) -> Path:
    path = run_dir / RECORD_FILE
    path.write_text(json.dumps(record.to_json(), indent=2, default=str) + "\n", encoding="utf-8")
    return path


def read_record(run_dir: Path) -> RunRecord | None:
    """The run's record, or None when the directory has none (a bare replay)."""
    path = run_dir / RECORD_FILE
    if not path.exists():
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise InputError(str(path), "(file)", str(path), f"must be JSON: {err}") from None
    if not isinstance(doc, dict) or doc.get("schema") != RECORD_SCHEMA:
        found = doc.get("schema") if isinstance(doc, dict) else type(doc).__name__
        raise InputError(str(path), "schema", found, f"must be {RECORD_SCHEMA}")
    try:
        return RunRecord(
            scenario_name=str(doc["scenario_name"]),
            run=RunInfo(**doc["run"]),
            thresholds=tuple(Threshold(**t) for t in doc["thresholds"]),
            store_check=StoreCheck(**doc["store_check"]) if doc["store_check"] else None,
            agencies=doc["agencies"],
            cost=doc["cost"],
            replyall=doc["replyall"],
            sections=tuple(doc["sections"]),
            figures=tuple(doc["figures"]),
            speedup_auto=doc.get("speedup_auto"),
        )
    except (KeyError, TypeError) as err:
        raise InputError(
            str(path), "(fields)", str(err), f"must be a {RECORD_SCHEMA} record"
        ) from None
