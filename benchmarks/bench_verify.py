"""Read-back speed: Message-IDs per second from a Dovecot mailbox over IMAP, beside doveadm.

Goal: `--verify` reads a mailbox back at no less than a tenth of the rate of Dovecot's own
`doveadm fetch hdr.message-id`, which reads its index and files directly (no IMAP, no
parsing of a protocol in Python); at that rate a million-message mailbox is read back in
well under a minute. A throwaway Dovecot (tests/replay/dovecot_instance.py, as root) gets
`--messages` messages put into its Maildir; both readers run once untimed (Dovecot builds
its index and cache then) and `--repeat` times timed; the table gives the median rate and
the tally is checked (every message stored once). Exit 1 when the goal is missed.

    python benchmarks/bench_verify.py [--messages 20000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from simulator.app.verifying import tally  # noqa: E402
from simulator.replay.verify import VerifySpec, read_back  # noqa: E402
from tests.replay.dovecot_instance import DovecotInstance, unavailable  # noqa: E402

GOAL_RATIO = 0.1
SEED = 1


def message(event: int) -> bytes:
    return (
        f"From: user{event}@dhs.example\r\nTo: replies@collect.example\r\n"
        f"Message-ID: <{event}.{SEED}@pulsecheck.example>\r\n"
        "Subject: RE: What did you do last week?\r\n\r\n- filed the weekly report\r\n"
    ).encode()


def timed(run: object, repeat: int) -> float:
    """Median seconds of `repeat` calls after one untimed call."""
    times = []
    for i in range(repeat + 1):
        started = time.perf_counter()
        run()  # type: ignore[operator]
        if i:
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    reason = unavailable()
    if reason:
        print(f"skipped: {reason}")
        return 0
    box = DovecotInstance(Path(tempfile.mkdtemp(prefix="pulsecheck-bench-verify-")))
    box.start()
    try:
        for event in range(args.messages):
            box.deliver(message(event))
        secret = box.dir / "imap.pass"
        secret.write_text(box.password + "\n")
        spec = VerifySpec(
            f"imap://{box.user}@127.0.0.1:{box.port}/INBOX", password_file=secret, wait_s=0
        )
        got: list[list[str]] = []

        def imap() -> None:
            got.append(read_back(spec, None, lambda ids: True, lambda line: None).message_ids)

        conf = str(box.dir / "dovecot.conf")
        argv = [
            "doveadm",
            "-c",
            conf,
            "fetch",
            "-u",
            box.user,
            "hdr.message-id",
            "mailbox",
            "INBOX",
        ]

        def doveadm() -> None:
            subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)

        imap_s = timed(imap, args.repeat)
        peer_s = timed(doveadm, args.repeat)
    finally:
        box.stop()
    check = tally(np.arange(args.messages), got[-1], SEED, "bench")
    n = args.messages
    print(f"{n:,} messages in one Maildir, median of {args.repeat}:")
    print(f"  pulsecheck --verify (imaplib, UID FETCH x500): {imap_s:6.2f} s  {n / imap_s:9,.0f}/s")
    print(f"  doveadm fetch hdr.message-id (peer, no IMAP): {peer_s:6.2f} s  {n / peer_s:9,.0f}/s")
    ratio = peer_s / imap_s
    print(f"  ratio {ratio:.2f} of the peer's rate (goal >= {GOAL_RATIO:.2f})")
    print(f"  tally: {check.stored:,} stored, {check.missing} lost, {check.duplicates} duplicated")
    ok = ratio >= GOAL_RATIO and check.stored == n and check.duplicates == 0
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
