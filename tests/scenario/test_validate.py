"""Scenario validation: good files pass, each kind of bad input gets its own error."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from simulator.cli import main
from simulator.scenario import load_scenario
from simulator.validation import InputError

ROOT = Path(__file__).resolve().parents[2]
ROUND1 = (ROOT / "scenarios" / "opm-round1.toml").read_text()
SHIPPED = sorted((ROOT / "scenarios").glob("*.toml"))


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_scenarios_are_valid(path: Path) -> None:
    assert main(["validate", str(path)]) == 0


def test_validate_many_files_at_once() -> None:
    assert main(["validate", *map(str, SHIPPED)]) == 0


# Each case: an edit to round 1, the field path the error must name, and a word of the
# allowed-values text.
BAD_CASES = [
    # misspelled key in a table
    (("scale = 0.01", "scael = 0.01"), "workforce.scael", "unknown field"),
    # misspelled top-level table
    (("[replay]", "[replya]"), "replya", "unknown field"),
    # negative scale
    (("scale = 0.01", "scale = -1.0"), "workforce.scale", "> 0"),
    # wrong type
    (("speedup = 1650.0", 'speedup = "fast"'), "replay.speedup", "must be a number"),
    # deadline before the send time
    (
        ("deadline = 2025-02-24T23:59:00", "deadline = 2025-02-21T23:59:00"),
        "rounds[0].deadline",
        "after send_time",
    ),
    # a share outside 0..1
    (
        ("[cost]", "[behaviour.propensity]\ncomply = 1.5\n\n[cost]"),
        "behaviour.propensity.comply",
        "between 0 and 1",
    ),
    # unknown agency code
    (('agency = "DHS"', 'agency = "DHZ"'), "rounds[0].directives[1].agency", "unknown agency code"),
    # unknown threshold metric
    (('lost = "== 0"', 'lots = "== 0"'), "thresholds.lots", "unknown metric"),
    # malformed threshold expression
    (('lost = "== 0"', 'lost = "zero"'), "thresholds.lost", "<op> <number>"),
    # address off the reserved domains
    (
        ('address = "hr@opm.example"', 'address = "hr@opm.gov"'),
        "collections[0].address",
        "reserved domain",
    ),
    # route to an undeclared collection
    (('collection = "opm-hr"\ncc', 'collection = "nowhere"\ncc'), "rounds[0].collection", "opm-hr"),
    # a directive time outside the round
    (
        ("at = 2025-02-23T17:30:00", "at = 2025-03-23T17:30:00"),
        "rounds[0].directives[5].at",
        "within the round",
    ),
    # cost range with low above high
    (
        ("minutes_per_reply = [1.5, 10, 30]", "minutes_per_reply = [30, 10, 1.5]"),
        "cost.minutes_per_reply",
        "low <= high",
    ),
    # bad time zone
    (('timezone = "America/New_York"', 'timezone = "Mars/Olympus"'), "rounds[0].timezone", "IANA"),
]


@pytest.mark.parametrize(("edit", "field", "allowed"), BAD_CASES, ids=[c[1] for c in BAD_CASES])
def test_bad_input_names_file_field_value(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    edit: tuple[str, str],
    field: str,
    allowed: str,
) -> None:
    old, new = edit
    assert old in ROUND1, f"test case edits text that is not in the scenario: {old!r}"
    path = write(tmp_path, ROUND1.replace(old, new, 1))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err
    assert re.search(rf"(^|\s){re.escape(field)} = ", err), err
    assert allowed in err


def test_syntax_error_names_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "[scenario\nname = 1")
    assert main(["validate", str(path)]) == 2
    assert "must be valid TOML" in capsys.readouterr().err


def test_missing_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "/nonexistent/x.toml"]) == 2
    assert "no such file" in capsys.readouterr().err


def test_good_file_loads_into_types() -> None:
    scenario = load_scenario(ROOT / "scenarios" / "opm-round1.toml")
    rnd = scenario.rounds[0]
    assert 55 < rnd.window_hours < 56  # Saturday ~16:30 to Monday 23:59 ET
    assert rnd.send_time.utcoffset() is not None
    assert {d.agency for d in rnd.directives} >= {"DOD", "DHS", "HHS", "*"}
    assert scenario.cost["minutes_per_reply"].low == 1.5
    assert scenario.behaviour["propensity.comply"] > 0


def test_input_error_message_shape() -> None:
    err = InputError("f.toml", "a.b", -1, "must be >= 0")
    assert str(err) == "f.toml: a.b = -1: must be >= 0"
