"""Durable mailbox vs aiosmtpd under Postfix smtp-source, side by side at several session counts.

Each contender runs in its own process pinned to CPU 0; smtp-source runs pinned to CPU 1
and sends `--messages` messages over N reused connections (`--sessions 10,20,50`), 2
recipients each (the collection address plus a directory address standing for the
manager's cc). smtp-source does not pipeline: every message is five round trips (MAIL,
RCPT, RCPT, DATA, the message), and a session sends its next message only once the last
one is answered, so at N sessions at most N messages wait for a group commit. A light
probe client sends one message every 20 ms on its own connection while the load runs
and records end-to-end latency (MAIL .. final 250), giving p50 and p99 under load.
Each repeat runs every session count and contender in turn (interleaved, so drift in
the machine's load hits all of them alike; every other repeat in reverse order); the
table gives medians.

Contenders:
  aiosmtpd-nostore  aiosmtpd 1.4 on uvloop, handler answers 250 and keeps nothing
  aiosmtpd-asyncio  the same on the standard asyncio loop (not run unless asked)
  lean-nostore      this project's mailbox with storage off
  lean-durable      this project's mailbox, SQLite WAL synchronous=FULL, group commit
  lean-encrypted    the same with encryption at rest (per-agency AES-GCM in the writer)

The msg/s table ends with encrypted/durable, the cost of encryption at rest (goal >= 0.8).

Usage: python benchmarks/bench_mailbox.py [--messages 10000] [--sessions 10,20,50]
       [--repeats 3] [--contenders aiosmtpd-nostore,lean-nostore,lean-durable,lean-encrypted]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from simulator.collect.directory import Directory
from simulator.collect.servers import ServerProcess, ServerSpec
from simulator.rules import ContentRules

SENDER = "sender@dhs.example"
COLLECTION = "hr@opm.example"  # smtp-source -r 2 also sends to "2hr@opm.example"
MANAGER = "2hr@opm.example"
PROBE_SENDER = "probe@dhs.example"

AIOSMTPD_SERVER = """
import asyncio, sys
from aiosmtpd.smtp import SMTP
class Handler:
    async def handle_DATA(self, server, session, envelope):
        return "250 OK"
async def main():
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(Handler()), "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()
if sys.argv[1] == "uvloop":
    import uvloop
    uvloop.run(main())
else:
    asyncio.run(main())
