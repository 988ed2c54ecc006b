"""Round schedules: the broadcast, directives over time, routing, cc, flags, sizes."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from simulator.behaviour.params import defaults
from simulator.behaviour.writing import (
    attachment_bytes,
    attachment_index,
    coworker_ids,
    html_mask,
    render_reply,
)
from simulator.columns import NO_ID, SCHEDULE, VIOLATIONS
from simulator.schedule.build import build_schedule
from tests.conftest import SCENARIOS
from tests.schedule.fixtures import MANY_VIOLATIONS, ROUND1, STRICT, make_workforce, scenario

ET = ZoneInfo("America/New_York")
DEFAULTS = defaults()


def cols(table: pa.Table) -> dict[str, np.ndarray]:
    out = {}
    for name in table.schema.names:
        column = table.column(name)
        if pa.types.is_dictionary(column.type):
            column = pc.cast(column, pa.string())
        elif pa.types.is_timestamp(column.type):
            column = column.cast(pa.int64())
        out[name] = column.to_numpy(zero_copy_only=False)
    return out


def at(*args: int) -> int:
    """Microseconds since the epoch of an Eastern wall-clock time."""
    return int(dt.datetime(*args, tzinfo=ET).timestamp() * 1e6)


PAUSES = """
[[rounds.directives]]
agency = "DOD"
action = "pause"
at = 2025-02-23T12:00:00

[[rounds.directives]]
agency = "HHS"
action = "comply"
at = 2025-02-23T10:30:00

[[rounds.directives]]
agency = "HHS"
action = "pause"
at = 2025-02-23T17:30:00
"""
VOLUNTARY = """
[[rounds.directives]]
agency = "*"
action = "voluntary"
at = 2025-02-24T15:00:00
"""
UNITS = [("DOD", "ARMY", 20_000), ("HHS", "NIH", 20_000), ("VA", "VHA", 20_000)]


@pytest.fixture(scope="module")
def workforce() -> pa.Table:
    return make_workforce(UNITS, away=0.07, stale=0.01, contractor=0.01, sensitive=0.02)


@pytest.fixture(scope="module")
def round1(workforce: pa.Table) -> dict[str, np.ndarray]:
    return cols(build_schedule(scenario(ROUND1 + PAUSES + VOLUNTARY), workforce, 11))


def test_schema_is_exactly_schedule_and_rows_are_time_ordered(workforce: pa.Table) -> None:
    table = build_schedule(scenario(ROUND1), workforce, 1)
    assert table.schema.equals(SCHEDULE, check_metadata=False)
    c = cols(table)
    assert np.array_equal(c["event_id"], np.arange(table.num_rows))
    assert np.all(np.diff(c["t_intended"]) >= 0)
    assert set(c["kind"]) == {"broadcast", "reply", "auto_reply", "bounce"}


def test_broadcast_covers_everyone_once_in_contiguous_transactions(
    round1: dict[str, np.ndarray], workforce: pa.Table
) -> None:
    b = round1["kind"] == "broadcast"
    first, count = round1["rcpt_first"][b], round1["rcpt_count"][b]
    order = np.argsort(first)
    assert first[order][0] == 0 and np.all(first[order][1:] == (first + count)[order][:-1])
    assert count.sum() == workforce.num_rows and count.max() == 500
    t = round1["t_intended"][b]
    assert t.min() == at(2025, 2, 22, 16, 30) and t.max() < at(2025, 2, 22, 16, 48)
    assert np.all(round1["sender_id"][b] == NO_ID)


def _replies(c: dict[str, np.ndarray], dept: str) -> np.ndarray:
    return c["t_intended"][(c["kind"] == "reply") & (c["agency"] == dept)]


def test_pause_cancels_replies_planned_after_it(round1: dict[str, np.ndarray]) -> None:
    pause = at(2025, 2, 23, 12, 0)
    dod, va = _replies(round1, "DOD"), _replies(round1, "VA")
    assert np.sum(dod < pause) > 0.5 * np.sum(va < pause)  # before it, DoD replies as usual
    after_dod, after_va = np.sum(dod >= pause), np.sum(va >= pause)
    expected = DEFAULTS["propensity.pause"] / DEFAULTS["propensity.comply"]
    assert after_va > 1000 and after_dod < 2 * expected * after_va  # a few reply anyway


def test_hhs_responds_then_pauses(round1: dict[str, np.ndarray]) -> None:
    respond, pause = at(2025, 2, 23, 10, 30), at(2025, 2, 23, 17, 30)
    hhs, va = _replies(round1, "HHS"), _replies(round1, "VA")
    inside = (hhs >= respond) & (hhs < pause)
    va_inside = (va >= respond) & (va < pause)
    assert abs(inside.sum() - va_inside.sum()) < 0.3 * va_inside.sum() + 20
    assert np.sum(hhs >= pause) < 0.1 * np.sum(va >= pause)


def test_voluntary_from_monday_lowers_later_replies(workforce: pa.Table) -> None:
    without = cols(build_schedule(scenario(ROUND1), workforce, 11))
    with_notice = cols(build_schedule(scenario(ROUND1 + VOLUNTARY), workforce, 11))
    notice = at(2025, 2, 24, 15, 0)
    before = [np.sum(_replies(c, "VA") < notice) for c in (without, with_notice)]
    after = [np.sum(_replies(c, "VA") >= notice) for c in (without, with_notice)]
    assert before[0] == before[1]  # replies already sent are untouched
    ratio = DEFAULTS["propensity.voluntary"] / DEFAULTS["propensity.comply"]
    assert after[0] > 500 and abs(after[1] / after[0] - ratio) < 0.06


WEEKLY = """
[[rounds]]
id = "r2"
send_time = 2025-02-28T19:00:00
send_window_minutes = 30
deadline = 2025-03-03T23:59:00
collection = "opm-hr"
routing = { DHS = "dhs" }

