"""Which directive is in force for whom and when (scenario.py semantics)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from simulator.behaviour.directives import Unit, build_table, in_force
from simulator.scenario import ACTIONS, Directive

ET = ZoneInfo("America/New_York")
SEND = dt.datetime(2025, 2, 22, 16, 30, tzinfo=ET)
SUN_1030 = dt.datetime(2025, 2, 23, 10, 30, tzinfo=ET)
SUN_1200 = dt.datetime(2025, 2, 23, 12, 0, tzinfo=ET)
SUN_1730 = dt.datetime(2025, 2, 23, 17, 30, tzinfo=ET)
MON_1500 = dt.datetime(2025, 2, 24, 15, 0, tzinfo=ET)

ROUND1 = (
    Directive("DOD", "pause", SUN_1200),
    Directive("HHS", "comply", SUN_1030),
    Directive("HHS", "pause", SUN_1730),
    Directive("*", "voluntary", MON_1500),
)
ARMY = Unit("DOD", "ARMY")
NIH = Unit("HHS", "NIH")
VHA = Unit("VA", "VHA")


def action(unit: Unit, t: dt.datetime, directives: tuple[Directive, ...] = ROUND1) -> str:
    d = in_force(directives, unit, t, SEND)
    return "comply (default)" if d is None else d.action


@pytest.mark.parametrize(
    ("unit", "hours_after_send", "expected"),
    [
        (ARMY, 1, "comply (default)"),  # before DoD paused
        (ARMY, 20, "pause"),  # Sunday 12:30: paused
        (ARMY, 47, "pause"),  # Monday 15:30: the department beats "*" voluntary
        (NIH, 18, "comply"),  # Sunday 10:30: HHS said respond
        (NIH, 25.5, "pause"),  # Sunday 18:00: then pause
        (NIH, 47, "pause"),  # Monday: HHS pause still beats "*"
        (VHA, 46, "comply (default)"),  # Monday 14:30, before OPM said voluntary
        (VHA, 47, "voluntary"),  # Monday 15:30: voluntary
    ],
)
def test_round1_directives_in_force(unit: Unit, hours_after_send: float, expected: str) -> None:
    assert action(unit, SEND + dt.timedelta(hours=hours_after_send)) == expected


def test_subagency_beats_department_beats_all() -> None:
    directives = (
        Directive("*", "voluntary"),
        Directive("DOD", "required"),
        Directive("ARMY", "pause"),
    )
    t = SEND + dt.timedelta(hours=1)
    assert action(ARMY, t, directives) == "pause"
    assert action(Unit("DOD", "NAVY"), t, directives) == "required"
    assert action(VHA, t, directives) == "voluntary"


def test_later_of_equally_specific_wins_only_once_in_effect() -> None:
    directives = (Directive("HHS", "encouraged"), Directive("HHS", "required", SUN_1030))
    assert action(NIH, SEND, directives) == "encouraged"
    assert action(NIH, SUN_1030, directives) == "required"  # `at` <= t counts


def test_a_specific_directive_not_yet_in_effect_does_not_apply() -> None:
    directives = (Directive("*", "voluntary"), Directive("ARMY", "pause", MON_1500))
    assert action(ARMY, SUN_1200, directives) == "voluntary"


def test_table_lookup_matches_in_force() -> None:
    units = [ARMY, NIH, VHA]
    table = build_table((*ROUND1, Directive("DOD", "required", None, 48.0)), "comply", units, SEND)
    for hours in np.arange(0, 55, 0.5):
        t = SEND + dt.timedelta(hours=float(hours))
        j = table.interval(np.array([hours * 3600.0]))[0]
        for u, unit in enumerate(units):
            d = in_force((*ROUND1, Directive("DOD", "required", None, 48.0)), unit, t, SEND)
            expected = "comply" if d is None else d.action
            assert ACTIONS[table.action[u, j]] == expected
    assert table.within_h[0, 0] == 48.0  # DoD: within 48 h from the send time
    assert np.isinf(table.within_h[2, 0])


def test_form_letter_flag_follows_directive() -> None:
    table = build_table(
        (Directive("NOAA", "comply", form_letter=True),),
        "comply",
        [Unit("DOC", "NOAA"), Unit("DOC", "CENSUS")],
        SEND,
    )
    assert table.form_letter[:, 0].tolist() == [True, False]