"""
CONTENDERS = (
    "aiosmtpd-nostore",
    "aiosmtpd-asyncio",
    "lean-nostore",
    "lean-durable",
    "lean-encrypted",
)
DEFAULT_CONTENDERS = "aiosmtpd-nostore,lean-nostore,lean-durable,lean-encrypted"
BENCH_KEY = bytes(range(32))  # a fixed master key: the benchmark's stores are thrown away
BASELINE = "aiosmtpd-nostore"
Result = tuple[float, float, float, float]  # msg/s, probe p50 ms, p99 ms, server CPU us/msg


def pin(pid: int, cpu: int) -> None:
    subprocess.run(
        ["taskset", "-a", "-p", "-c", str(cpu), str(pid)], check=True, stdout=subprocess.DEVNULL
    )


def directory() -> Directory:
    return Directory([(SENDER, "DHS"), (MANAGER, "OPM"), (PROBE_SENDER, "DHS")])


def start_lean(store: str | None, encrypted: bool = False) -> tuple[ServerProcess, int]:
    spec = ServerSpec(
        "mailbox",
        store,
        {"r1": ContentRules()},
        directory(),
        collections=[("opm-hr", COLLECTION, None)],
        max_pending=50_000,
        store_key=BENCH_KEY if encrypted else None,
    )
    proc = ServerProcess(spec)
    _, port = proc.start()
    assert proc.process.pid is not None
    pin(proc.process.pid, 0)
    return proc, port


def start_aiosmtpd(loop: str) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, "-c", AIOSMTPD_SERVER, loop], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    port = int(proc.stdout.readline())
    pin(proc.pid, 0)
    return proc, port


class Probe(threading.Thread):
    """Sends one 2-recipient message every 20 ms and records its latency."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.stop = threading.Event()
        self.latencies: list[float] = []

    def run(self) -> None:
        with socket.create_connection(("127.0.0.1", self.port)) as sock:
            f = sock.makefile("rwb")
            f.readline()
            self._cmd(f, b"EHLO probe\r\n", multi=True)
            n = 0
            while not self.stop.is_set() and n < 100_000:
                n += 1
                t0 = time.perf_counter()
                self._send(f, n)
                self.latencies.append(time.perf_counter() - t0)
                time.sleep(0.02)
            f.write(b"QUIT\r\n")
            f.flush()

    def _cmd(self, f: object, line: bytes, multi: bool = False) -> None:
        f.write(line)  # type: ignore[attr-defined]
        f.flush()  # type: ignore[attr-defined]
        while True:
            reply = f.readline()  # type: ignore[attr-defined]
            if not multi or reply[3:4] == b" ":
                return

    def _send(self, f: object, n: int) -> None:
        msg = (
            f"From: <{PROBE_SENDER}>\r\nMessage-ID: <probe-{time.time_ns()}-{n}@x>\r\n\r\n"
            "- did things\r\n.\r\n"
        ).encode()
        f.write(f"MAIL FROM:<{PROBE_SENDER}>\r\nRCPT TO:<{COLLECTION}>\r\n".encode())  # type: ignore[attr-defined]
        f.write(f"RCPT TO:<{MANAGER}>\r\nDATA\r\n".encode())  # type: ignore[attr-defined]
        f.flush()  # type: ignore[attr-defined]
        for _ in range(4):
            f.readline()  # type: ignore[attr-defined]
        f.write(msg)  # type: ignore[attr-defined]
        f.flush()  # type: ignore[attr-defined]
        reply = f.readline()  # type: ignore[attr-defined]
        if not reply.startswith(b"250"):
            raise RuntimeError(f"probe got {reply!r}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load(pid: int, port: int, messages: int, sessions: int) -> Result:
    """smtp-source's rate, the probe's p50 and p99, and server CPU per message."""
    probe = Probe(port)
    probe.start()
    cmd = ["taskset", "-c", "1", "smtp-source", "-d", "-s", str(sessions), "-m", str(messages)]
    cmd += ["-r", "2", "-l", "300", "-f", SENDER, "-t", COLLECTION, f"127.0.0.1:{port}"]
    cpu0, t0 = cpu_seconds(pid), time.perf_counter()
    subprocess.run(cmd, check=True, timeout=600)
    elapsed, cpu = time.perf_counter() - t0, cpu_seconds(pid) - cpu0
    probe.stop.set()
    probe.join()
    lat = sorted(probe.latencies)
    p50 = lat[len(lat) // 2] * 1000 if lat else float("nan")
    p99 = lat[int(len(lat) * 0.99)] * 1000 if lat else float("nan")
    return messages / elapsed, p50, p99, cpu / messages * 1e6


def stored_rows(path: str) -> int:
    import sqlite3

    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM replies").fetchone()[0])


def sealed_rows(path: str) -> int:
    import sqlite3

    with sqlite3.connect(path) as conn:
        sql = "SELECT COUNT(*) FROM replies WHERE sealed IS NOT NULL AND body = ''"
        return int(conn.execute(sql).fetchone()[0])


def one_round(name: str, messages: int, sessions: int, tmp: Path, i: int) -> Result:
    if name.startswith("aiosmtpd"):
        proc, port = start_aiosmtpd("asyncio" if name == "aiosmtpd-asyncio" else "uvloop")
        try:
            return load(proc.pid, port, messages, sessions)
        finally:
            proc.terminate()
            proc.wait()
    durable = name in ("lean-durable", "lean-encrypted")
    store = str(tmp / f"bench-{name}-{sessions}-{i}.db") if durable else None
    server, port = start_lean(store, encrypted=name == "lean-encrypted")
    assert server.process.pid is not None
    try:
        result = load(server.process.pid, port, messages, sessions)
    finally:
        server.stop()
    if store is not None and stored_rows(store) < messages:
        raise RuntimeError(f"{store}: {stored_rows(store)} rows for {messages} messages")
    if store is not None and name == "lean-encrypted" and sealed_rows(store) < messages:
        raise RuntimeError(f"{store}: only {sealed_rows(store)} sealed rows")
    return result


def median_of(runs: list[Result]) -> Result:
    rate, p50, p99, cpu = (statistics.median(run[k] for run in runs) for k in range(4))
    return rate, p50, p99, cpu


def print_table(results: dict[tuple[int, str], list[Result]], args: argparse.Namespace) -> None:
    names, counts = args.contenders, args.sessions
    med = {key: median_of(runs) for key, runs in results.items()}
    print(
        f"\nmedians over {args.repeats} runs, {args.messages} messages x 2 recipients, "
        "server on CPU 0, smtp-source on CPU 1"
    )
    ratio = BASELINE in names and "lean-durable" in names
    sealed = "lean-durable" in names and "lean-encrypted" in names
    tables = [
        ("msg/s", lambda r: f"{r[0]:,.0f}"),
        ("probe latency p50 / p99, ms", lambda r: f"{r[1]:.1f} / {r[2]:.1f}"),
        ("server CPU per message, us", lambda r: f"{r[3]:.0f}"),
    ]
    for title, cell in tables:
        print(f"\n  {title}")
        head = f"  {'sessions':>8}" + "".join(f"  {n:>17}" for n in names)
        rates = title == "msg/s"
        print(
            head
            + ("  durable/aiosmtpd" if ratio and rates else "")
            + ("  encrypted/durable" if sealed and rates else "")
        )
        for count in counts:
            row = "".join(f"  {cell(med[(count, n)]):>17}" for n in names)
            if ratio and rates:
                row += f"  {med[(count, 'lean-durable')][0] / med[(count, BASELINE)][0]:15.2f}x"
            if sealed and rates:
                enc = med[(count, "lean-encrypted")][0] / med[(count, "lean-durable")][0]
                row += f"  {enc:16.2f}x"
            print(f"  {count:>8}{row}")
    if sealed:
        print("\n  encrypted/durable msg/s in each repeat (the pair ran back to back)")
        for count in counts:
            pairs = zip(
                results[(count, "lean-encrypted")], results[(count, "lean-durable")], strict=True
            )
            ratios = [enc[0] / dur[0] for enc, dur in pairs]
            shown = " ".join(f"{r:.2f}" for r in ratios)
            print(f"  {count:>8}  {shown}   median {statistics.median(ratios):.2f}x")
        cpu = [med[(c, "lean-encrypted")][3] - med[(c, "lean-durable")][3] for c in counts]
        print(
            f"  encryption's CPU per message, us (median difference): {statistics.median(cpu):.0f}"
        )
    print("\n  goals: durable >= 2,000 msg/s and >= 2x aiosmtpd-nostore at every session count;")
    print("         encrypted >= 0.8x durable")


def parse_list(text: str, flag: str, allowed: tuple[str, ...] | None = None) -> list[str]:
    items = [item.strip() for item in text.split(",") if item.strip()]
    bad = [item for item in items if allowed is not None and item not in allowed]
    if not items or bad:
        raise SystemExit(
            f"{flag}: {text!r}: give a comma-separated list"
            + (f" of {', '.join(allowed)}" if allowed else "")
        )
    return items


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--sessions", default="10,20,50", help="comma-separated counts")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--contenders", default=DEFAULT_CONTENDERS)
    args = parser.parse_args()
    args.contenders = parse_list(args.contenders, "--contenders", CONTENDERS)
    sessions = parse_list(args.sessions, "--sessions")
    if not all(s.isdigit() and 0 < int(s) <= 1000 for s in sessions):
        raise SystemExit(f"--sessions: {args.sessions!r}: counts must be 1..1000")
    args.sessions = [int(s) for s in sessions]
    results: dict[tuple[int, str], list[Result]] = {
        (count, name): [] for count in args.sessions for name in args.contenders
    }
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeats):
            for count in args.sessions:
                order = args.contenders if i % 2 == 0 else args.contenders[::-1]
                for name in order:  # alternate the order: no contender always runs first
                    r = one_round(name, args.messages, count, Path(tmp), i)
                    results[(count, name)].append(r)
                    print(
                        f"  run {i + 1} {count:3d} sessions {name:18s} {r[0]:8.0f} msg/s  "
                        f"probe p50 {r[1]:6.1f} ms  p99 {r[2]:6.1f} ms  CPU {r[3]:4.0f} us/msg"
                    )
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print_table(results, args)


if __name__ == "__main__":
    main()
