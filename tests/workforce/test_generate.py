"""The generated workforce: schema, tree, emails, determinism, proportions, flags."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.columns import NO_ID, WORKFORCE
from simulator.workforce import CalibrationTables, FlagShares, build_workforce
from simulator.workforce.layout import hq_code

EMAIL = re.compile(r"^[a-z]+\.[a-z]+\.[0-9]{7,}@[a-z0-9.-]+\.(example|test)$")


def _np(table: pa.Table, name: str) -> np.ndarray:
    column = table.column(name).combine_chunks()
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    return column.to_numpy(zero_copy_only=False)


def test_schema_is_the_workforce_contract(small_workforce: pa.Table) -> None:
    assert small_workforce.schema.equals(WORKFORCE)
    assert np.array_equal(_np(small_workforce, "employee_id"), np.arange(small_workforce.num_rows))


def test_departments_are_contiguous_id_ranges(small_workforce: pa.Table) -> None:
    dept = _np(small_workforce, "department")
    changes = np.flatnonzero(dept[1:] != dept[:-1]) + 1
    starts = [dept[0], *dept[changes]]
    assert len(starts) == len(set(starts))  # each department appears as one block


def test_each_manager_is_earlier_and_in_the_same_department(small_workforce: pa.Table) -> None:
    manager, dept = _np(small_workforce, "manager_id"), _np(small_workforce, "department")
    ids = np.arange(len(manager))
    has = manager != NO_ID
    assert np.all(manager[has] < ids[has])  # so following managers can never loop
    assert np.all(dept[manager[has]] == dept[has])


def test_heads_are_department_heads_and_small_agency_heads(
    small_workforce: pa.Table, tables: CalibrationTables
) -> None:
    manager, depth = _np(small_workforce, "manager_id"), _np(small_workforce, "depth")
    heads = np.flatnonzero(manager == NO_ID)
    assert np.all(depth[heads] == 0) and np.all(depth[manager != NO_ID] >= 1)
    subagency = _np(small_workforce, "subagency")
    small_present = {s for s in subagency if s.startswith("SMALL")}
    assert len(heads) == len(tables.departments) - 1 + len(small_present)
    parent_depth = depth[manager[manager != NO_ID]]
    assert np.array_equal(depth[manager != NO_ID], parent_depth + 1)


def test_supervisor_share_is_near_published(small_workforce: pa.Table) -> None:
    share = _np(small_workforce, "is_supervisor").mean()
    assert 0.13 < share < 0.146  # published 13.8%; the tree gives about 1/span


def test_emails_unique_lowercase_ascii_on_reserved_domains(small_workforce: pa.Table) -> None:
    emails = _np(small_workforce, "email")
    assert len(set(emails)) == len(emails)
    bad = [e for e in emails if not EMAIL.match(e)]
    assert bad == []


def test_email_carries_the_names_and_id(small_workforce: pa.Table) -> None:
    row = small_workforce.slice(123, 1).to_pylist()[0]
    first, last, rest = row["email"].split(".", 2)
    assert first == re.sub("[^a-z]", "", row["first_name"].lower())
    assert last == re.sub("[^a-z]", "", row["last_name"].lower())
    assert int(rest.split("@")[0]) == 123


def test_same_seed_same_columns_other_seed_differs(tables: CalibrationTables) -> None:
    a, b = build_workforce(0.002, 11, tables), build_workforce(0.002, 11, tables)
    assert a.equals(b)
    c = build_workforce(0.002, 12, tables)
    assert not a.column("email").equals(c.column("email"))
    assert a.column("manager_id").equals(c.column("manager_id"))  # layout depends on scale only


def test_every_department_present_at_scale_one_thousandth(tables: CalibrationTables) -> None:
    table = build_workforce(0.001, 1, tables)
    present = set(_np(table, "department"))
    assert present == {d.code for d in tables.departments}


@settings(max_examples=8, deadline=None)
@given(st.floats(0.0002, 0.02), st.integers(0, 2**31))
def test_department_counts_scale_in_proportion(
    tables: CalibrationTables, scale: float, seed: int
) -> None:
    table = build_workforce(scale, seed, tables)
    counts = dict(zip(*np.unique(_np(table, "department"), return_counts=True), strict=True))
    units_per_dept = {d.code: 1 for d in tables.departments}
    for a in (*tables.subagencies, *tables.small_agencies):
        units_per_dept[a.parent] += 1
    for dept in tables.departments:
        expected = dept.headcount * scale
        # each unit rounds by at most half a row; a tiny department keeps one row
        slack = units_per_dept[dept.code] / 2 + 1
        assert abs(counts[dept.code] - expected) <= slack, dept.code


def test_hq_rows_first_then_subagencies(small_workforce: pa.Table) -> None:
    dept, sub = _np(small_workforce, "department"), _np(small_workforce, "subagency")
    first_dhs = np.flatnonzero(dept == "DHS")[0]
    assert sub[first_dhs] == hq_code("DHS")


def test_grades_pay_and_hourly_cost_follow_the_tables(
    small_workforce: pa.Table, tables: CalibrationTables
) -> None:
    grade, pay = _np(small_workforce, "grade"), _np(small_workforce, "pay")
    g = tables.grades
    index = np.searchsorted(g.grade, grade)
    assert np.all(g.grade[index] == grade)
    assert np.all(pay >= g.pay_low[index] - 1) and np.all(pay <= g.pay_high[index] + 1)
    basis = tables.pay_basis
    per_hour = basis["compensation_per_worker"] / basis["mean_pay"] / basis["hours_worked_per_year"]
    assert np.allclose(_np(small_workforce, "hourly_cost"), pay * per_hour, rtol=1e-5)


def test_supervisors_earn_more_on_average(small_workforce: pa.Table) -> None:
    pay, sup = _np(small_workforce, "pay"), _np(small_workforce, "is_supervisor")
    assert pay[sup].mean() > pay[~sup].mean()


def test_time_zones_are_real_and_arizona_keeps_no_dst(small_workforce: pa.Table) -> None:
    tz, state = _np(small_workforce, "tz"), _np(small_workforce, "duty_state")
    for name in set(tz):
        ZoneInfo(name)
    assert set(tz[state == "AZ"]) == {"America/Phoenix"}
    assert (state == "XX").any() and len(set(tz[state == "XX"])) > 1


def test_flag_shares_can_be_overridden(tables: CalibrationTables) -> None:
    none = build_workforce(0.002, 3, tables, flags=FlagShares(0.0, 0.0, 0.0, 0.0))
    for flag in ("is_away", "is_stale", "is_contractor", "is_sensitive"):
        assert not pc.any(none.column(flag)).as_py()
    full = build_workforce(0.002, 3, tables, flags=FlagShares(1.0, 1.0, 1.0, 1.0))
    assert pc.all(full.column("is_away")).as_py()
    contractor, sup = _np(full, "is_contractor"), _np(full, "is_supervisor")
    assert np.all(contractor == ~sup)  # contractors are never supervisors


def test_flag_shares_reject_out_of_range() -> None:
    with pytest.raises(ValueError, match="away"):
        FlagShares(1.5, 0.0, 0.0, 0.0)


def test_scale_must_be_positive(tables: CalibrationTables) -> None:
    with pytest.raises(ValueError, match="scale"):
        build_workforce(0.0, 1, tables)


def test_progress_is_reported_from_zero_to_one(tables: CalibrationTables) -> None:
    seen: list[float] = []
    build_workforce(0.001, 1, tables, progress=lambda stage, done: seen.append(done))
    assert seen[0] == 0.0 and seen[-1] == 1.0 and seen == sorted(seen)
