"""The weekly series: rounds from one [[rounds]] table, compliance decay, boilerplate
growth, the directives at their dates (DoD paused then 48 h, State on behalf, Energy
declines, NASA paused) and nothing after the program's end."""

from __future__ import annotations

import datetime as dt
import io
import itertools
import tomllib
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from rich.console import Console

from simulator.behaviour import directives
from simulator.behaviour.series import next_order, reply_start
from simulator.cli.schedule import print_rounds
from simulator.parameters import series_specs
from simulator.scenario import Directive, load_scenario, parse_scenario
from simulator.schedule.build import build_schedule
from simulator.schedule.summary import round_curves, series_totals
from simulator.validation import InputError
from tests.schedule.fixtures import make_workforce

ET = ZoneInfo("America/New_York")
WEEKLY = Path(__file__).resolve().parents[2] / "scenarios" / "opm-weekly.toml"
END = dt.datetime(2025, 8, 5, tzinfo=ET)

SERIES = """
[scenario]
name = "t"
[[collections]]
id = "opm-hr"
address = "hr@opm.example"
[[rounds]]
id = "w1"
send_time = 2025-02-28T19:00:00
deadline = 2025-03-03T23:59:00
cadence = "weekly"
collection = "opm-hr"
{extra}
[rounds.series]
until = 2025-03-29T00:00:00
{series}
"""


def _parse(extra: str = "", series: str = "") -> list:  # type: ignore[type-arg]
    doc = tomllib.loads(SERIES.format(extra=extra, series=series))
    return list(parse_scenario(doc, "t.toml").rounds)


# -- the scenario format ----------------------------------------------------------------
def test_weekly_scenario_is_every_friday_to_the_end() -> None:
    rounds = load_scenario(WEEKLY).rounds
    assert [r.id for r in rounds] == [f"r{k}" for k in range(2, 25)]
    assert rounds[0].send_time == dt.datetime(2025, 2, 28, 19, 0, tzinfo=ET)
    assert rounds[-1].send_time == dt.datetime(2025, 8, 1, 19, 0, tzinfo=ET)
    for r in rounds:  # Mondays 23:59 ET, across the change to daylight saving time
        assert r.send_time.weekday() == 4 and r.deadline.weekday() == 0
        assert (r.deadline.hour, r.deadline.minute) == (23, 59)
        assert r.deadline <= END and r.ends == END
        assert r.rounds_per_year == 1 and r.cadence == "once"


def test_compliance_decays_and_boilerplate_grows_by_the_data_file() -> None:
    rounds = load_scenario(WEEKLY).rounds
    specs = series_specs()
    decay = specs["compliance_decay"].default.likely
    assert specs["compliance_decay"].default.low < decay < specs["compliance_decay"].default.high
    for k, r in enumerate(rounds):
        assert r.compliance == pytest.approx(decay**k)
    shares = [r.boilerplate for r in rounds]
    assert shares[0] == specs["boilerplate_first"].default.likely
    assert all(b >= a for a, b in itertools.pairwise(shares))
    assert max(shares) == specs["boilerplate_max"].default.likely


def test_series_parameters_are_settable_and_bounded() -> None:
    rounds = _parse(series="compliance_decay = 0.5\nboilerplate_growth = 0.0")
    assert [r.id for r in rounds] == ["w1", "w2", "w3", "w4", "w5"]
    assert [r.compliance for r in rounds] == [1.0, 0.5, 0.25, 0.125, 0.0625]
    assert rounds[-1].deadline == dt.datetime(2025, 3, 29, tzinfo=ET)  # cut at the end
    assert {r.boilerplate for r in rounds} == {series_specs()["boilerplate_first"].default.likely}
    with pytest.raises(InputError, match="compliance_decay"):
        _parse(series="compliance_decay = 1.5")
    with pytest.raises(InputError, match="decay_rate"):
        _parse(series="decay_rate = 0.9")


@pytest.mark.parametrize(
    ("extra", "series", "field"),
    [
        ("rounds_per_year = 24", "", "rounds_per_year"),
        ("", "until = 2025-02-01T00:00:00", "until"),
    ],
)
def test_series_rejects_contradictions(extra: str, series: str, field: str) -> None:
    text = SERIES.format(extra=extra, series="")
    if series:
        text = text.replace("until = 2025-03-29T00:00:00", series)
    with pytest.raises(InputError, match=field):
        parse_scenario(tomllib.loads(text), "t.toml")


def test_a_series_must_be_weekly() -> None:
    text = SERIES.format(extra="", series="").replace('cadence = "weekly"', 'cadence = "once"')
    with pytest.raises(InputError, match="cadence"):
        parse_scenario(tomllib.loads(text), "t.toml")


def test_a_dated_directive_holds_from_the_send_time_of_later_rounds() -> None:
    rounds = load_scenario(WEEKLY).rounds
    unit = directives.Unit("DOD", "DOD")
    r2, r3 = rounds[0], rounds[1]
    assert directives.in_force(r2.directives, unit, r2.send_time, r2.send_time).action == "pause"
    sunday = dt.datetime(2025, 3, 2, 18, 0, tzinfo=ET)
    order = directives.in_force(r2.directives, unit, sunday, r2.send_time)
    assert (order.action, order.within_hours) == ("required", 48)
    assert directives.in_force(r3.directives, unit, r3.send_time, r3.send_time).action == (
        "required"
    )


