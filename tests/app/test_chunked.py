"""A workforce and schedule built copy by copy (scale above 1), on small copies.

The copies here are at most 0.004 of the federal workforce (`largest`), so a scale of
0.0102 is three copies of about 7,800 rows: the same code path as scale 10 in ten copies
of 2.3M rows, small enough to check row by row.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from simulator.app.chunked import copy_bounds, write_schedule_parts, write_workforce_copies
from simulator.app.stages import ScheduleRequest, schedule
from simulator.cli import EXIT_BAD_INPUT, main
from simulator.columns import NO_ID, SCHEDULE, WORKFORCE
from simulator.scenario import load_scenario
from simulator.schedule.build import build_schedule
from simulator.schedule.io import read_schedule, read_schedule_manifest
from simulator.schedule.summary import round_curves
from simulator.schedule.window import resolve
from simulator.validation import InputError
from simulator.workforce import build_workforce, load_tables, read_manifest, read_workforce

ROOT = Path(__file__).resolve().parents[2]
ROUND1 = ROOT / "scenarios" / "opm-round1.toml"
SCALE, LARGEST, COPIES = 0.0102, 0.004, 3


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("copies")
    wf, sched = folder / "wf.parquet", folder / "s.parquet"
    write_workforce_copies(SCALE, 5, None, wf, largest=LARGEST)
    request = ScheduleRequest(scenario=ROUND1, workforce=wf, out=sched, seed=9)
    schedule(request)
    return wf, sched


def test_copies_are_contiguous_id_ranges_with_their_own_managers(built: tuple) -> None:
    wf, _ = built
    table = read_workforce(wf)
    bounds = copy_bounds(wf)
    assert len(bounds) == COPIES
    assert pq.ParquetFile(wf).metadata.num_row_groups >= COPIES  # a row group or more each
    ids = table.column("employee_id").to_numpy()
    assert np.array_equal(ids, np.arange(table.num_rows))
    manager = table.column("manager_id").to_numpy()
    has = manager != NO_ID
    assert (manager[has] < ids[has]).all()  # no cycles, as in one copy
    copy_of = np.searchsorted([b[2] for b in bounds], ids, side="right")
    assert np.array_equal(copy_of[manager[has]], copy_of[has])  # a manager is in one's copy
    heads = [int(np.count_nonzero(~has & (copy_of == c))) for c in range(COPIES)]
    assert heads[0] > 0 and heads == [heads[0]] * COPIES  # each copy has its own heads


def test_emails_are_unique_and_carry_the_whole_workforce_id(built: tuple) -> None:
    table = read_workforce(built[0])
    emails = table.column("email").to_pylist()
    assert len(set(emails)) == len(emails)
    digits = [e.split("@")[0].rsplit(".", 1)[1] for e in emails]
    assert [int(d) for d in digits] == table.column("employee_id").to_pylist()
    assert {len(d) for d in digits} == {7}


def test_copies_draw_their_own_streams_at_the_same_layout(built: tuple) -> None:
    table = read_workforce(built[0])
    (_, a0, a1), (_, b0, b1) = copy_bounds(built[0])[:2]
    one, two = table.slice(a0, a1 - a0), table.slice(b0, b1 - b0)
    assert one.column("subagency").to_pylist() == two.column("subagency").to_pylist()
    assert one.column("first_name").to_pylist() != two.column("first_name").to_pylist()


def test_manifest_counts_every_copy(built: tuple) -> None:
    manifest = read_manifest(built[0])
    assert manifest.rows == pq.ParquetFile(built[0]).metadata.num_rows
    assert manifest.scale == SCALE and manifest.seed == 5


def test_schedule_round_trips_through_window(built: tuple) -> None:
    _, sched = built
    events = read_schedule(sched)
    assert events.schema.equals(SCHEDULE)
    assert np.array_equal(events.column("event_id").to_numpy(), np.arange(events.num_rows))
    t = events.column("t_intended").cast(pa.int64()).to_numpy()
    assert (np.diff(t) >= 0).all()  # sorted by intended time across copies
    window = resolve("busiest:15m", t, "America/New_York")
    assert 0 < window.events <= events.num_rows
    assert window.first < window.stop


def test_schedule_events_belong_to_the_copy_of_their_sender(built: tuple) -> None:
    wf, sched = built
    people = read_workforce(wf)
    events = read_schedule(sched)
    kind = pc.cast(events.column("kind"), pa.string()).to_numpy(zero_copy_only=False)
    sender = events.column("sender_id").to_numpy()
    cc = events.column("cc_id").to_numpy()
    manager = people.column("manager_id").to_numpy()
    person = kind != "broadcast"
    assert (sender[person] >= 0).all() and (sender[person] < people.num_rows).all()
    copied = cc != NO_ID
    assert copied.any() and np.array_equal(cc[copied], manager[sender[copied]])
    bounds = copy_bounds(wf)
    senders_per_copy = np.bincount(
        np.searchsorted([b[2] for b in bounds], sender[person], side="right")
    )
    assert len(senders_per_copy) == COPIES and (senders_per_copy > 0).all()


def test_broadcast_reaches_the_whole_list_once_over_one_send_window(built: tuple) -> None:
    wf, sched = built
    events = read_schedule(sched)
    broadcast = events.filter(pc.equal(events.column("kind").cast(pa.string()), "broadcast"))
    first = broadcast.column("rcpt_first").to_numpy()
    count = broadcast.column("rcpt_count").to_numpy()
    rows = pq.ParquetFile(wf).metadata.num_rows
    assert int(count.sum()) == rows
    assert np.array_equal(np.sort(first), np.arange(0, rows, 500))
    rnd = load_scenario(ROUND1).rounds[0]
    t = broadcast.column("t_intended").cast(pa.int64()).to_numpy()
    span_min = (t.max() - t.min()) / 60e6
    assert rnd.send_window_minutes * 0.9 < span_min < rnd.send_window_minutes


def test_schedule_manifest_counts_the_whole_organisation(built: tuple) -> None:
    wf, sched = built
    manifest = read_schedule_manifest(sched)
    assert manifest is not None
    events = read_schedule(sched)
    curves = round_curves(events, load_scenario(ROUND1))
    assert manifest.deadlines == {
        c.round: {"before": c.before_deadline, "after": c.after_deadline} for c in curves
    }
    assert manifest.workforce_rows_read == pq.ParquetFile(wf).metadata.num_rows
    excluded = sum(int(r["count"]) for rows in manifest.exclusions.values() for r in rows)
    assert excluded > 0


def test_one_copy_in_parts_matches_the_whole_build(tmp_path: Path) -> None:
    """The part-and-slice path, given a single copy, gives the schedule of the whole-table
    path except for what is drawn per copy (so: same broadcasts, same event count order)."""
    wf = tmp_path / "wf.parquet"
    table = build_workforce(0.003, 2, load_tables(None))
    pq.write_table(table, wf)
    scenario = load_scenario(ROUND1)
    whole = build_schedule(scenario, table, 4)
    parts = write_schedule_parts(scenario, wf, 4, None, tmp_path / "s.parquet")
    assert parts.rows > 0
    mine = read_schedule(tmp_path / "s.parquet")
    assert mine.column("t_intended").is_valid().to_numpy(zero_copy_only=False).all()
    broadcast = pc.equal(mine.column("kind").cast(pa.string()), "broadcast")
    theirs = pc.equal(whole.column("kind").cast(pa.string()), "broadcast")
    assert (
        mine.filter(broadcast)
        .column("t_intended")
        .equals(whole.filter(theirs).column("t_intended"))
    )


def _digest(table: pa.Table) -> str:
    t = table.replace_schema_metadata(None).combine_chunks()
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, t.schema) as writer:
        writer.write_table(t)
    return hashlib.sha256(sink.getvalue().to_pybytes()).hexdigest()


def test_scale_up_to_one_is_built_whole_and_unchanged() -> None:
    """Digests of the columns as built before workforces could hold several copies."""
    wf = build_workforce(0.01, 1, load_tables(None))
    assert wf.schema.equals(WORKFORCE)
    assert _digest(wf) == "31c8d13b5bd66b81b28fc5d220f8924300d2479b979409ac26f17c0adc726db6"
    events = build_schedule(load_scenario(ROUND1), wf, 7)
    assert _digest(events) == "3b79dacbb32fd2df546dbd7f14ff9d9ba422893eb1b8c101546e599871d35ece"


def test_above_ten_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "wf.parquet"
    assert main(["workforce", "--scale", "11", "--out", str(out)]) == EXIT_BAD_INPUT
    assert "--scale" in capsys.readouterr().err and not out.exists()
    with pytest.raises(ValueError, match="scale"):
        build_workforce(10.5, 1, load_tables(None))


def test_scenario_scale_above_ten_is_refused(tmp_path: Path) -> None:
    text = ROUND1.read_text().replace("scale = 0.01", "scale = 12", 1)
    assert "scale = 12" in text
    path = tmp_path / "big.toml"
    path.write_text(text)
    with pytest.raises(InputError, match="scale"):
        load_scenario(path)


def test_run_scale_above_ten_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", str(ROUND1), "--scale", "10.5"])
    assert code == EXIT_BAD_INPUT
    assert "scale = 10.5: must be <= 10" in capsys.readouterr().err


def test_run_inputs_above_one_copy_reach_cost_with_few_columns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`pulsecheck run` past one copy: the stages after the schedule get the workforce's
    `RUN_COLUMNS` only, and the cost and the response-rate figure work from them."""
    from simulator.app import inputs
    from simulator.app.mass_reply import agency_counts
    from simulator.cost.plan import CostOptions, plan_cost

    monkeypatch.setattr(inputs, "COPY_SCALE", LARGEST)
    scenario = load_scenario(ROUND1)
    workforce = inputs.write_built_workforce(scenario, SCALE, tmp_path)
    assert workforce.column_names == list(inputs.RUN_COLUMNS)
    assert len(copy_bounds(tmp_path / "workforce.parquet")) == COPIES
    events = inputs.write_built_schedule(scenario, workforce, tmp_path)
    manifest = json.loads((tmp_path / "schedule.parquet.manifest.json").read_text())
    assert events.num_rows == manifest["rows"] > 0
    doc = plan_cost(scenario, workforce, events, CostOptions(draws=200)).document
    assert doc["inputs"]["workforce_rows"] == workforce.num_rows
    counts = agency_counts(workforce, events)
    assert sum(counts["recipients"].values()) == workforce.num_rows
    assert sum(counts["replies"].values()) > 0


def test_a_part_reports_the_exclusions_its_own_draws_made(built: tuple) -> None:
    from simulator.app.chunked import read_rows
    from simulator.schedule.build import Part, build_part, exclusion_reports
    from simulator.schedule.people import NEEDED

    wf, _ = built
    copy, start, stop = copy_bounds(wf)[1]
    rows = read_rows(wf, start, stop, NEEDED)
    scenario = load_scenario(ROUND1)
    part = Part(copy, start, copy_bounds(wf)[-1][2])
    reports: dict = {}
    build_part(scenario, rows, 9, part, None, reports)
    assert reports and reports == exclusion_reports(scenario, rows, 9, None, part)
