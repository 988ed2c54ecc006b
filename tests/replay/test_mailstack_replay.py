"""A replay that overfills a mailbox of the real mail stack (Postfix -> LMTP -> Dovecot).

With a tiny quota the collection's mailbox fills up: Postfix, asking Dovecot's
quota-status at RCPT, refuses the rest with 552 5.2.2, and the replay summary
(replay.json and what `replay` prints), summary.json and report.html all count them as
"mailbox full"; every message acknowledged before is in the mailbox (test_postfix.py
checks exactly-once delivery of a larger replay).
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from simulator.cli import main
from simulator.collect.mailstack import MailStack
from simulator.columns import NO_ID
from tests.mailstack import StackFactory
from tests.replay.tables import schedule, workforce

pytestmark = [pytest.mark.integration, pytest.mark.slow]

COLLECTION = "hr@opm.example"  # the default collection opm-hr
_MESSAGE_ID = re.compile(rb"^Message-ID: <(\d+)\.\d+@pulsecheck\.example>", re.M | re.I)


def _ids(stack: MailStack, address: str) -> Counter[int]:
    found: Counter[int] = Counter()
    for path in stack.messages(address):
        match = _MESSAGE_ID.search(path.read_bytes())
        found[int(match.group(1)) if match else -1] += 1
    return found


def _settle(stack: MailStack, address: str, count: int, limit_s: float = 60.0) -> None:
    """Wait until the mailbox holds at least `count` messages, then a little longer, so
    any extra copy would show."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline and len(stack.messages(address)) < count:
        time.sleep(0.2)
    time.sleep(1.0)


def test_a_full_mailbox_is_counted_as_mailbox_full(
    mailstack_factory: StackFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    n = 30
    stack = mailstack_factory(quota="16k", users=[COLLECTION])
    # Replies to the collection alone, 300 ms apart: each is stored before the next
    # arrives, so the mailbox is full when quota-status is asked about the next one.
    events = schedule(["reply"] * n, gap_us=300_000, rcpt_count=[1] * n, cc=[NO_ID] * n,
                      collection="opm-hr")  # fmt: skip
    pq.write_table(events, tmp_path / "s.parquet")
    pq.write_table(workforce(n + 2), tmp_path / "w.parquet")
    out = tmp_path / "run"
    argv = ["replay", str(tmp_path / "s.parquet"), "--workforce", str(tmp_path / "w.parquet"),
            "--target", f"smtp://127.0.0.1:{stack.smtp_port}", "--out", str(out),
            "--concurrency", "1", "--retries", "0", "--speedup", "1", "--no-live"]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out

    replayed = json.loads((out / "replay.json").read_text())
    full = replayed["errors_by_reason"].get("mailbox full", 0)
    assert full > 0, (replayed, stack.log())
    assert replayed["outcomes"]["rejected"] == full
    assert replayed["acknowledged"] + full == n, (
        replayed["outcomes"],
        replayed["errors_by_reason"],
    )
    assert f"mailbox full {full}" in printed

    _settle(stack, COLLECTION, replayed["acknowledged"])
    log = (stack.dir / "postfix" / "maillog").read_text()
    assert log.count("NOQUEUE: reject: RCPT") == log.count("rejected: Mailbox is full") == full
    # Rarely, under load, a message is accepted before the one before it was stored; then
    # LMTP refuses it after the fact (bounced), and the replay could not have known.
    late_refusals = log.count("said: 552 5.2.2")
    stored = stack.messages(COLLECTION)
    assert len(stored) + late_refusals == replayed["acknowledged"], stack.log()
    assert sum(p.stat().st_size for p in stored) > 16 * 1024  # it really is full

    assert main(["report", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["events"]["failed_by_reason"] == {"mailbox full": full}
    assert "mailbox full" in (out / "report.html").read_text()
