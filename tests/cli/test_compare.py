"""`pulsecheck compare RUN_A RUN_B`: the figures of two runs with B/A, in 80 columns and HTML.

Unit cases compare summaries built from hand-made results with known latencies and
failures; the integration case runs the CI smoke scenario twice against the embedded
mailbox, ten times faster the second time, and compares the two run directories.
"""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from simulator.cli import main
from simulator.report.compare import rows, text
from simulator.report.summary import build_summary
from tests.report.helpers import results_table

ROOT = Path(__file__).resolve().parents[2]
SMOKE = ROOT / "scenarios" / "ci-smoke.toml"


def write_run(path: Path, latency_ms: float, failed: int, stored: int | None) -> Path:
    outcomes = ["ok"] * 10 + ["rejected"] * failed
    errors = [""] * 10 + ["smtp 550 content rule: no links in a reply to the census"] * failed
    summary = build_summary(
        results_table([latency_ms] * len(outcomes), outcomes, errors),
        scenario="unit",
        stored=stored,
    )
    path.mkdir(parents=True)
    (path / "summary.json").write_text(json.dumps(summary))
    return path


class Tables(HTMLParser):
    """The text of every table cell, row by row."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def test_ratios_are_b_over_a_and_unknowns_are_not_made_up(tmp_path: Path) -> None:
    a = json.loads((write_run(tmp_path / "a", 10.0, 0, 10) / "summary.json").read_text())
    b = json.loads((write_run(tmp_path / "b", 40.0, 3, None) / "summary.json").read_text())
    found = {r.name: r for r in rows(a, b)}
    assert found["corrected p99"].a == pytest.approx(10.0)
    assert found["corrected p99"].ratio == pytest.approx(4.0)
    reason = "failed: smtp 550 content rule: no links in a reply to the census"
    assert (found[reason].a, found[reason].b, found[reason].ratio) == (0, 3, None)
    lost = found["lost (acknowledged, not stored)"]
    assert (lost.a, lost.b) == (0, None)  # B read no store back
    shown = text("runs/a-long-directory-name" * 4, "b", a, b)
    assert max(len(line) for line in shown.splitlines()) <= 80
    line = next(x for x in shown.splitlines() if x.startswith("corrected p99"))
    assert line.split()[-1] == "4.00"
    assert "n/a" in next(x for x in shown.splitlines() if x.startswith("lost"))


def test_compare_writes_real_tables(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = write_run(tmp_path / "a", 10.0, 0, 10), write_run(tmp_path / "b", 20.0, 1, 10)
    page = tmp_path / "cmp.html"
    assert main(["compare", str(a), str(b), "--html", str(page)]) == 0
    assert "corrected p50" in capsys.readouterr().out
    parser = Tables()
    parser.feed(page.read_text())
    table = {r[0]: r[1:] for r in parser.rows if r}
    assert table["figure"] == ["A", "B", "B/A"]
    assert table["corrected p50"] == ["10.0 ms", "20.0 ms", "2.00"]


@pytest.mark.parametrize("which", ["RUN_A", "RUN_B"])
def test_a_directory_that_is_not_a_run_is_bad_input_naming_it(
    tmp_path: Path, which: str, capsys: pytest.CaptureFixture[str]
) -> None:
    run = write_run(tmp_path / "run", 10.0, 0, 10)
    empty = tmp_path / "empty"
    empty.mkdir()
    args = [str(empty), str(run)] if which == "RUN_A" else [str(run), str(empty)]
    assert main(["compare", *args]) == 2
    err = capsys.readouterr().err
    assert f"{which} = '{empty}'" in err and "summary.json" in err
    assert len(err.strip().splitlines()) == 1


def test_a_summary_of_another_schema_is_bad_input(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", 10.0, 0, 10)
    old = tmp_path / "old"
    old.mkdir()
    (old / "summary.json").write_text(json.dumps({"schema": "pulsecheck.summary/0"}))
    assert main(["compare", str(run), str(old)]) == 2


@pytest.mark.integration
@pytest.mark.slow
def test_two_smoke_runs_ten_times_apart_in_speed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    slow, fast = tmp_path / "slow", tmp_path / "fast"
    job, junit = tmp_path / "job.md", slow / "junit.xml"  # in the run directory to be
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(job))
    code = main(
        ["run", str(SMOKE), "--out", str(slow), "--speedup", "40000", "--junit", str(junit)]
    )
    monkeypatch.delenv("GITHUB_STEP_SUMMARY")
    assert main(["run", str(SMOKE), "--out", str(fast), "--speedup", "400000"]) in (0, 99)
    verdict = capsys.readouterr().out.splitlines()[0]  # the first run's verdict line
    assert_ci_outputs_agree(code, verdict, junit, job, slow)
    page = tmp_path / "cmp.html"
    assert main(["compare", str(slow), str(fast), "--html", str(page)]) == 0
    shown = capsys.readouterr().out
    assert max(len(line) for line in shown.splitlines()) <= 80
    found = {
        r.name: r
        for r in rows(*(json.loads((d / "summary.json").read_text()) for d in (slow, fast)))
    }
    # the same schedule, replayed ten times faster: the same events, acknowledged faster
    assert found["events scheduled"].ratio == 1.0
    assert found["acknowledged per second"].ratio is not None
    assert found["acknowledged per second"].ratio > 2
    assert found["lost (acknowledged, not stored)"].b == 0
    assert found["cost P50, round r1"].a is not None
    acks = next(x for x in shown.splitlines() if x.startswith("acknowledged per second"))
    assert acks.split()[-1] == f"{found['acknowledged per second'].ratio:.2f}"
    parser = Tables()
    parser.feed(page.read_text())
    assert any(r and r[0] == "cost P50, round r1" for r in parser.rows)


def assert_ci_outputs_agree(code: int, verdict: str, junit: Path, job: Path, run: Path) -> None:
    """The exit code, the verdict line, the JUnit suite and the job summary say the same."""
    import xml.etree.ElementTree as ET

    summary = json.loads((run / "summary.json").read_text())
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    names = [c.get("name") for c in suite.iter("testcase")]
    rules = ["acked > 0"] + (
        ["duplicates == 0"] if summary["events"]["duplicates"] is not None else []
    )
    assert names == [t["check"] for t in summary["thresholds"]] + rules
    failures = int(suite.get("failures", "-1"))
    assert code == (0 if failures == 0 else 99)
    assert verdict.startswith("verdict: PASS" if failures == 0 else "verdict: FAIL")
    assert verdict == f"verdict: PASS ({len(names)} of {len(names)} checks)" or failures
    stored = summary["events"]["stored"]
    assert f"| stored | {stored:,} of {summary['events']['acknowledged']:,} acknowledged |" in (
        job.read_text()
    )
