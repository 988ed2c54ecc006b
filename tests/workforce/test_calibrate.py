"""The calibration report: scores, and that a distorted workforce scores worse."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from simulator.workforce import CalibrationTables, build_workforce, calibration_report
from simulator.workforce.calibrate import ks_statistic, total_variation


def _by_name(report: dict) -> dict:
    return {m["name"]: m for m in report["marginals"]}


def test_total_variation_cases() -> None:
    assert total_variation({"a": 1.0}, {"a": 1.0}) == 0.0  # identical
    assert total_variation({"a": 1.0}, {"b": 1.0}) == 1.0  # disjoint
    assert abs(total_variation({"a": 0.5, "b": 0.5}, {"a": 0.7, "b": 0.3}) - 0.2) < 1e-12


def test_ks_statistic_of_a_uniform_sample_is_small_and_of_a_shifted_one_large() -> None:
    x = np.sort(np.random.default_rng(0).random(10_000))
    assert ks_statistic(x, x) < 0.02
    assert ks_statistic(x, np.clip(x + 0.3, 0, 1)) > 0.25


def test_report_lists_every_marginal_with_scores(
    small_workforce: pa.Table, tables: CalibrationTables
) -> None:
    report = calibration_report(small_workforce, tables)
    names = set(_by_name(report))
    expected = {"department", "sub-agency", "time zone", "duty state", "grade"}
    assert expected | {"pay distribution", "pay mean", "pay median", "supervisor share"} <= names
    assert len(report["worst"]) == 5
    scores = [w["score"] for w in report["worst"]]
    assert scores == sorted(scores, reverse=True)
    assert report["provenance"]["seed"] == 7


def test_generated_workforce_is_close_to_published(tables: CalibrationTables) -> None:
    report = calibration_report(build_workforce(0.05, 2, tables), tables)
    by = _by_name(report)
    assert by["department"]["score"] < 0.001
    assert by["time zone"]["score"] < 0.01
    assert by["pay distribution"]["score"] < 0.02
    assert by["pay mean"]["score"] < 0.01 and by["pay median"]["score"] < 0.01


def test_a_workforce_without_va_scores_worse(
    small_workforce: pa.Table, tables: CalibrationTables
) -> None:
    dept = small_workforce.column("department").combine_chunks().dictionary_decode()
    distorted = small_workforce.filter(pc.not_equal(dept, "VA"))
    base = _by_name(calibration_report(small_workforce, tables))["department"]["score"]
    worse = _by_name(calibration_report(distorted, tables))["department"]["score"]
    assert worse > base + 0.15  # VA is about 21% of the workforce
