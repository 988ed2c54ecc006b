"""The manager tree: one manager, no cycles, heads at the top, spans as asked."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.columns import NO_ID
from simulator.workforce.tree import Units, build_tree, level_starts, unit_of_rows


def _units(sizes: list[int], spans: list[float], attached: list[bool]) -> Units:
    """Units where unit 0's first row is the head the attached units report to."""
    size = np.asarray(sizes, dtype=np.int64)
    start = np.concatenate([[0], np.cumsum(size)[:-1]]).astype(np.int64)
    attach = np.asarray(attached) & (np.arange(len(sizes)) > 0) & (size[0] > 0)
    manager = np.where(attach, 0, NO_ID).astype(np.int64)
    return Units(start, size, np.asarray(spans, dtype=np.float64), manager, attach.astype(np.int64))


def _naive_depth(manager: np.ndarray) -> np.ndarray:
    depth = np.zeros(len(manager), dtype=np.int64)
    for i, m in enumerate(manager):  # managers come before their reports
        depth[i] = 0 if m == NO_ID else depth[m] + 1
    return depth


unit_lists = st.integers(1, 6).flatmap(
    lambda k: st.tuples(
        st.lists(st.integers(1, 400), min_size=k, max_size=k),
        st.lists(st.floats(1.5, 12.0), min_size=k, max_size=k),
        st.lists(st.booleans(), min_size=k, max_size=k),
    )
)


@settings(max_examples=60, deadline=None)
@given(unit_lists)
def test_every_manager_comes_earlier_so_there_are_no_cycles(case: tuple) -> None:
    units = _units(*case)
    tree = build_tree(units)
    ids = np.arange(len(tree.manager_id))
    has_manager = tree.manager_id != NO_ID
    assert np.all(tree.manager_id[has_manager] < ids[has_manager])


@settings(max_examples=60, deadline=None)
@given(unit_lists)
def test_heads_have_no_manager_and_depth_zero(case: tuple) -> None:
    units = _units(*case)
    tree = build_tree(units)
    heads = tree.manager_id == NO_ID
    assert np.all(tree.depth[heads] == 0)
    assert np.all(tree.depth[~heads] > 0)
    # heads: unit 0's root plus the root of every unit not attached to it
    assert heads.sum() == len(case[0]) - int(units.root_depth.sum())


@settings(max_examples=60, deadline=None)
@given(unit_lists)
def test_depth_is_one_more_than_the_managers(case: tuple) -> None:
    tree = build_tree(_units(*case))
    assert np.array_equal(tree.depth, _naive_depth(tree.manager_id))


@settings(max_examples=60, deadline=None)
@given(unit_lists)
def test_managers_stay_in_the_unit_or_are_the_head(case: tuple) -> None:
    units = _units(*case)
    tree = build_tree(units)
    unit = unit_of_rows(units)
    has_manager = tree.manager_id != NO_ID
    same_unit = unit[tree.manager_id[has_manager]] == unit[has_manager]
    to_head = tree.manager_id[has_manager] == 0
    assert np.all(same_unit | to_head)


@settings(max_examples=60, deadline=None)
@given(unit_lists)
def test_supervisors_are_exactly_the_rows_with_reports(case: tuple) -> None:
    tree = build_tree(_units(*case))
    reports = np.bincount(tree.manager_id[tree.manager_id != NO_ID], minlength=len(tree.depth))
    assert np.array_equal(tree.is_supervisor, reports > 0)


@settings(max_examples=40, deadline=None)
@given(st.integers(50, 5000), st.floats(2.0, 12.0))
def test_span_sets_direct_reports_inside_a_unit(size: int, span: float) -> None:
    tree = build_tree(_units([size], [span], [False]))
    reports = np.bincount(tree.manager_id[tree.manager_id != NO_ID], minlength=size)
    full = reports[tree.is_supervisor][:-1]  # the last supervisor may be partly filled
    assert full.min() >= np.floor(span) and full.max() <= np.ceil(span)
    assert abs(tree.is_supervisor.sum() - (size - 1) / span) <= 1.5


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 3000), st.floats(1.5, 12.0))
def test_level_starts_match_the_parent_rule(size: int, span: float) -> None:
    starts = level_starts(size, span)
    assert starts[0] == 0 and starts[-1] >= size
    for b in starts[1:-1]:
        # b is the first node whose parent is in the previous level or later
        assert np.floor((b - 1) / span) >= starts[list(starts).index(b) - 1]
        assert np.floor((b - 2) / span) < starts[list(starts).index(b) - 1] or b == 1
