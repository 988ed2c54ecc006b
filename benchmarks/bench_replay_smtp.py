"""SMTP broadcast throughput beside aiosmtplib and Postfix's smtp-source, into smtp-sink.

Starts Postfix's smtp-sink (which offers PIPELINING) on a loopback port, then, side by
side and repeated, sends broadcast transactions of the same size and recipient count:
  - pulsecheck replay (PIPELINING client), all events due at once, 20 connections;
  - the same replay pipelining within a transaction only: each message's dot waits for
    its reply before the next MAIL goes out (what the cross-transaction pipelining saves);
  - aiosmtplib, 20 connections, building an `EmailMessage` per message;
  - smtp-source, 20 sessions reusing their connections (-d), no pipelining.
Each recipient count given runs the whole comparison (default: 1 and 20 per message).
Prints messages/s medians and the ratios the replay engine is held to.

With --tls, the comparison is plain SMTP against STARTTLS instead, on one server that
speaks both (an aiosmtpd sink in its own process offering PIPELINING, its certificate
from a trustme CA): the replay and aiosmtplib, each plain and over STARTTLS, side by
side and repeated; the replay's STARTTLS run must still pipeline.

Run: python benchmarks/bench_replay_smtp.py [--repeats 3] [--rcpts 1 20] [--messages N]
     python benchmarks/bench_replay_smtp.py --tls [--repeats 3] [--rcpts 1] [--messages N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiosmtplib

from simulator.replay import ReplayOptions, replay
from simulator.replay.smtp import SmtpSession, SmtpTarget, Wire
from simulator.replay.targets import Follow
from simulator.replay.tls import TlsOptions
from simulator.replay.workers import new_event_loop
from simulator.traffic.outcomes import Outcome
from simulator.traffic.payload import Payload
from tests.replay.tables import schedule, workforce

SESSIONS = 20


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_sink() -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    user = ["-u", "nobody"] if os.geteuid() == 0 else []  # smtp-sink refuses to run as root
    proc = subprocess.Popen(["smtp-sink", *user, f"127.0.0.1:{port}", "1024"])
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("smtp-sink did not start")


def broadcasts(n: int, rcpts: int) -> tuple[object, object]:
    firsts = [(i * rcpts) % 10_000 for i in range(n)]
    events = schedule(["broadcast"] * n, gap_us=0, rcpt_first=firsts, rcpt_count=[rcpts] * n)
    return events, workforce(10_000 + rcpts)


class OneAtATimeSession(SmtpSession):
    """Never takes the next due message along: one transaction's pipeline at a time."""

    async def deliver(self, message: Wire, follow: Follow | None = None) -> Outcome:
        return await super().deliver(message, None)


class OneAtATimeTarget(SmtpTarget):
    async def open(self) -> SmtpSession:
        session = OneAtATimeSession(self)
        session.proto = await session._connect()
        return session


def run_replay(
    port: int, n: int, rcpts: int, chain: bool = True, ca_file: Path | None = None
) -> float:
    events, wf = broadcasts(n, rcpts)
    options = ReplayOptions(concurrency=SESSIONS, max_duration_s=600, drop_after_s=1e9)
    if ca_file is not None:  # STARTTLS, trusting the sink's CA
        tls = TlsOptions(ca_file=ca_file)
        target = SmtpTarget("127.0.0.1", port, tls_mode="starttls", tls=tls)
    else:
        target = (SmtpTarget if chain else OneAtATimeTarget)("127.0.0.1", port)
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        t0 = time.perf_counter()
        result = runner.run(replay(events, wf, target, options))  # type: ignore[arg-type]
        wall = time.perf_counter() - t0
    assert result.summary["acknowledged"] == n, result.summary["outcomes"]
    return n / wall


