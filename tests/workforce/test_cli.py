"""`pulsecheck workforce` and `pulsecheck workforce calibrate` through the real entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simulator.cli import EXIT_BAD_INPUT, EXIT_OK, main


def test_build_writes_parquet_and_manifest(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "wf.parquet"
    assert main(["workforce", "--scale", "0.001", "--seed", "4", "--out", str(out)]) == EXIT_OK
    manifest = json.loads((tmp_path / "wf.parquet.manifest.json").read_text())
    assert manifest["seed"] == 4 and manifest["rows"] > 2000
    assert "wrote" in capsys.readouterr().out


def test_calibrate_json_is_machine_readable(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "wf.parquet"
    main(["workforce", "--scale", "0.001", "--out", str(out)])
    capsys.readouterr()
    assert main(["workforce", "calibrate", str(out), "--json"]) == EXIT_OK
    report = json.loads(capsys.readouterr().out)
    assert report["rows"] > 2000 and report["worst"]


def test_calibrate_prints_a_table(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "wf.parquet"
    main(["workforce", "--scale", "0.001", "--out", str(out)])
    assert main(["workforce", "calibrate", str(out)]) == EXIT_OK
    text = capsys.readouterr().out
    assert "Worst gaps" in text and "total variation" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scale", "-1"], "--scale"),  # negative
        (["--scale", "0"], "--scale"),  # zero
        (["--scale", "nan"], "--scale"),  # not a number
        (["--scale", "10.5"], "--scale"),  # above 10x the federal workforce
        (["--seed", "-3"], "--seed"),  # negative seed
        ([], "--out"),  # no output file
    ],
)
def test_bad_flags_exit_2_and_name_the_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture, args: list[str], message: str
) -> None:
    out = [] if args == [] else ["--out", str(tmp_path / "x.parquet")]
    try:
        code = main(["workforce", *args, *out])
    except SystemExit as stop:  # refused while parsing (nan is not a finite number)
        code = int(stop.code or 0)
    assert code == EXIT_BAD_INPUT
    assert message in capsys.readouterr().err


def test_missing_directory_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "nope" / "wf.parquet"
    assert main(["workforce", "--scale", "0.001", "--out", str(out)]) == EXIT_BAD_INPUT
    assert "does not exist" in capsys.readouterr().err


def test_unwritable_directory_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "wf.parquet"
    out.mkdir()  # a directory where the file should go
    assert main(["workforce", "--scale", "0.001", "--out", str(out)]) == EXIT_BAD_INPUT
    assert "directory" in capsys.readouterr().err


def test_calibrate_missing_file_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["workforce", "calibrate", str(tmp_path / "none.parquet")]) == EXIT_BAD_INPUT
    assert "PATH" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "expect"),
    [
        (["workforce", "--help"], "calibrate"),
        (["workforce", "calibrate", "--help"], "--json"),
    ],
)
def test_both_forms_have_help(argv: list[str], expect: str, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as done:
        main(argv)
    assert done.value.code == 0
    assert expect in capsys.readouterr().out