def test_a_pause_lifted_later_starts_the_clock_then() -> None:
    send = dt.datetime(2025, 2, 28, 19, tzinfo=ET)
    later = send + dt.timedelta(hours=47)
    ds = (
        Directive("DOD", "pause"),
        Directive("DOD", "required", at=later, within_hours=48),
        Directive("NASA", "pause"),
    )
    units = [directives.Unit("DOD", "DOD"), directives.Unit("NASA", "NASA")]
    table = directives.build_table(ds, "comply", units, send)
    assert next_order(table).tolist() == [[1, 1], [0, 1]]
    start, within = reply_start(table, np.array([0, 1]), np.array([60.0, 60.0]))
    assert start.tolist() == [47 * 3600.0, 60.0]  # NASA: no later order, still paused
    assert within.tolist() == [48.0, np.inf]


# -- the schedule ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def weekly() -> pa.Table:
    wf = make_workforce(
        [
            ("DOD", "DOD", 600),
            ("DOE", "DOE", 200),
            ("STATE", "STATE", 200),
            ("NASA", "NASA", 300),
            ("VA", "VA", 1500),
        ],
        seed=3,
    )
    return build_schedule(load_scenario(WEEKLY), wf, seed=7)


def _col(t: pa.Table, name: str) -> np.ndarray:  # type: ignore[type-arg]
    return pc.cast(t.column(name), pa.string()).to_numpy(zero_copy_only=False)


def _replies(t: pa.Table) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # type: ignore[type-arg]
    reply = _col(t, "kind") == "reply"
    t_us = t.column("t_intended").cast(pa.int64()).to_numpy()
    return _col(t, "round")[reply], _col(t, "agency")[reply], t_us[reply]


def _us(when: dt.datetime) -> int:
    return int(when.timestamp() * 1_000_000)


def test_energy_never_replies_and_state_answers_once_a_round(weekly: pa.Table) -> None:
    rnd, agency, _ = _replies(weekly)
    rounds = [r.id for r in load_scenario(WEEKLY).rounds]
    assert not (agency == "DOE").any()
    for r in rounds:
        assert np.count_nonzero((rnd == r) & (agency == "STATE")) == 1
    assert np.count_nonzero((agency == "VA") & (rnd == "r2")) > 500  # others do reply


def test_nasa_stays_paused(weekly: pa.Table) -> None:
    rnd, agency, _ = _replies(weekly)
    va = np.count_nonzero((agency == "VA") & (rnd == "r2")) / 1500
    nasa = np.count_nonzero((agency == "NASA") & (rnd == "r2")) / 300
    assert nasa < 0.1 < va


def test_dod_replies_after_sunday_then_within_48_hours(weekly: pa.Table) -> None:
    rnd, agency, t_us = _replies(weekly)
    rounds = load_scenario(WEEKLY).rounds
    r2 = t_us[(rnd == "r2") & (agency == "DOD")]
    assert len(r2) > 100
    assert r2.min() >= _us(dt.datetime(2025, 3, 2, 18, tzinfo=ET))
    assert r2.max() <= _us(rounds[0].deadline)
    for r in rounds[1:]:
        mine = t_us[(rnd == r.id) & (agency == "DOD")]
        latest_receipt = r.send_time + dt.timedelta(minutes=r.send_window_minutes)
        assert len(mine) and mine.max() <= _us(latest_receipt + dt.timedelta(hours=48))
        assert mine.min() >= _us(r.send_time)


def test_nothing_after_the_end_date(weekly: pa.Table) -> None:
    t_us = weekly.column("t_intended").cast(pa.int64()).to_numpy()
    assert t_us.max() < _us(END)
    assert set(_col(weekly, "round")) == {r.id for r in load_scenario(WEEKLY).rounds}


def test_replies_decay_and_boilerplate_grows_round_over_round(weekly: pa.Table) -> None:
    curves = round_curves(weekly, load_scenario(WEEKLY))
    replies = [c.replies for c in curves]
    share = [c.boilerplate / c.replies for c in curves]
    # r2 -> r3 also loses DoD's Monday (48 h from a Friday evening is the weekend)
    assert replies[-1] < 0.35 * replies[1] < replies[1] < replies[0]
    assert share[-1] > share[1] + 0.4
    total = series_totals(curves)
    assert total.replies == sum(replies) and total.rounds == 23


def test_summary_lists_each_round_and_the_total_in_80_columns(weekly: pa.Table) -> None:
    curves = round_curves(weekly, load_scenario(WEEKLY))
    out = io.StringIO()
    print_rounds(curves, Console(width=80, file=out, color_system=None))
    text = out.getvalue()
    assert max(len(line) for line in text.splitlines()) <= 80
    for c in curves:
        assert f"│ {c.round} " in text and f"{c.replies:,}" in text
    assert "23 rounds" in text and f"{series_totals(curves).replies:,}" in text


def test_machine_replies_stop_at_the_end_too() -> None:
    """The last round is sent 5 h before the end: bounces a day late would fall after it."""
    text = SERIES.format(extra="", series="") + "[behaviour.timing]\nsoft_bounce_delay_h = 24\n"
    scen = parse_scenario(tomllib.loads(text), "t.toml")
    wf = make_workforce([("VA", "VA", 400)], stale=0.5, away=0.3, seed=1)
    t_us = build_schedule(scen, wf, seed=2).column("t_intended").cast(pa.int64()).to_numpy()
    assert t_us.max() < _us(dt.datetime(2025, 3, 29, tzinfo=ET))
