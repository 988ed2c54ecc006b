"""Read-back over IMAP against real servers on loopback.

Dovecot alone (tests/replay/dovecot_instance.py), messages put into its Maildir directly:
the tally finds the stored, the lost, the duplicated and the stray ones, and ignores what
was there before the preflight. Refusals (no such mailbox, a wrong password, no password
file) are InputErrors before any load. Then the whole path: `pulsecheck replay --verify`
sends a small schedule over SMTP into the Postfix+Dovecot stack (tests/mailstack.py) and
reads the collection mailbox back over IMAP with STARTTLS: nothing lost, nothing twice.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from simulator.app.verifying import Expected, tally, verify_mailbox
from simulator.cli import main
from simulator.collect.mailstack import MailStack
from simulator.replay.tls import TlsOptions
from simulator.replay.verify import VerifySpec, preflight, read_back
from simulator.validation import InputError
from tests.mailstack import tls_files
from tests.replay.dovecot_instance import DovecotInstance, unavailable
from tests.replay.tables import schedule, workforce

pytestmark = [pytest.mark.integration]

SEED = 3
SMOKE = Path(__file__).resolve().parents[2] / "scenarios" / "ci-smoke.toml"


@pytest.fixture
def dovecot() -> Iterator[DovecotInstance]:
    reason = unavailable()
    if reason:
        pytest.skip(reason)
    instance = DovecotInstance(Path(tempfile.mkdtemp(prefix="pulsecheck-dovecot-")))
    instance.start()
    try:
        yield instance
    finally:
        instance.stop()


@pytest.fixture
def dovecot_tls() -> Iterator[DovecotInstance]:
    reason = unavailable()
    if reason:
        pytest.skip(reason)
    root = Path(tempfile.mkdtemp(prefix="pulsecheck-dovecot-"))
    root.chmod(0o755)
    instance = DovecotInstance(root / "imap", tls=tls_files(root / "tls"))
    instance.start()
    try:
        yield instance
    finally:
        instance.stop()
        shutil.rmtree(root, ignore_errors=True)


def _message(event: int | None, seed: int = SEED) -> bytes:
    mid = "<other@elsewhere.example>" if event is None else f"<{event}.{seed}@pulsecheck.example>"
    return (
        f"From: user1@dhs.example\r\nTo: replies@collect.example\r\nMessage-ID: {mid}\r\n"
        "Subject: RE: What did you do last week?\r\n\r\n- things\r\n"
    ).encode()


def _spec(box: DovecotInstance, mailbox: str = "INBOX", **kw: object) -> VerifySpec:
    secret = box.dir / "imap.pass"
    secret.write_text(box.password + "\n")
    secret.chmod(0o600)
    options: dict[str, object] = {"password_file": secret, "wait_s": 1.0}
    options.update(kw)
    url = f"imap://{box.user}@127.0.0.1:{box.port}/{mailbox}"
    return VerifySpec(url, **options)  # type: ignore[arg-type]


def test_read_back_counts_stored_lost_duplicates_and_strays(dovecot: DovecotInstance) -> None:
    dovecot.deliver(_message(5))  # from an earlier run: below the preflight's UIDNEXT
    spec = _spec(dovecot)
    mark = preflight(spec)
    assert mark.messages == 1
    for event in (1, 2, 2, 4, 5, None):  # 2 twice, 3 missing, 5 again, one stray message
        dovecot.deliver(_message(event))
    dovecot.deliver(_message(6, seed=SEED + 1))  # another seed: not this run's event 6
    lines: list[str] = []
    expected = Expected(np.array([1, 2, 3, 4, 5, 6]), np.array([], dtype=np.int64))
    check = verify_mailbox(spec, mark, expected, SEED, lines.append)
    assert (check.acknowledged, check.stored, check.missing) == (6, 4, 2)
    assert check.duplicates == 1  # event 2; event 5's earlier copy was not read
    assert check.extra_rows == 2  # the stray message and the other seed's
    assert check.source == f"imap://{dovecot.user}@127.0.0.1:{dovecot.port}/INBOX"
    assert dovecot.password not in "\n".join(lines)


def test_read_back_of_a_folder_without_a_mark_reads_everything(dovecot: DovecotInstance) -> None:
    dovecot.make_folder("Replies")
    for event in range(1200):  # more than one FETCH batch
        dovecot.deliver(_message(event), folder="Replies")
    folded = _message(1200).replace(b"Message-ID: <", b"message-id:\r\n <")
    dovecot.deliver(folded, folder="Replies")
    read = read_back(_spec(dovecot, "Replies"), None, lambda ids: True, print)
    check = tally(np.arange(1201), read.message_ids, SEED, "x")
    assert (check.stored, check.missing, check.duplicates, check.extra_rows) == (1201, 0, 0, 0)


def test_read_back_waits_for_a_late_delivery(dovecot: DovecotInstance) -> None:
    spec = _spec(dovecot, wait_s=20.0)
    mark = preflight(spec)
    dovecot.deliver(_message(1))
    polls: list[float] = []

    def late(seconds: float) -> None:  # the MTA delivers the second message meanwhile
        polls.append(seconds)
        if len(polls) == 2:
            dovecot.deliver(_message(2))

    read = read_back(spec, mark, lambda ids: len(ids) >= 2, print, sleep=late)
    assert len(polls) == 2
    assert tally(np.array([1, 2]), read.message_ids, SEED, "x").missing == 0


@pytest.mark.parametrize("scheme", ["imaps", "imap"])  # implicit TLS, and STARTTLS offered
def test_tls_is_verified_against_the_given_ca(dovecot_tls: DovecotInstance, scheme: str) -> None:
    box = dovecot_tls
    port = box.imaps_port if scheme == "imaps" else box.port
    assert box.tls is not None
    trusted = TlsOptions(ca_file=box.tls[0])
    spec = _spec(box, tls=trusted)
    spec = VerifySpec(f"{scheme}://{box.user}@127.0.0.1:{port}/INBOX", **_same(spec))
    box.deliver(_message(1))
    read = read_back(spec, None, lambda ids: True, print)
    assert read.message_ids == [f"<1.{SEED}@pulsecheck.example>"]
    untrusted = VerifySpec(spec.url, **{**_same(spec), "tls": TlsOptions()})
    with pytest.raises(InputError) as err:
        preflight(untrusted)
    assert "certificate not trusted" in str(err.value) and "--verify-ca-file" in str(err.value)
    wrong_name = VerifySpec(
        spec.url, **{**_same(spec), "tls": TlsOptions(ca_file=box.tls[0], server_name="x.test")}
    )
    with pytest.raises(InputError):
        preflight(wrong_name)


def _same(spec: VerifySpec) -> dict[str, object]:
    return {"password_file": spec.password_file, "tls": spec.tls, "wait_s": spec.wait_s}


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"mailbox": "Nope"}, "no such mailbox"),
        ({"password_file": Path("/nonexistent/imap.pass")}, "--verify-password-file"),
        ({"wrong_password": True}, "login refused"),
        ({"password_env": "PULSECHECK_TEST_UNSET_VARIABLE", "password_file": None}, "-env"),
    ],
)
def test_preflight_refusals_are_input_errors(
    dovecot: DovecotInstance, change: dict[str, object], says: str
) -> None:
    mailbox = str(change.pop("mailbox", "INBOX"))
    spec = _spec(dovecot, mailbox, **{k: v for k, v in change.items() if k != "wrong_password"})
    if change.get("wrong_password"):
        assert spec.password_file is not None
        spec.password_file.write_text("not-the-password\n")
    with pytest.raises(InputError) as err:
        preflight(spec)
    assert says in str(err.value)
    assert dovecot.password not in str(err.value)


def test_refused_login_exits_2_before_any_load(
    dovecot: DovecotInstance, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pq.write_table(schedule(["reply"] * 3), tmp_path / "s.parquet")
    pq.write_table(workforce(10), tmp_path / "w.parquet")
    (tmp_path / "wrong.pass").write_text("wrong\n")
    url = f"imap://{dovecot.user}@127.0.0.1:{dovecot.port}/INBOX"
    code = main(
        ["replay", str(tmp_path / "s.parquet"), "--workforce", str(tmp_path / "w.parquet"),
         "--target", "smtp://127.0.0.1:9", "--out", str(tmp_path / "run"), "--no-live",
         "--verify", url, "--verify-password-file", str(tmp_path / "wrong.pass")]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert "login refused" in err and "--verify" in err
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_replay_over_smtp_then_verify_over_imap(
    mailstack: MailStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    box = "hr@opm.example"
    kinds = ["reply"] * 60 + ["auto_reply"] * 3
    pq.write_table(schedule(kinds, gap_us=3000), tmp_path / "s.parquet")
    pq.write_table(workforce(80), tmp_path / "w.parquet")
    secret = tmp_path / "hr.pass"
    secret.write_text(mailstack.users[box] + "\n")
    secret.chmod(0o600)
    url = f"imap://{box}@127.0.0.1:{mailstack.imap_port}/INBOX"
    code = main(
        ["replay", str(tmp_path / "s.parquet"), "--workforce", str(tmp_path / "w.parquet"),
         "--target", f"smtp://127.0.0.1:{mailstack.smtp_port}", "--out", str(tmp_path / "run"),
         "--no-live", "--speedup", "1", "--seed", str(SEED), "--collection", f"opm={box}",
         "--verify", url, "--verify-password-file", str(secret),
         "--verify-ca-file", str(mailstack.ca_file)]
    )  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, out + err
    # the 60 replies go to the collection address; the auto-replies to the broadcast
    # sender, which is hr@opm.example as well: 63 events addressed to the mailbox
    said = " ".join(line.strip() for line in out.splitlines())  # lines fit 80 columns
    assert "63 of 63 acknowledged events addressed to it stored, 0 lost, 0 duplicated" in said
    assert len(mailstack.messages(box)) == 63
    assert mailstack.users[box] not in out + err
    kept = json.loads((tmp_path / "run" / "replay.json").read_text())["store_check"]
    assert kept["source"] == url and kept["stored"] == 63 and kept["duplicates"] == 0
    assert main(["report", str(tmp_path / "run")]) in (0, 99)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert (summary["events"]["stored"], summary["events"]["lost"]) == (63, 0)
    assert url in (tmp_path / "run" / "report.html").read_text()


@pytest.mark.slow
def test_run_reads_its_own_mailbox_back_into_the_record(
    mailstack_factory: Callable[..., MailStack], tmp_path: Path
) -> None:
    stack = mailstack_factory(quota="500M")
    box = "hr@opm.example"  # the smoke scenario's collection address and broadcast sender
    env = "PULSECHECK_TEST_IMAP_PASSWORD"
    out = tmp_path / "run"
    url = f"imap://{box}@127.0.0.1:{stack.imap_port}/INBOX"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(env, stack.users[box])
        code = main(
            ["run", str(SMOKE), "--out", str(out),
             "--target", f"smtp://127.0.0.1:{stack.smtp_port}",
             "--verify", url, "--verify-password-env", env,
             "--verify-ca-file", str(stack.ca_file), "--verify-wait", "120"]
        )  # fmt: skip
    record = json.loads((out / "run.json").read_text())
    check = record["store_check"]
    assert check["source"] == url
    assert check["acknowledged"] > 500  # replies to hr@, auto-replies and bounces to it
    assert (check["missing"], check["duplicates"]) == (0, 0), check
    assert check["stored"] == check["acknowledged"] == len(stack.messages(box))
    summary = json.loads((out / "summary.json").read_text())
    assert summary["events"]["lost"] == 0 and summary["events"]["duplicates"] == 0
    assert summary["store_check"]["source"] == url
    assert "Store check" in record["sections"]
    text = "".join(p.read_text(errors="replace") for p in out.iterdir() if p.is_file())
    assert stack.users[box] not in text
    assert code in (0, 99)  # not a failed run; the thresholds are the smoke scenario's


@pytest.mark.parametrize(("mailbox", "password", "says"), [
    ("INBOX", "wrong", "login refused"),
    ("Nope", None, "no such mailbox"),
])  # fmt: skip
def test_run_refuses_a_mailbox_it_cannot_read_before_building_anything(
    dovecot: DovecotInstance,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    mailbox: str,
    password: str | None,
    says: str,
) -> None:
    secret = tmp_path / "imap.pass"
    secret.write_text((password or dovecot.password) + "\n")
    url = f"imap://{dovecot.user}@127.0.0.1:{dovecot.port}/{mailbox}"
    code = main(
        ["run", str(SMOKE), "--out", str(tmp_path / "run"), "--target", "smtp://127.0.0.1:9",
         "--verify", url, "--verify-password-file", str(secret)]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2, err
    assert says in err
    assert not (tmp_path / "run").exists()
