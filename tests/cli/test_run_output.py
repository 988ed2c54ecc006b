"""What `pulsecheck run` prints, as a CI log sees it: numbered stage lines with their
figures, the replay's status lines, and every line within 80 columns."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from simulator.cli import main

ROOT = Path(__file__).resolve().parents[2]
SMOKE = ROOT / "scenarios" / "ci-smoke.toml"
STAGES = ("workforce", "schedule", "collection system", "replay", "store check", "cost", "report")


@pytest.mark.integration
@pytest.mark.slow
def test_run_prints_stages_status_and_fits_80_columns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.chdir(tmp_path)  # a run directory named as a user would: a short path
    out = Path("run")
    code = main(["run", str(SMOKE), "--out", str(out)])
    captured = capsys.readouterr()
    lines = captured.err.splitlines() + captured.out.splitlines()
    assert max(len(line) for line in lines) <= 80, [line for line in lines if len(line) > 80]
    summary = json.loads((out / "summary.json").read_text())
    assert code == (0 if summary["verdict"] == "pass" else 99)
    events = summary["events"]
    for i, name in enumerate(STAGES, 1):
        assert f"[{i}/7] {name} ..." in lines
        assert any(re.match(rf"\[{i}/7\] {name}: .*\d+\.\d s$", line) for line in lines), name
    text = " ".join(line.strip() for line in lines)
    assert f"[2/7] schedule: {events['scheduled']:,} events in" in text
    total = f"{events['scheduled']:,}"
    assert f"[4/7] replay: {events['acknowledged']:,} of {total} acknowledged" in text
    assert f"replay {total} of {total} events (100%)" in text  # the status at the end
    assert "events of " in text and " EST" in text  # the event clock, in the round's zone
    assert "last 1 s:" in text and "whole run:" in text
    counted = r"\d\.\d+ (events|employees|acknowledged|rejected|errors|late|dropped)\b"
    assert re.search(counted, text) is None  # counts print as integers
    assert "{" not in text and "'" not in text  # no Python repr
