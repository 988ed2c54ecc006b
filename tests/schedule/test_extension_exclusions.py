"""Extensions ("another chance") and exclusions in the schedule, its manifest and report."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from simulator.app.inputs import directive_records, schedule_manifest
from simulator.report.exclusions_section import exclusions_html
from simulator.schedule.build import build_schedule, exclusion_reports
from simulator.schedule.io import read_schedule_manifest, write_schedule
from simulator.schedule.summary import round_curves
from simulator.validation import InputError
from tests.schedule.fixtures import make_workforce, scenario

ET = ZoneInfo("America/New_York")
SHORT = """
[[rounds]]
id = "r1"
send_time = 2025-02-21T16:30:00
send_window_minutes = 5
deadline = 2025-02-21T20:00:00
collection = "opm-hr"
"""
OPEN = """
[rounds.extension]
at = 2025-02-21T19:00:00
horizon = 2025-02-24T23:59:00
"""
NEW_DEADLINE = """
[rounds.extension]
at = 2025-02-21T19:00:00
deadline = 2025-02-24T12:00:00
"""
NO_PULL = "timing.deadline_pull = 0.0"  # so that many miss the short deadline
WF = make_workforce([("DOJ", "FBI", 3000), ("DOJ", "BOP", 3000), ("VA", "VHA", 3000)], seed=3)


def replies(table: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    mine = pc.equal(pc.cast(table.column("kind"), pa.string()), "reply")
    t = table.filter(mine)
    return (
        t.column("t_intended").cast(pa.int64()).to_numpy(),
        t.column("sender_id").to_numpy(),
    )


def us(*args: int) -> int:
    return int(dt.datetime(*args, tzinfo=ET).timestamp() * 1e6)


def test_without_an_extension_nothing_goes_out_after_the_deadline() -> None:
    t, _ = replies(build_schedule(scenario(SHORT), WF, 1))
    assert len(t) > 0 and t.max() <= us(2025, 2, 21, 20, 0)


def test_open_extension_adds_decaying_replies_until_the_horizon() -> None:
    base, base_ids = replies(build_schedule(scenario(SHORT, behaviour=NO_PULL), WF, 1))
    t, ids = replies(build_schedule(scenario(SHORT + OPEN, behaviour=NO_PULL), WF, 1))
    deadline = us(2025, 2, 21, 20, 0)
    after = t[t > deadline]
    assert len(after) > 50
    assert t.max() <= us(2025, 2, 24, 23, 59)
    # the extension only adds: everyone who replied without it still does
    assert set(base_ids) <= set(ids) and np.count_nonzero(t <= deadline) >= len(base)
    # a faster decay leaves fewer late replies, and earlier ones
    fast = scenario(SHORT + OPEN, behaviour=NO_PULL + "\nextension.decay_h = 6.0")
    t6, _ = replies(build_schedule(fast, WF, 1))
    after6 = t6[t6 > deadline]
    assert 0 < len(after6) < 0.7 * len(after)
    assert np.median(after6) < np.median(after)


def test_new_deadline_ends_the_replies_there_and_factor_zero_adds_none() -> None:
    t, _ = replies(build_schedule(scenario(SHORT + NEW_DEADLINE, behaviour=NO_PULL), WF, 1))
    assert np.count_nonzero(t > us(2025, 2, 21, 20, 0)) > 50
    assert t.max() <= us(2025, 2, 24, 12, 0)
    none = scenario(SHORT + NEW_DEADLINE, behaviour=NO_PULL + "\nextension.propensity_factor = 0")
    t0, _ = replies(build_schedule(none, WF, 1))
    assert t0.max() <= us(2025, 2, 21, 20, 0)


def test_summary_counts_replies_before_and_after_and_by_day() -> None:
    sc = scenario(SHORT + OPEN, behaviour=NO_PULL)
    table = build_schedule(sc, WF, 1)
    (curve,) = round_curves(table, sc)
    t, _ = replies(table)
    assert curve.after_deadline == np.count_nonzero(t > us(2025, 2, 21, 20, 0)) > 0
    assert curve.before_deadline + curve.after_deadline == len(t)
    totals = [c for _, c in curve.by_day]
    assert curve.by_day[0][0] == dt.date(2025, 2, 21) and totals[-1] == len(t)
    assert totals == sorted(totals)


EXCLUDE = """
[[rounds.exclusions]]
agency = "*"
category = "on_leave"