[[rounds.directives]]
agency = "DOD"
action = "required"
within_hours = 48

[[rounds.directives]]
agency = "NOAA"
action = "comply"
form_letter = true
"""
COLLECTIONS = """
[[collections]]
id = "opm-hr"
address = "hr@opm.example"

[[collections]]
id = "dhs"
address = "accountability@hq.dhs.example"
kind = "agency"
internal_to = "DHS"
"""


@pytest.fixture(scope="module")
def weekly() -> tuple[dict[str, np.ndarray], pa.Table]:
    units = [
        ("DOD", "NAVY", 8000),
        ("DHS", "TSA", 4000),
        ("DOC", "NOAA", 4000),
        ("VA", "VHA", 8000),
    ]
    wf = make_workforce(units, away=0.05, sensitive=0.02, seed=3)
    return cols(build_schedule(scenario(WEEKLY, COLLECTIONS), wf, 5)), wf


def test_reply_within_48_hours_of_receipt(weekly: tuple[dict[str, np.ndarray], pa.Table]) -> None:
    c, _ = weekly
    window_end = at(2025, 2, 28, 19, 30)
    limit = window_end + 48 * 3600 * 10**6
    dod, va = _replies(c, "DOD"), _replies(c, "VA")
    assert len(dod) > 1000 and dod.max() <= limit
    assert va.max() > limit  # others may take until the round's deadline


def test_internal_routing_and_cc(weekly: tuple[dict[str, np.ndarray], pa.Table]) -> None:
    c, wf = weekly
    r = c["kind"] == "reply"
    assert set(c["collection"][r & (c["agency"] == "DHS")]) == {"dhs"}
    assert set(c["collection"][r & (c["agency"] != "DHS")]) == {"opm-hr"}
    assert set(c["collection"][~r]) == {""}
    managers = wf.column("manager_id").to_numpy()
    assert np.array_equal(c["cc_id"][r], managers[c["sender_id"][r]])
    assert np.array_equal(c["rcpt_count"][r], np.where(c["cc_id"][r] == NO_ID, 1, 2))
    assert np.any(c["rcpt_count"][r] == 1)  # a unit head replied, with nobody in cc


def test_form_letter_where_the_directive_says(
    weekly: tuple[dict[str, np.ndarray], pa.Table],
) -> None:
    c, _ = weekly
    r = c["kind"] == "reply"
    assert set(c["content"][r & (c["agency"] == "DOC")]) == {"form_letter", "sensitive"}
    assert "form_letter" not in set(c["content"][r & (c["agency"] != "DOC")])


def test_away_and_stale_staff(round1: dict[str, np.ndarray], workforce: pa.Table) -> None:
    away = workforce.column("is_away").to_numpy(zero_copy_only=False)
    stale = workforce.column("is_stale").to_numpy(zero_copy_only=False)
    kind, sender = round1["kind"], round1["sender_id"]
    repliers = sender[kind == "reply"]
    assert not away[repliers].any() and not stale[repliers].any()
    assert len(np.unique(repliers)) == len(repliers)
    auto = sender[kind == "auto_reply"]
    assert away[auto].all() and not stale[auto].any() and len(np.unique(auto)) == len(auto)
    bounced = np.sort(sender[kind == "bounce"])
    assert np.array_equal(bounced, np.flatnonzero(stale))
    assert set(round1["content"][kind == "bounce"]) == {"dsn"}


def test_sensitive_staff_send_the_statement(
    round1: dict[str, np.ndarray], workforce: pa.Table
) -> None:
    sensitive = workforce.column("is_sensitive").to_numpy(zero_copy_only=False)
    r = round1["kind"] == "reply"
    assert np.array_equal(round1["content"][r] == "sensitive", sensitive[round1["sender_id"][r]])


def test_same_seed_same_schedule_other_seed_other(workforce: pa.Table) -> None:
    s = scenario(ROUND1 + PAUSES)
    a, b, c = (build_schedule(s, workforce, seed) for seed in (3, 3, 4))
    assert a.equals(b)
    assert not a.equals(c)


def test_sizes_are_header_plus_the_rendered_body(
    round1: dict[str, np.ndarray], workforce: pa.Table
) -> None:
    first = workforce.column("first_name").to_pylist()
    last = workforce.column("last_name").to_pylist()
    occupation = pc.cast(workforce.column("occupation"), pa.string()).to_pylist()
    person = np.flatnonzero(round1["kind"] != "broadcast")
    sample = np.random.default_rng(0).choice(person, 400, replace=False)
    html = html_mask(11, sample.astype(np.int64), DEFAULTS["content.html"])
    for i, h in zip(sample, html, strict=True):
        s = int(round1["sender_id"][i])
        is_html = bool(h) and round1["kind"][i] == "reply"
        text = render_reply(
            11,
            int(i),
            round1["content"][i],
            round1["violation"][i],
            occupation[s],
            first[s],
            last[s],
            is_html,
        )
        expected = DEFAULTS["content.header_bytes"] + len(text.encode())
        if round1["violation"][i] != "attachment":
            assert round1["size_bytes"][i] == expected
        else:
            assert round1["size_bytes"][i] > expected + 60_000  # the attachment itself


def test_sizes_of_rule_breaking_replies_count_coworkers_and_attachments() -> None:
    """Every violation kind, HTML or not: the body names a real co-worker (the cc'd
    manager, else a neighbour) whose name is sized, and an attachment adds its part."""
    wf = make_workforce([("HHS", "NIH", 3000)], seed=4)
    s = scenario(ROUND1 + STRICT, behaviour=MANY_VIOLATIONS)
    c = cols(build_schedule(s, wf, 13))
    first = wf.column("first_name").to_pylist()
    last = wf.column("last_name").to_pylist()
    occupation = pc.cast(wf.column("occupation"), pa.string()).to_pylist()
    rows = np.flatnonzero(c["violation"] != "")
    assert set(c["violation"][rows]) == set(VIOLATIONS[1:])
    html = html_mask(13, rows.astype(np.int64), DEFAULTS["content.html"])
    assert html.any() and not html.all()
    named = coworker_ids(c["sender_id"][rows], c["cc_id"][rows], wf.num_rows)
    for i, h, other in zip(rows, html, named, strict=True):
        sender, violation = int(c["sender_id"][i]), c["violation"][i]
        assert other != sender
        if violation == "coworker_name" and c["cc_id"][i] != NO_ID:
            assert other == c["cc_id"][i]  # the manager in cc
        text = render_reply(
            13,
            int(i),
            "bullets",
            violation,
            occupation[sender],
            first[sender],
            last[sender],
            bool(h),
            coworker=f"{first[other]} {last[other]}",
        )
        expected = DEFAULTS["content.header_bytes"] + len(text.encode())
        if violation == "coworker_name":
            assert f"{first[other]} {last[other]}" in text
        if violation == "attachment":
            expected += attachment_bytes()[attachment_index(13, int(i), occupation[sender])]
        assert c["size_bytes"][i] == expected


def test_round1_defaults_give_more_than_a_million_at_full_scale() -> None:
    """At 2% scale the reply share must exceed 1M / 2,313,216 (the White House figure)."""
    from simulator.scenario import load_scenario
    from simulator.workforce import build_workforce, load_tables

    wf = build_workforce(0.02, 20250222, load_tables())
    c = cols(build_schedule(load_scenario(SCENARIOS / "opm-round1.toml"), wf, 20250222))
    share = np.sum(c["kind"] == "reply") / wf.num_rows
    assert share > 1_000_000 / 2_313_216
    assert share < 0.6  # and not most of the workforce: several departments paused
