"""Exclusions: the most specific entry per category, shares drawn, on_leave from the flag."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.behaviour import exclusions
from simulator.behaviour.directives import Unit
from simulator.parameters import exclusion_categories
from simulator.scenario import Exclusion

UNITS = [Unit("DOJ", "FBI"), Unit("DOJ", "BOP"), Unit("VA", "VHA")]
CAT = exclusions.categories()


def test_categories_come_from_the_data_file_with_sourced_ranges() -> None:
    rows = exclusion_categories()
    assert {"on_leave", "no_email_access", "classified_work", "law_enforcement"} <= set(rows)
    for row in rows.values():
        assert row.share.low <= row.share.likely <= row.share.high
        assert "OPM guidance" in row.source and "2025" in row.source


def test_most_specific_entry_wins_and_defaults_fill_in() -> None:
    table = exclusions.build_table(
        [
            Exclusion("*", "no_email_access"),
            Exclusion("DOJ", "law_enforcement", 0.2, "dept"),
            Exclusion("FBI", "law_enforcement", 0.6, "bureau"),
            Exclusion("*", "law_enforcement", 0.9, "everyone"),
        ],
        UNITS,
    )
    le, ne = CAT.index("law_enforcement"), CAT.index("no_email_access")
    assert table.share[:, le].tolist() == [0.6, 0.2, 0.9]
    assert [table.reason[u][le] for u in range(3)] == ["bureau", "dept", "everyone"]
    default = exclusion_categories()["no_email_access"]
    assert table.share[:, ne].tolist() == [default.share.likely] * 3
    assert table.reason[0][ne] == default.reason


def test_draw_hits_the_shares_and_on_leave_counts_the_away_flag() -> None:
    rng = np.random.default_rng(1)
    n = 60_000
    unit = rng.integers(0, 3, n)
    away = rng.random(n) < 0.07
    stale = rng.random(n) < 0.01
    table = exclusions.build_table(
        [Exclusion("*", "on_leave"), Exclusion("DOJ", "law_enforcement", 0.3)], UNITS
    )
    cat = exclusions.draw(rng.random(n), unit, away, stale, table)
    assert np.array_equal(cat == CAT.index("on_leave"), away & ~stale)
    le = cat == CAT.index("law_enforcement")
    present_doj = ~away & ~stale & (unit < 2)
    assert not le[unit == 2].any() and not le[stale].any()
    assert le[present_doj].mean() == pytest.approx(0.3, abs=0.015)


def test_larger_share_only_adds_people() -> None:
    rng = np.random.default_rng(2)
    n = 5000
    u, unit, no = rng.random(n), np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.bool_)

    def excluded(share: float) -> np.ndarray:
        t = exclusions.build_table([Exclusion("FBI", "classified_work", share)], UNITS)
        return exclusions.draw(u, unit, no, no, t) != exclusions.NOT_EXCLUDED

    small, large = excluded(0.1), excluded(0.4)
    assert small.sum() > 0 and (large & small).sum() == small.sum() and large.sum() > small.sum()


def test_report_counts_by_agency_category_and_reason() -> None:
    table = exclusions.build_table([Exclusion("FBI", "law_enforcement", 1.0, "agents")], UNITS)
    category = np.array([CAT.index("law_enforcement")] * 3 + [exclusions.NOT_EXCLUDED] * 2)
    unit = np.array([0, 0, 0, 1, 2])
    department = np.array([0, 0, 0, 0, 1])
    rows = exclusions.report(category, unit, department, ["DOJ", "VA"], table)
    assert rows == [exclusions.ExclusionRow("DOJ", "law_enforcement", "agents", 3)]