[[rounds.exclusions]]
agency = "FBI"
category = "law_enforcement"
share = 0.5
reason = "agents"
"""
ROUND1 = SHORT.replace("2025-02-21T20:00:00", "2025-02-24T23:59:00")


def test_excluded_staff_do_not_reply_and_are_reported() -> None:
    wf = make_workforce([("DOJ", "FBI", 4000), ("VA", "VHA", 4000)], away=0.07, seed=4)
    base, _ = replies(build_schedule(scenario(ROUND1), wf, 2))
    sc = scenario(ROUND1 + EXCLUDE)
    t, ids = replies(build_schedule(sc, wf, 2))
    (report,) = exclusion_reports(sc, wf, 2).values()
    counts = {(r.agency, r.category): r.count for r in report}
    assert counts[("DOJ", "law_enforcement")] == pytest.approx(0.5 * 4000 * 0.93, rel=0.1)
    assert counts[("VA", "on_leave")] == pytest.approx(0.07 * 4000, rel=0.25)
    assert ("VA", "law_enforcement") not in counts
    fbi_replies = np.count_nonzero(ids < 4000)
    assert fbi_replies < 0.6 * np.count_nonzero(
        replies(build_schedule(scenario(ROUND1), wf, 2))[1] < 4000
    )
    assert len(t) < len(base)


def test_manifest_and_report_section_carry_the_records(tmp_path: Path) -> None:
    sc = scenario(SHORT + OPEN + EXCLUDE, behaviour=NO_PULL)
    table = build_schedule(sc, WF, 1)
    records = directive_records(sc, table, WF, 1)
    write_schedule(table, tmp_path / "s.parquet", schedule_manifest(sc, 1, tmp_path, 9000, records))
    manifest = read_schedule_manifest(tmp_path / "s.parquet")
    assert manifest is not None and manifest.deadlines["r1"]["after"] > 0
    rows = manifest.exclusions["r1"]
    assert any(r["reason"] == "agents" and r["count"] > 1000 for r in rows)
    doc = json.loads((tmp_path / "s.parquet.manifest.json").read_text())
    assert doc["exclusions"]["r1"] == rows
    page = exclusions_html(manifest.deadlines, manifest.exclusions)
    assert "agents" in page and "after the deadline" in page
    assert exclusions_html({"r1": {"before": 5, "after": 0}}, {}) == ""


@pytest.mark.parametrize(
    ("fragment", "field"),
    [
        ("[rounds.extension]\nat = 2025-02-21T19:00:00\n", "horizon"),
        (
            "[rounds.extension]\nat = 2025-02-21T19:00:00\ndeadline = 2025-02-21T19:30:00\n",
            "deadline",
        ),
        ("[rounds.extension]\nat = 2025-02-22T19:00:00\nhorizon = 2025-02-23T19:00:00\n", "at"),
        (
            "[rounds.extension]\nat = 2025-02-21T19:00:00\nhorizon = 2025-02-23T19:00:00\n"
            "deadline = 2025-02-23T19:00:00\n",
            "horizon",
        ),
        ('[[rounds.exclusions]]\nagency = "*"\ncategory = "asleep"\n', "category"),
        ('[[rounds.exclusions]]\nagency = "*"\ncategory = "on_leave"\nshare = 0.1\n', "share"),
        ('[[rounds.exclusions]]\nagency = "XYZ"\ncategory = "other"\n', "agency"),
        ('[[rounds.exclusions]]\nagency = "*"\ncategory = "other"\nshare = 1.5\n', "share"),
    ],
)
def test_bad_extension_or_exclusion_names_the_field(fragment: str, field: str) -> None:
    with pytest.raises(InputError) as err:
        scenario(SHORT + fragment)
    assert err.value.field.endswith(field)


def test_run_report_hook_reads_the_schedule_manifest(tmp_path: Path) -> None:
    from simulator.app.mass_reply import exclusions_section

    assert exclusions_section(tmp_path) == []
    sc = scenario(SHORT + OPEN + EXCLUDE, behaviour=NO_PULL)
    table = build_schedule(sc, WF, 1)
    records = directive_records(sc, table, WF, 1)
    write_schedule(
        table, tmp_path / "schedule.parquet", schedule_manifest(sc, 1, tmp_path, 9000, records)
    )
    ((title, body),) = exclusions_section(tmp_path)
    assert title == "Deadlines and exclusions" and "law_enforcement" in body
