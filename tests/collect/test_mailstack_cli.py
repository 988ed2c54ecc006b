"""`pulsecheck mailstack`: bad flags are refused (exit 2) before anything starts; `up
--detach` prints where everything is and `down` stops it, leaving nothing running."""

from __future__ import annotations

import imaplib
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from simulator.cli import main
from simulator.collect.mailstack import read_state, running_pids, unavailable


@pytest.fixture
def stack_dir() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="pulsecheck-mailstack-cli-"))
    root.chmod(0o755)  # postfix, dovecot and mail reach into it
    try:
        yield root / "stack"
    finally:
        if (root / "stack" / "mailstack.json").exists():
            main(["mailstack", "down", "--dir", str(root / "stack")])
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        (["--quota", "10X"], "--quota"),
        (["--quota", "0"], "--quota"),
        (["--smtp-port", "70000"], "--smtp-port"),
        (["--cert-file", "/nonexistent.pem"], "--ca-file/--cert-file/--key-file"),
    ],
)
def test_bad_flags_exit_2(
    stack_dir: Path, capsys: pytest.CaptureFixture[str], extra: list[str], named: str
) -> None:
    assert main(["mailstack", "up", "--dir", str(stack_dir), *extra]) == 2
    assert named in capsys.readouterr().err
    assert not stack_dir.exists()


@pytest.mark.parametrize(
    "line", ["someone@gmail.com", "not an address at all", "a:b@c.example", "x@y.example a b"]
)
def test_bad_users_file_exit_2(
    stack_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], line: str
) -> None:
    users = tmp_path / "users"
    users.write_text(f"# mailboxes\nok@collect.example\n{line}\n")
    assert main(["mailstack", "up", "--dir", str(stack_dir), "--users", str(users)]) == 2
    err = capsys.readouterr().err
    assert "line 3" in err
    assert "a b" not in err  # a password is never shown
    assert not stack_dir.exists()


def test_private_parent_directory_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    private = Path(tempfile.mkdtemp(prefix="pulsecheck-private-"))  # 0700
    try:
        assert main(["mailstack", "up", "--dir", str(private / "stack")]) == 2
        assert "others may enter" in capsys.readouterr().err
    finally:
        private.rmdir()


def test_too_long_a_directory_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mailstack", "up", "--dir", "/tmp/" + "d" * 100]) == 2
    assert "a shorter path" in capsys.readouterr().err


def test_missing_packages_exit_2(
    stack_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    reason = "dovecot is not installed (Debian package dovecot-core)"
    monkeypatch.setattr("simulator.collect.mailstack.unavailable", lambda: reason)
    assert main(["mailstack", "up", "--dir", str(stack_dir)]) == 2
    assert capsys.readouterr().err.strip() == f"pulsecheck mailstack: error: {reason}"
    assert not stack_dir.exists()


def test_down_without_a_stack_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mailstack", "down", "--dir", str(tmp_path)]) == 2
    assert "a mail stack directory" in capsys.readouterr().err


@pytest.mark.integration
@pytest.mark.slow
def test_up_detached_then_down(
    stack_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reason = unavailable()
    if reason:
        pytest.skip(reason)
    users = tmp_path / "users"
    users.write_text("replies@collect.example chosen-password\nother@collect.example\n")
    argv = ["mailstack", "up", "--dir", str(stack_dir), "--users", str(users), "--detach"]
    assert main([*argv, "--quota", "1M"]) == 0
    printed = capsys.readouterr().out
    state = read_state(stack_dir)
    assert f"smtp        127.0.0.1:{state['smtp_port']}" in printed
    assert f"imap        127.0.0.1:{state['imap_port']}" in printed
    assert str(stack_dir / "tls" / "ca.pem") in printed
    assert str(stack_dir / "credentials") in printed
    assert "chosen-password" not in printed
    assert re.search(r"mailboxes\s+3 \(quota 1M each\)", printed)
    assert main(argv) == 2  # one stack per directory
    with imaplib.IMAP4("127.0.0.1", int(str(state["imap_port"])), timeout=10) as imap:
        assert imap.login("replies@collect.example", "chosen-password")[0] == "OK"
    assert running_pids(stack_dir)
    assert main(["mailstack", "down", "--dir", str(stack_dir)]) == 0
    assert running_pids(stack_dir) == set()
    # Up again in the same directory: the same passwords, CA and mail.
    credentials, ca = (
        (stack_dir / "credentials").read_text(),
        (stack_dir / "tls/ca.pem").read_text(),
    )
    assert main([*argv, "--quota", "1M"]) == 0
    assert (stack_dir / "credentials").read_text() == credentials
    assert (stack_dir / "tls" / "ca.pem").read_text() == ca
    assert main(["mailstack", "down", "--dir", str(stack_dir)]) == 0
    assert running_pids(stack_dir) == set()
