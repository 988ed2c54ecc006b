"""CI outputs: the verdict line, JUnit XML and the GitHub job summary, from real summaries.

Summaries are built from hand-made results tables (`tests.report.helpers`) with known
outcomes, so each check's pass or fail is known; the CLI cases run `pulsecheck report`
on a run directory and read the files it wrote.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from simulator.cli import main
from simulator.report.ci import checks, junit_xml, step_summary, verdict_line
from simulator.report.summary import build_summary
from simulator.scenario import Threshold
from tests.report.helpers import results_table
from tests.report.test_report_cli import make_run

LOST = Threshold("lost", "==", 0)
P99 = Threshold("p99_ms", "<", 100)
ERRORS = Threshold("error_rate", "<", 0.01)


def summary_of(
    outcomes: list[str], stored: int | None, thresholds: tuple[Threshold, ...]
) -> dict[str, Any]:
    latency = [5.0] * len(outcomes)
    return build_summary(
        results_table(latency, outcomes), scenario="unit", stored=stored, thresholds=thresholds
    )


def suite_of(xml: str) -> tuple[ET.Element, list[ET.Element]]:
    """The one testsuite, checked against the common JUnit fields, and its cases."""
    root = ET.fromstring(xml)
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    cases = suite.findall("testcase")
    assert int(suite.get("tests", "-1")) == len(cases) == int(root.get("tests", "-1"))
    failures = [c for c in cases if c.find("failure") is not None]
    skipped = [c for c in cases if c.find("skipped") is not None]
    assert int(suite.get("failures", "-1")) == len(failures)
    assert int(suite.get("skipped", "-1")) == len(skipped)
    assert suite.get("errors") == "0"
    for case in cases:
        assert case.get("name") and case.get("classname", "").startswith("pulsecheck.")
        assert float(case.get("time", "x")) >= 0
    return suite, cases


def properties(suite: ET.Element) -> dict[str, str]:
    return {p.get("name", ""): p.get("value", "") for p in suite.iter("property")}


def test_a_passing_run_is_one_case_per_check_and_a_pass_line() -> None:
    summary = summary_of(["ok"] * 10, 10, (LOST, P99, ERRORS))
    suite, cases = suite_of(junit_xml(summary))
    # the thresholds as written, then the run's own check (lost == 0 is not repeated)
    assert [c.get("name") for c in cases] == [
        "lost == 0",
        "p99_ms < 100",
        "error_rate < 0.01",
        "acked > 0",
    ]
    assert [c.get("classname") for c in cases][-1] == "pulsecheck.run"
    assert suite.get("failures") == "0"
    assert properties(suite)["verdict"] == "pass"
    assert verdict_line(checks(summary)) == "verdict: PASS (4 of 4 checks)"


def test_a_lost_event_fails_with_its_measured_value() -> None:
    summary = summary_of(["ok"] * 20, 8, (LOST, P99, ERRORS))
    _, cases = suite_of(junit_xml(summary))
    failed = {c.get("name"): c.find("failure") for c in cases if c.find("failure") is not None}
    assert list(failed) == ["lost == 0"]
    assert failed["lost == 0"].get("message") == "lost == 0: measured 12"  # type: ignore[union-attr]
    line = verdict_line(checks(summary))
    assert line == "verdict: FAIL (1 of 4 checks failed: lost == 0 measured 12)"


def test_no_thresholds_is_zero_cases_and_no_pass() -> None:
    summary = summary_of(["ok"] * 5, 5, ())
    suite, cases = suite_of(junit_xml(summary))
    assert cases == []
    assert properties(suite)["verdict"] == "none"
    assert "not a pass" in properties(suite)["note"]
    assert verdict_line(checks(summary)) == "verdict: none (no thresholds set)"


def test_a_target_that_acknowledged_nothing_fails_even_without_thresholds() -> None:
    summary = summary_of(["error"] * 5, None, ())
    suite, cases = suite_of(junit_xml(summary))
    assert [(c.get("name"), c.find("failure") is not None) for c in cases] == [("acked > 0", True)]
    assert properties(suite)["verdict"] == "fail"
    assert verdict_line(checks(summary)).startswith("verdict: FAIL (1 of 1 checks failed: acked")


def test_a_check_the_run_cannot_measure_is_skipped_not_passed() -> None:
    summary = summary_of(["ok"] * 5, None, (LOST, P99))  # no store read back: lost unknown
    suite, cases = suite_of(junit_xml(summary))
    skipped = [c.get("name") for c in cases if c.find("skipped") is not None]
    assert skipped == ["lost == 0"]
    assert suite.get("failures") == "0"
    line = verdict_line(checks(summary))
    assert line == "verdict: PASS (2 of 2 checks; not measured here: lost == 0)"


def test_verdict_lines_fit_80_columns_with_many_failures() -> None:
    many = tuple(Threshold("p99_ms", "<", v / 10) for v in range(1, 30))
    line = verdict_line(checks(summary_of(["ok"] * 5, 5, many)))
    assert len(line) <= 80
    assert line.startswith("verdict: FAIL (29 of 31 checks failed: p99_ms < 0.1 measured 5")
    assert "more)" in line


def test_step_summary_names_the_verdict_checks_and_figures() -> None:
    summary = summary_of(["ok"] * 9 + ["error"], 9, (LOST, ERRORS))
    summary["cost"] = {
        "estimate": {"rounds": {"r1": {"total": {"p10": 1.5e7, "p50": 2.33e7, "p90": 3.29e7}}}},
        "inputs": {"priced_scale": 1.0, "workforce_scale": 0.001, "scale_up": 1000.0},
    }
    text = step_summary(summary)
    assert text.startswith("### :x: pulsecheck unit: FAIL\n")
    assert "`verdict: FAIL (1 of 3 checks failed: error_rate < 0.01 measured 0.1)`" in text
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    assert "| `error_rate < 0.01` | threshold | 0.1 | FAIL |" in rows
    assert "| stored | 9 of 9 acknowledged |" in rows
    assert "| lost | 0 |" in rows
    assert "| corrected p99 | 5.0 ms |" in rows
    acked = next(r for r in rows if r.startswith("| acknowledged per second |"))
    duration = summary["throughput"]["duration_s"]
    assert f"| {9 / duration:,.1f} /s |" in acked  # acknowledged only, not every answer
    cost = next(r for r in rows if r.startswith("| cost P50, round r1"))
    assert "USD 23.3M (P10 15.0M to P90 32.9M) at scale 1 (run at 0.001, x1,000)" in cost
    assert "$" not in text  # GitHub reads $...$ as mathematics
    for row in rows:  # a row of the checks (4 cells) or of the figures (2 cells)
        assert row.count("|") - row.count("\\|") in (3, 5), row


@pytest.fixture
def job_summary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "step_summary.md"
    path.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(path))
    return path


def test_report_writes_junit_and_appends_the_job_summary(
    tmp_path: Path, job_summary: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "run").mkdir()
    run = make_run(tmp_path / "run", [{"metric": "p99_ms", "op": "<", "value": 100}])
    junit = tmp_path / "junit.xml"
    assert main(["report", str(run), "--junit", str(junit)]) == 99
    out = capsys.readouterr()
    assert "verdict: FAIL (1 of 4 checks failed: p99_ms < 100 measured 900)" in out.out
    _, cases = suite_of(junit.read_text())
    names = [c.get("name") for c in cases]
    assert names == ["p99_ms < 100", "acked > 0", "lost == 0", "duplicates == 0"]
    text = job_summary.read_text()
    assert text.startswith("earlier step\n### :x: pulsecheck unit: FAIL")
    main(["report", str(run)])
    assert job_summary.read_text().count("### ") == 2  # appended, as each step does


def test_report_prints_the_verdict_on_a_pass(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = make_run(tmp_path, [{"metric": "lost", "op": "==", "value": 0}])
    assert main(["report", str(run)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "verdict: PASS (3 of 3 checks)"


def test_an_unwritable_junit_path_is_bad_input_before_the_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = make_run(tmp_path, [])
    assert main(["report", str(run), "--junit", str(tmp_path / "no" / "j.xml")]) == 2
    assert "--junit" in capsys.readouterr().err
    assert not (run / "report.html").exists()


def test_run_checks_the_junit_path_before_any_load(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    smoke = Path(__file__).resolve().parents[2] / "scenarios" / "ci-smoke.toml"
    out = tmp_path / "run"
    bad = tmp_path / "missing" / "junit.xml"
    assert main(["run", str(smoke), "--out", str(out), "--junit", str(bad)]) == 2
    assert "--junit" in capsys.readouterr().err
    assert not out.exists()  # nothing was built, served or sent