async def _aiosmtplib(
    port: int, n: int, rcpts: int, body: str, tls: ssl.SSLContext | None = None
) -> float:
    per = n // SESSIONS

    async def session(k: int) -> None:
        client = aiosmtplib.SMTP(
            hostname="127.0.0.1", port=port, start_tls=tls is not None, tls_context=tls
        )
        await client.connect()
        for i in range(per):
            msg = EmailMessage()
            msg["From"] = "hr@opm.example"
            msg["To"] = "undisclosed-recipients:;"
            msg["Subject"] = "What did you do last week?"
            msg.set_content(body)
            first = (k * per + i) * rcpts % 10_000
            to = [f"user{j}@dhs.example" for j in range(first, first + rcpts)]
            await client.send_message(msg, recipients=to)
        await client.quit()

    t0 = time.perf_counter()
    await asyncio.gather(*(session(k) for k in range(SESSIONS)))
    return per * SESSIONS / (time.perf_counter() - t0)


def run_aiosmtplib(
    port: int, n: int, rcpts: int, body: str, tls: ssl.SSLContext | None = None
) -> float:
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        return runner.run(_aiosmtplib(port, n, rcpts, body, tls))


def run_smtp_source(port: int, n: int, rcpts: int, size: int) -> float:
    t0 = time.perf_counter()
    subprocess.run(
        ["smtp-source", "-d", "-s", str(SESSIONS), "-m", str(n), "-r", str(rcpts),
         "-l", str(size), "-f", "hr@opm.example", "-t", "user@dhs.example",
         f"127.0.0.1:{port}"],
        check=True, capture_output=True,
    )  # fmt: skip
    return n / (time.perf_counter() - t0)


