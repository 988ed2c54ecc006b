"""`pulsecheck replay` end to end: flags, refusals, RUN_DIR files, --workers merge."""

import json
import socket
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from aiosmtpd.controller import Controller

from simulator.cli import main
from simulator.columns import RESULTS
from simulator.traffic.record import CORRECTED_FILE, read_histogram
from tests.replay.tables import schedule, workforce


@pytest.fixture
def inputs(tmp_path: Path) -> tuple[Path, Path]:
    events = schedule(["broadcast"] + ["reply"] * 30, gap_us=2000, rcpt_count=[20] + [2] * 30)
    pq.write_table(events, tmp_path / "s.parquet")
    pq.write_table(workforce(100), tmp_path / "w.parquet")
    return tmp_path / "s.parquet", tmp_path / "w.parquet"


def _args(inputs: tuple[Path, Path], target: str, out: Path, *extra: str) -> list[str]:
    s, w = inputs
    return ["replay", str(s), "--workforce", str(w), "--target", target, "--out", str(out),
            "--no-live", *extra]  # fmt: skip


def test_remote_target_refused_with_exit_2(
    inputs: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(_args(inputs, "http://192.0.2.1:80/x", tmp_path / "run"))
    assert code == 2
    assert "--allow-remote" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("target", "extra", "named"),
    [
        ("ftp://127.0.0.1:21", [], "--target"),  # unknown scheme
        ("smtp://127.0.0.1:25", ["--speedup", "0"], "--speedup"),  # speedup must be > 0
        ("smtp://127.0.0.1:25", ["--concurrency", "0"], "--concurrency"),
        ("smtp://127.0.0.1:25", ["--collection", "opm"], "--collection"),  # no address
    ],
)
def test_bad_flags_exit_2_naming_the_flag(
    inputs: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    target: str,
    extra: list[str],
    named: str,
) -> None:
    assert main(_args(inputs, target, tmp_path / "run", *extra)) == 2
    assert named in capsys.readouterr().err


def test_missing_schedule_column_is_named(tmp_path: Path, capsys: Any) -> None:
    events = schedule(["reply"]).drop_columns(["cc_id"])
    pq.write_table(events, tmp_path / "s.parquet")
    pq.write_table(workforce(10), tmp_path / "w.parquet")
    inputs = (tmp_path / "s.parquet", tmp_path / "w.parquet")
    assert main(_args(inputs, "smtp://127.0.0.1:25", tmp_path / "run")) == 2
    assert "cc_id" in capsys.readouterr().err


class Handler:
    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.count += 1
        return "250 OK"


@pytest.fixture
def smtp_server() -> Any:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    handler = Handler()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield f"smtp://127.0.0.1:{port}", handler
    controller.stop()


@pytest.mark.integration
@pytest.mark.parametrize("workers", [1, 2])
def test_run_dir_files(
    inputs: tuple[Path, Path], tmp_path: Path, smtp_server: Any, workers: int
) -> None:
    url, handler = smtp_server
    out = tmp_path / "run"
    code = main(_args(inputs, url, out, "--speedup", "2", "--workers", str(workers)))
    assert code == 0
    results = pq.read_table(out / "results.parquet")
    assert results.schema.equals(RESULTS)
    assert results.num_rows == 31
    assert results.column("event_id").to_pylist() == list(range(31))
    summary = json.loads((out / "replay.json").read_text())
    assert summary["acknowledged"] == handler.count == 31
    assert set(summary["latency_corrected_ms"]) == {"p50", "p90", "p99", "p99.9", "max"}
    assert read_histogram(out / CORRECTED_FILE).get_total_count() == 31
    if workers > 1:
        assert summary["workers"] == 2
        assert (out / "worker-1" / "results.parquet").exists()


