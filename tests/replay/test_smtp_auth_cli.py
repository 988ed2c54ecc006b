"""`pulsecheck replay` and `run` with SMTP submission flags: accounts log in, the password
never shows (output, run directory), and bad combinations stop before any load."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from aiosmtpd.controller import Controller

from simulator.cli import main
from simulator.scenario import load_scenario
from simulator.validation import InputError
from tests.replay.tables import schedule, workforce
from tests.replay.test_smtp_target import free_port
from tests.replay.test_smtp_tls import PASSWORD, Accounts, Handler

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def inputs(tmp_path: Path) -> tuple[Path, Path]:
    events = schedule(["broadcast"] + ["reply"] * 20, gap_us=1000, rcpt_count=[10] + [2] * 20)
    pq.write_table(events, tmp_path / "s.parquet")
    pq.write_table(workforce(60), tmp_path / "w.parquet")
    return tmp_path / "s.parquet", tmp_path / "w.parquet"


@pytest.fixture
def server() -> Iterator[tuple[Handler, int]]:
    """Plain SMTP that requires a login (no TLS, so the test needs no CA flags)."""
    handler = Handler()
    port = free_port()
    auth = Accounts(handler, {"submit": PASSWORD, "alice": "alice-pw"})
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        authenticator=auth,
        auth_required=True,
        auth_require_tls=False,
    )
    controller.start()
    yield handler, port
    controller.stop()


def _replay(inputs: tuple[Path, Path], target: str, out: Path, *extra: str) -> list[str]:
    s, w = inputs
    return ["replay", str(s), "--workforce", str(w), "--target", target, "--out", str(out),
            "--no-live", "--speedup", "10", *extra]  # fmt: skip


def leaked(out: Path, *texts: str) -> list[str]:
    """Files under `out` and texts that carry the password (plain or base64 in AUTH)."""
    plain = base64.b64encode(f"\0submit\0{PASSWORD}".encode()).decode()
    needles = [PASSWORD, base64.b64encode(PASSWORD.encode()).decode(), plain]
    found = [
        str(p)
        for p in out.rglob("*")
        if p.is_file()
        for n in needles
        if n.encode() in p.read_bytes()
    ]
    return found + [t[:80] for t in texts for n in needles if n in t]


@pytest.mark.integration
@pytest.mark.parametrize("workers", ["1", "2"])
def test_replay_logs_in_and_never_shows_the_password(
    inputs: tuple[Path, Path],
    server: tuple[Handler, int],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    workers: str,
) -> None:
    handler, port = server
    secret = tmp_path / "smtp.pw"
    secret.write_text(PASSWORD + "\n")
    out = tmp_path / "run"
    argv = _replay(inputs, f"smtp://127.0.0.1:{port}", out, "--workers", workers)
    code = main([*argv, "--smtp-user", "submit", "--smtp-password-file", str(secret)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert len(handler.received) == 21
    assert {login for *_, login, _ in handler.received} == {"submit"}
    assert leaked(out, captured.out, captured.err) == []


@pytest.mark.integration
def test_a_sender_without_an_account_is_refused_before_load(
    inputs: tuple[Path, Path],
    server: tuple[Handler, int],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    handler, port = server
    creds = tmp_path / "senders.csv"
    creds.write_text("sender,user,password\nuser1@dhs.example,alice,alice-pw\n")
    out = tmp_path / "run"
    code = main(
        [*_replay(inputs, f"smtp://127.0.0.1:{port}", out), "--smtp-credentials", str(creds)]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "--smtp-credentials" in err and "hr@opm.example" in err
    assert handler.received == [] and not out.exists()


@pytest.mark.integration
def test_a_server_without_starttls_is_refused_before_load(
    inputs: tuple[Path, Path],
    server: tuple[Handler, int],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    handler, port = server
    out = tmp_path / "run"
    code = main([*_replay(inputs, f"smtp://127.0.0.1:{port}", out), "--smtp-tls", "starttls"])
    assert code == 2
    assert "--smtp-tls" in (err := capsys.readouterr().err) and "STARTTLS" in err
    assert handler.received == [] and not out.exists()


USER = ["--smtp-user", "u"]


@pytest.mark.parametrize(
    ("target", "extra", "named"),
    [
        ("http://127.0.0.1:9/x", ["--smtp-tls", "starttls"], "--smtp-tls"),
        ("smtps://127.0.0.1:9", ["--smtp-tls", "starttls"], "--smtp-tls"),
        ("smtp://127.0.0.1:9", ["--smtp-password-env", "HOME"], "--smtp-password-env"),
        ("smtp://127.0.0.1:9", ["--smtp-user", "u"], "--smtp-user"),  # no password given
        (
            "smtp://127.0.0.1:9",
            ["--smtp-user", "u", "--smtp-password-file", "/nonexistent"],
            "--smtp-password-file",
        ),
        (
            "smtp://127.0.0.1:9",
            ["--smtp-user", "u", "--smtp-password-env", "PULSECHECK_NO_SUCH"],
            "--smtp-password-env",
        ),
        ("smtp://127.0.0.1:9", ["--smtp-credentials", "creds.txt"], "--smtp-credentials"),
        ("smtp://127.0.0.1:9", ["--smtp-password", "x"], "--smtp-password"),  # no such flag
    ],
)
def test_bad_smtp_flags_exit_2_naming_the_flag(
    inputs: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    target: str,
    extra: list[str],
    named: str,
) -> None:
    refused = pytest.raises(SystemExit) if "--smtp-password" in extra else nullcontext()
    with refused:  # argparse refuses a flag it does not know (exit 2) by raising
        assert main([*_replay(inputs, target, tmp_path / "run"), *extra]) == 2
    assert named in capsys.readouterr().err


SCENARIO_TARGET = """
[target]
kind = "smtp"
url = "smtp://127.0.0.1:2525"
smtp_tls = "starttls"