def compare(port: int, rcpts: int, messages: int, repeats: int) -> None:
    """The side-by-side runs at one recipient count, and their medians and ratios."""
    events, wf = broadcasts(1, rcpts)
    sample = Payload(events, wf).smtp_message(0)  # type: ignore[arg-type]
    size = len(sample.data)
    body = sample.data.split(b"\r\n\r\n", 1)[1].decode()
    rows: dict[str, list[float]] = {
        "replay": [], "replay-one-txn": [], "smtp-source": [], "aiosmtplib": []
    }  # fmt: skip
    for rep in range(repeats):
        rows["replay"].append(run_replay(port, messages, rcpts))
        rows["replay-one-txn"].append(run_replay(port, messages, rcpts, chain=False))
        rows["smtp-source"].append(run_smtp_source(port, messages, rcpts, size))
        small = max(SESSIONS, messages // 20)
        rows["aiosmtplib"].append(run_aiosmtplib(port, small, rcpts, body))
        done = ", ".join(f"{k} {v[-1]:.0f} msg/s" for k, v in rows.items())
        print(f"{rcpts} rcpt, repeat {rep + 1}: {done}", flush=True)
    med = {k: statistics.median(v) for k, v in rows.items()}
    print(f"\nsmtp-sink, {SESSIONS} connections, {rcpts} recipients and ~{size} bytes per "
          f"message, {repeats} repeats, medians (load average {load()}):")  # fmt: skip
    for name, rate in med.items():
        print(f"{name:<16}{rate:>10.0f} msg/s{rate * rcpts:>12.0f} rcpt/s")
    versus = med["replay"] / med["aiosmtplib"]
    print(f"\n{rcpts} rcpt: replay / aiosmtplib EmailMessage: {versus:.1f}x (goal >= 10x)")
    source = med["replay"] / med["smtp-source"]
    print(f"{rcpts} rcpt: replay / smtp-source: {source:.2f}x (goal >= 1.0x)")
    chain = med["replay"] / med["replay-one-txn"]
    print(f"{rcpts} rcpt: pipelining across transactions: {chain:.2f}x one transaction at a time\n")


def compare_tls(rcpts: int, messages: int, repeats: int) -> None:
    """Plain SMTP and STARTTLS against one aiosmtpd sink: medians side by side."""
    import trustme

    from tests.replay.aiosmtpd_sink import start

    ca = trustme.CA()
    with tempfile.TemporaryDirectory(prefix="pulsecheck-bench-tls-") as tmp:
        ca_file, cert, key = Path(tmp, "ca.pem"), Path(tmp, "cert.pem"), Path(tmp, "key.pem")
        ca.cert_pem.write_to_path(str(ca_file))
        issued = ca.issue_cert("127.0.0.1", "localhost")
        issued.cert_chain_pems[0].write_to_path(str(cert))
        issued.private_key_pem.write_to_path(str(key))
        client_tls = ssl.create_default_context(cafile=str(ca_file))
        port = free_port()
        sink = start(port, cert, key)
        try:
            _compare_tls(port, ca_file, client_tls, rcpts, messages, repeats)
        finally:
            sink.terminate()
            sink.wait()


def _compare_tls(
    port: int, ca_file: Path, tls: ssl.SSLContext, rcpts: int, messages: int, repeats: int
) -> None:
    events, wf = broadcasts(1, rcpts)
    sample = Payload(events, wf).smtp_message(0)  # type: ignore[arg-type]
    body = sample.data.split(b"\r\n\r\n", 1)[1].decode()
    small = max(SESSIONS, messages // 10)
    pipelined: list[bool] = []
    original = SmtpSession._transaction

    async def watching(self: SmtpSession, proto: object, message: Wire, follow: object) -> Outcome:
        if self.target.tls_mode == "starttls":
            pipelined.append(self.pipelining)
        return await original(self, proto, message, follow)  # type: ignore[arg-type]

    SmtpSession._transaction = watching  # type: ignore[method-assign]
    rows: dict[str, list[float]] = {
        "replay plain": [], "replay starttls": [], "aiosmtplib plain": [],
        "aiosmtplib starttls": [],
    }  # fmt: skip
    try:
        for rep in range(repeats):
            rows["replay plain"].append(run_replay(port, messages, rcpts))
            rows["replay starttls"].append(run_replay(port, messages, rcpts, ca_file=ca_file))
            rows["aiosmtplib plain"].append(run_aiosmtplib(port, small, rcpts, body))
            rows["aiosmtplib starttls"].append(run_aiosmtplib(port, small, rcpts, body, tls))
            done = ", ".join(f"{k} {v[-1]:.0f}" for k, v in rows.items())
            print(f"{rcpts} rcpt, repeat {rep + 1} (msg/s): {done}", flush=True)
    finally:
        SmtpSession._transaction = original  # type: ignore[method-assign]
    med = {k: statistics.median(v) for k, v in rows.items()}
    print(f"\naiosmtpd sink (own process, PIPELINING), {SESSIONS} connections, {rcpts} rcpt "
          f"per message, {repeats} repeats, medians (load average {load()}):")  # fmt: skip
    for name, rate in med.items():
        print(f"{name:<22}{rate:>10.0f} msg/s")
    print(f"replay starttls / plain: {med['replay starttls'] / med['replay plain']:.2f}x")
    print(f"replay starttls / aiosmtplib starttls: "
          f"{med['replay starttls'] / med['aiosmtplib starttls']:.1f}x")  # fmt: skip
    print(f"STARTTLS transactions on a pipelining session: {sum(pipelined)} of {len(pipelined)}\n")


def load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--rcpts", type=int, nargs="+", default=[1, 20], help="recipients per message"
    )
    parser.add_argument("--messages", type=int, default=30_000)
    parser.add_argument("--tls", action="store_true", help="plain SMTP against STARTTLS")
    args = parser.parse_args()
    if args.tls:
        for rcpts in args.rcpts:
            compare_tls(rcpts, args.messages, args.repeats)
        return
    sink, port = start_sink()
    try:
        for rcpts in args.rcpts:
            compare(port, rcpts, args.messages, args.repeats)
    finally:
        sink.terminate()
        sink.wait()


if __name__ == "__main__":
    main()