@pytest.mark.integration
def test_ctrl_c_stops_cleanly_and_writes_what_it_has(tmp_path: Path, smtp_server: Any) -> None:
    import signal
    import subprocess
    import sys
    import time

    url, handler = smtp_server
    events = schedule(["reply"] * 1000, gap_us=10_000)  # ten seconds of events
    pq.write_table(events, tmp_path / "s.parquet")
    pq.write_table(workforce(1100), tmp_path / "w.parquet")
    inputs = (tmp_path / "s.parquet", tmp_path / "w.parquet")
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "simulator", *_args(inputs, url, out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60.0  # the interpreter may start slowly on a busy machine
    while handler.count < 50 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert handler.count >= 50, "the replay never started sending"
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    summary = json.loads((out / "replay.json").read_text())
    assert summary["interrupted"] is True
    assert summary["events"] == 1000
    outcomes = summary["outcomes"]
    assert outcomes["dropped"] > 0 and outcomes["ok"] + outcomes["late"] > 0
    assert outcomes["ok"] + outcomes["late"] == handler.count
    assert "INTERRUPTED" in stdout


def _parsed(inputs: tuple[Path, Path], *extra: str) -> Any:
    from simulator.cli import build_parser

    return build_parser().parse_args(_args(inputs, "smtp://127.0.0.1:25", Path("run"), *extra))


def test_rendering_defaults_to_the_schedule_manifest(inputs: tuple[Path, Path]) -> None:
    from simulator.cli.replay import options_from
    from simulator.tables import manifest_path

    options = options_from(_parsed(inputs), None)
    assert (options.seed, options.html_share) == (0, 0.0)  # no manifest: plain text, seed 0
    manifest_path(inputs[0]).write_text(json.dumps({"rendering": {"seed": 7, "html_share": 0.7}}))
    options = options_from(_parsed(inputs), None)
    assert (options.seed, options.html_share) == (7, 0.7)
    options = options_from(_parsed(inputs, "--seed", "3", "--html-share", "0"), None)
    assert (options.seed, options.html_share) == (3, 0.0)  # flags win


def test_bad_rendering_in_manifest_names_the_field(inputs: tuple[Path, Path]) -> None:
    from simulator.cli.replay import options_from
    from simulator.tables import manifest_path
    from simulator.validation import InputError

    manifest_path(inputs[0]).write_text(json.dumps({"rendering": {"seed": 1, "html_share": 2}}))
    with pytest.raises(InputError) as err:
        options_from(_parsed(inputs), None)
    assert err.value.field == "rendering" and "html_share" in str(err.value)


@pytest.mark.integration
def test_output_fits_80_columns_with_status_lines_off_a_terminal(
    inputs: tuple[Path, Path],
    tmp_path: Path,
    smtp_server: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.chdir(tmp_path)  # a run directory named as a user would: a short path
    url, handler = smtp_server
    s, w = inputs
    out = Path("run")
    args = ["replay", str(s), "--workforce", str(w), "--target", url, "--out", str(out)]
    assert main([*args, "--speedup", "2"]) == 0  # live status on: stderr is not a terminal
    captured = capsys.readouterr()
    lines = captured.out.splitlines() + captured.err.splitlines()
    assert lines and max(len(line) for line in lines) <= 80, [x for x in lines if len(x) > 80]
    err = " ".join(line.strip() for line in captured.err.splitlines())
    assert "replay 31 of 31 events (100%)" in err and "whole run:" in err
    assert f"{handler.count:,} acknowledged" in err
    stdout = " ".join(line.strip() for line in captured.out.splitlines())
    assert "replayed 31 events to" in stdout and " ok" in stdout
    assert "latency from intended time: p50" in stdout


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        (["--verify", "pop3://u@127.0.0.1:110/INBOX", "--verify-password-env", "HOME"], "--verify"),
        (["--verify", "imap://127.0.0.1:143/INBOX", "--verify-password-env", "HOME"], "--verify"),
        (["--verify", "imap://u:pw@127.0.0.1:143/", "--verify-password-env", "HOME"], "password"),
        (
            ["--verify", "imap://u@192.0.2.1:143/", "--verify-password-env", "HOME"],
            "--allow-remote",
        ),
        (["--verify", "imap://a@b.example@127.0.0.1:143/"], "--verify-password-file"),
        (
            ["--verify", "imap://a@b.example@127.0.0.1:143/", "--verify-password-file", "/no/such"],
            "--verify-password-file",
        ),
        (
            ["--verify", "imap://plainuser@127.0.0.1:143/", "--verify-password-env", "HOME"],
            "--verify-address",
        ),
        (["--verify-address", "a@b.example"], "needs --verify"),
        (
            [
                "--verify",
                "imaps://a@b.example@127.0.0.1/",
                "--verify-password-env",
                "HOME",
                "--verify-ca-file",
                "/no/ca.pem",
            ],
            "--verify-ca-file",
        ),
    ],
)
def test_bad_verify_flags_exit_2_before_load(
    inputs: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    named: str,
) -> None:
    assert main(_args(inputs, "smtp://127.0.0.1:25", tmp_path / "run", *extra)) == 2
    err = capsys.readouterr().err
    assert named in err
    assert "pw@" not in err  # a password in the URL is not echoed back
    assert not (tmp_path / "run").exists()
