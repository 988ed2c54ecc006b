"""Hostile input at the CLI boundary: every case is exit 2 with one line naming the file
or flag, the field and the value, never a traceback and never a time bound switched off."""

from __future__ import annotations

import argparse
import gzip
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from simulator.cli import build_parser, main
from simulator.validation import finite_float

ROOT = Path(__file__).resolve().parents[2]
ROUND1 = (ROOT / "scenarios" / "opm-round1.toml").read_text()
WEEKLY = (ROOT / "scenarios" / "opm-weekly.toml").read_text()
REPLYALL = (ROOT / "scenarios" / "replyall-1m.toml").read_text()


def validate(path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """Run `pulsecheck validate PATH`; it must exit 2; the one error line it printed."""
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"error: {path}: "), err
    return lines[0]


def edited(text: str, old: str, new: str) -> str:
    assert old in text, f"the test edits text that is not in the scenario: {old!r}"
    return text.replace(old, new, 1)


# -- the file itself ------------------------------------------------------------------


def test_deeply_nested_array(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "deep.toml"
    path.write_text(ROUND1 + "\n[extra]\nx = " + "[" * 5000 + "]" * 5000 + "\n")
    line = validate(path, capsys)
    assert "(nesting)" in line and "at most 32 levels" in line


def test_deeply_nested_tables(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "deep.toml"
    path.write_text(ROUND1 + "\n[workforce2]\n" + ".".join(["a"] * 5000) + " = 1\n")
    line = validate(path, capsys)
    assert "workforce2.a.a.a" in line and "at most 32 levels" in line


def test_invalid_utf8(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(ROUND1.encode() + "# café\n".encode("latin-1"))  # a lone byte 0xe9
    line = validate(path, capsys)
    assert "(encoding) = 'byte 0xe9 at offset" in line and "UTF-8" in line


def test_binary_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "scenario.toml.gz"
    path.write_bytes(gzip.compress(ROUND1.encode()))
    assert "(encoding)" in validate(path, capsys)


def test_binary_that_is_utf8(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "nul.toml"
    path.write_bytes(b"\x00\x01\x02\x03[scenario]\x00")
    assert "(syntax)" in validate(path, capsys)


def test_directory_as_scenario(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = validate(tmp_path, capsys)
    assert "(file)" in line and "is a directory" in line


def test_huge_integer_literal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "big.toml"
    path.write_text(edited(ROUND1, "scale = 0.01", "scale = 1" + "0" * 400))
    line = validate(path, capsys)
    assert "workforce.scale = 1000" in line and "finite" in line
    path.write_text(edited(ROUND1, "scale = 0.01", "scale = 1" + "0" * 5000))
    assert "(syntax)" in validate(path, capsys)


@pytest.mark.parametrize("command", ["validate", "run", "cost", "schedule"])
def test_every_command_reads_the_file_safely(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    """The same loader serves every command that takes a scenario file."""
    extra = ["--workforce", str(tmp_path / "wf.parquet"), "--out", str(tmp_path / "s")]
    argv = [command, str(tmp_path), *(extra if command == "schedule" else [])]
    assert main(argv) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if "error:" in line]  # run prints a banner
    assert len(errors) == 1 and str(tmp_path) in errors[0], err
    if command != "schedule":  # schedule checks the path itself first ("no such file")
        assert "(file)" in err and "is a directory" in err, err


def test_cli_subprocess_prints_no_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_bytes(b"\xff\xfe[scenario]\n")
    deep = tmp_path / "deep.toml"
    deep.write_text("x = " + "[" * 3000 + "]" * 3000)
    proc = subprocess.run(
        [sys.executable, "-m", "simulator", "validate", str(bad), str(deep), str(tmp_path)],
        capture_output=True,
        text=True,
        env={**os.environ},
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 3, proc.stderr
    assert lines[0].startswith(f"error: {bad}: (encoding) = ")
    assert lines[1].startswith(f"error: {deep}: (nesting) = ")
    assert lines[2].startswith(f"error: {tmp_path}: (file) = ")


# -- numbers: never nan or infinite ------------------------------------------------------

NON_FINITE = [
    # a threshold's number
    (ROUND1, ('lost = "== 0"', 'lost = "< 1e999"'), "thresholds.lost = '< 1e999'"),
    (ROUND1, ('p99_ms = "< 2000"', 'p99_ms = "< 1' + "0" * 400 + '"'), "thresholds.p99_ms"),
    # a reply-all replay bound with no upper limit: inf would switch it off
    (
        REPLYALL,
        ("max_duration_s = 600", "max_duration_s = inf"),
        "replyall.replay.max_duration_s = inf",
    ),
    (REPLYALL, ("queue_limit = 5_000_000", "queue_limit = inf"), "replyall.mta.queue_limit = inf"),
    (
        REPLYALL,
        ("capacity_per_s = 50_000", "capacity_per_s = 1" + "0" * 400),
        "replyall.mta.capacity_per_s = 1000",
    ),
    # nan in a table nobody reads as a number (caught where the file is read)
    (ROUND1, ("[workforce]", "[workforce]\nnote = [1.0, nan]"), "workforce.note[1] = nan"),
]


@pytest.mark.parametrize(("text", "edit", "named"), NON_FINITE, ids=[c[2] for c in NON_FINITE])
def test_non_finite_number_in_a_scenario(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    text: str,
    edit: tuple[str, str],
    named: str,
) -> None:
    path = tmp_path / "nan.toml"
    path.write_text(edited(text, *edit))
    line = validate(path, capsys)
    assert named in line, line
    assert "finite" in line, line


# -- identifiers ----------------------------------------------------------------------

TWO_ROUNDS = ROUND1 + "\n" + ROUND1[ROUND1.index("[[rounds]]") : ROUND1.index("[target]")]

IDS = [
    # duplicate round ids
    (TWO_ROUNDS, ("", ""), "rounds[1].id = 'r1': duplicate id: rounds[0].id has it"),
    # empty and control-character round ids
    (ROUND1, ('id = "r1"', 'id = ""'), "rounds[0].id = ''"),
    (ROUND1, ('id = "r1"', 'id = "r1\\u0007"'), "rounds[0].id = 'r1\\x07'"),
    (ROUND1, ('id = "r1"', 'id = "r1\\nr2"'), "rounds[0].id = 'r1\\nr2'"),
    # empty and control-character collection ids (the round routes to it, so it is "valid")
    (
        ROUND1.replace('"opm-hr"', '""'),
        ("", ""),
        "collections[0].id = ''",
    ),
    (
        ROUND1.replace('"opm-hr"', '"opm\\u001bhr"'),
        ("", ""),
        "collections[0].id = 'opm\\x1bhr'",
    ),
    # agency codes: empty or with control characters
    (ROUND1, ('agency = "DHS"', 'agency = ""'), "rounds[0].directives[1].agency = ''"),
    (
        WEEKLY,
        ('internal_to = "DHS"', 'internal_to = "DHS\\u0000"'),
        "collections[2].internal_to = 'DHS\\x00'",
    ),
    # duplicate collection addresses, whatever the case
    (
        WEEKLY,
        ('address = "consolidation@dod.example"', 'address = "HR@OPM.example"'),
        "collections[1].address = 'HR@OPM.example': duplicate address: collections[0].address",
    ),
    # an address that smuggles SMTP commands
    (
        ROUND1,
        ('address = "hr@opm.example"', 'address = "hr@opm.example>\\r\\nRCPT TO:<x@y.example"'),
        "collections[0].address",
    ),
    (
        REPLYALL,
        ('sender = "announcements@opm.example"', 'sender = "a\\r\\nRCPT TO:<b@opm.example"'),
        "replyall.sender = 'a\\r\\nRCPT TO:<b@opm.example'",
    ),
    # a subject or a name of more than one line (a subject is a mail header)
    (
        ROUND1,
        ('subject = "What did you do last week?"', 'subject = "Hi\\r\\nBcc: x@y.example"'),
        "rounds[0].subject = 'Hi\\r\\nBcc: x@y.example': must be one line",
    ),
    (ROUND1, ('name = "opm-round1"', 'name = "a\\nb"'), "scenario.name = 'a\\nb'"),
]


@pytest.mark.parametrize(("text", "edit", "named"), IDS, ids=[c[2][:40] for c in IDS])
def test_bad_identifier(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    text: str,
    edit: tuple[str, str],
    named: str,
) -> None:
    path = tmp_path / "ids.toml"
    path.write_text(edited(text, *edit) if edit[0] else text)
    line = validate(path, capsys)
    assert named in line, line


# -- flags ----------------------------------------------------------------------------


def _float_actions() -> list[tuple[str, argparse.Action]]:
    parser = build_parser()
    found = []
    stack = [("", parser)]
    while stack:
        prefix, p = stack.pop()
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                stack += [(f"{prefix} {name}".strip(), sub) for name, sub in action.choices.items()]
            elif action.type in (float, finite_float):
                found.append((prefix, action))
    return found


def test_no_flag_takes_a_plain_float() -> None:
    """`type=float` accepts nan and inf; every float flag must use `finite_float`."""
    actions = _float_actions()
    assert len(actions) >= 11
    plain = [(cmd, a.option_strings) for cmd, a in actions if a.type is float]
    assert not plain


REQUIRED = {
    "replay": [
        *("S.parquet", "--workforce", "W.parquet"),
        *("--target", "http://127.0.0.1:9/x", "--out", "RUN"),
    ],
    "run": ["scenarios/ci-smoke.toml"],
    "cost": ["scenarios/ci-smoke.toml"],
    "workforce": ["--out", "W.parquet"],
    "serve": ["api"],
    "serve api": [],
    "serve mailbox": [],
}

FLAGS = [(cmd, a.option_strings[0]) for cmd, a in _float_actions()]


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e999", "NaN"])
@pytest.mark.parametrize(("command", "flag"), FLAGS, ids=[f"{c}{f}" for c, f in FLAGS])
def test_non_finite_flag(
    capsys: pytest.CaptureFixture[str], command: str, flag: str, value: str
) -> None:
    argv = [*command.split(), *REQUIRED.get(command, []), f"{flag}={value}"]
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert re.search(rf"error: argument {re.escape(flag)}: '{value}': must be a finite", err), err


def test_max_duration_nan_does_not_reach_the_replay(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """nan compares false with everything: it used to pass the > 0 check and turn the
    replay's time bound off."""
    argv = ["replay", str(tmp_path / "s.parquet"), "--workforce", str(tmp_path / "w.parquet")]
    argv += ["--target", "http://127.0.0.1:9/x", "--out", str(tmp_path / "run")]
    for flag in ("--max-duration", "--timeout", "--speedup"):
        with pytest.raises(SystemExit) as stop:
            main([*argv, flag, "nan"])
        assert stop.value.code == 2
        assert f"argument {flag}: 'nan'" in capsys.readouterr().err


def test_an_empty_key_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "empty-key.toml"
    path.write_text('"" = 1\n' + ROUND1)
    assert f"error: {path}: '' = 1: unknown field" in validate(path, capsys)