[target.smtp_auth]
{auth}
"""


def _scenario(tmp_path: Path, auth: str) -> Path:
    text = (ROOT / "scenarios" / "ci-smoke.toml").read_text()
    head, _, rest = text.partition("[target]")
    rest = rest[rest.index("\n[", 1) :]  # drop the shipped [target] table
    path = tmp_path / "sub" / "s.toml"
    path.parent.mkdir()
    path.write_text(head + SCENARIO_TARGET.format(auth=auth) + rest)
    return path


def test_scenario_smtp_auth_paths_are_relative_to_the_scenario(tmp_path: Path) -> None:
    path = _scenario(tmp_path, 'user = "submit"\npassword_file = "smtp.pw"')
    target = load_scenario(path).target
    assert target.smtp_tls == "starttls"
    assert target.smtp_auth is not None
    assert target.smtp_auth.password_file == path.parent / "smtp.pw"
    assert target.smtp_auth.user == "submit"


@pytest.mark.parametrize(
    ("auth", "field"),
    [
        ('user = "submit"', "target.smtp_auth.password_file"),
        ('password_env = "X"', "target.smtp_auth.user"),
        ('user = "u"\npassword = "inline"', "target.smtp_auth.password"),  # no such key
    ],
)
def test_scenario_smtp_auth_is_checked(tmp_path: Path, auth: str, field: str) -> None:
    with pytest.raises(InputError) as err:
        load_scenario(_scenario(tmp_path, auth))
    assert err.value.field == field
    assert "inline" not in str(err.value) or field.endswith("password")


@pytest.mark.integration
@pytest.mark.slow
def test_run_against_a_submission_server_keeps_the_password_out_of_the_run(
    server: tuple[Handler, int], tmp_path: Path
) -> None:
    handler, port = server
    out = tmp_path / "run"
    cmd = [
        sys.executable, "-m", "simulator", "run", str(ROOT / "scenarios" / "ci-smoke.toml"),
        "--target", f"smtp://127.0.0.1:{port}", "--speedup", "50000", "--out", str(out),
        "--smtp-user", "submit", "--smtp-password-env", "PULSECHECK_TEST_SMTP_PW",
    ]  # fmt: skip
    env: dict[str, Any] = {**os.environ, "PULSECHECK_TEST_SMTP_PW": PASSWORD}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=ROOT, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert handler.received and {login for *_, login, _ in handler.received} == {"submit"}
    assert (out / "run.json").is_file()
    assert leaked(out, done.stdout, done.stderr) == []
