"""Durable mailbox vs aiosmtpd, driven by Postfix's smtp-source, side by side in one run.

Each contender runs in its own process pinned to CPU 0; smtp-source runs pinned to CPU 1
and sends `--messages` messages over `--sessions` reused connections, 2 recipients each
(the collection address plus a directory address standing for the manager's cc). A
light probe client sends one message every 20 ms on its own connection while the load
runs and records end-to-end latency (MAIL .. final 250), giving p50 and p99 under load.

Contenders:
  aiosmtpd-nostore  aiosmtpd 1.4 on uvloop, handler answers 250 and keeps nothing
  lean-nostore      this project's mailbox with storage off
  lean-durable      this project's mailbox, SQLite WAL synchronous=FULL, group commit

Usage: python benchmarks/bench_mailbox.py [--messages 20000] [--sessions 50] [--repeats 3]
"""

from __future__ import annotations

import argparse
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
import asyncio, sys, uvloop
from aiosmtpd.smtp import SMTP
class Handler:
    async def handle_DATA(self, server, session, envelope):
        return "250 OK"
async def main():
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(Handler()), "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()
uvloop.run(main())
"""


def pin(pid: int, cpu: int) -> None:
    subprocess.run(
        ["taskset", "-a", "-p", "-c", str(cpu), str(pid)], check=True, stdout=subprocess.DEVNULL
    )


def directory() -> Directory:
    return Directory([(SENDER, "DHS"), (MANAGER, "OPM"), (PROBE_SENDER, "DHS")])


def start_lean(store: str | None) -> tuple[ServerProcess, int]:
    spec = ServerSpec(
        "mailbox",
        store,
        {"r1": ContentRules()},
        directory(),
        collections=[("opm-hr", COLLECTION, None)],
        max_pending=50_000,
    )
    proc = ServerProcess(spec)
    _, port = proc.start()
    assert proc.process.pid is not None
    pin(proc.process.pid, 0)
    return proc, port


def start_aiosmtpd() -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, "-c", AIOSMTPD_SERVER], stdout=subprocess.PIPE, text=True
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


def load(port: int, messages: int, sessions: int) -> tuple[float, list[float]]:
    probe = Probe(port)
    probe.start()
    cmd = [
        "taskset",
        "-c",
        "1",
        "smtp-source",
        "-d",
        "-s",
        str(sessions),
        "-m",
        str(messages),
        "-r",
        "2",
        "-l",
        "300",
        "-f",
        SENDER,
        "-t",
        COLLECTION,
        f"127.0.0.1:{port}",
    ]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, timeout=600)
    elapsed = time.perf_counter() - t0
    probe.stop.set()
    probe.join()
    return messages / elapsed, probe.latencies


def stored_rows(path: str) -> int:
    import sqlite3

    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM replies").fetchone()[0])


def one_round(
    name: str, messages: int, sessions: int, tmp: Path, i: int
) -> tuple[float, float, float]:
    if name == "aiosmtpd-nostore":
        proc, port = start_aiosmtpd()
        try:
            rate, lat = load(port, messages, sessions)
        finally:
            proc.terminate()
            proc.wait()
    else:
        store = str(tmp / f"bench-{i}.db") if name == "lean-durable" else None
        server, port = start_lean(store)
        try:
            rate, lat = load(port, messages, sessions)
        finally:
            server.stop()
        if store is not None:
            rows = stored_rows(store)
            print(f"    stored rows: {rows} (smtp-source messages: {messages}, probe adds a few)")
    lat.sort()
    p50 = lat[len(lat) // 2] * 1000 if lat else float("nan")
    p99 = lat[int(len(lat) * 0.99)] * 1000 if lat else float("nan")
    return rate, p50, p99


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    names = ["aiosmtpd-nostore", "lean-nostore", "lean-durable"]
    results: dict[str, list[tuple[float, float, float]]] = {n: [] for n in names}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeats):
            for name in names:
                r = one_round(name, args.messages, args.sessions, Path(tmp), i)
                results[name].append(r)
                print(f"  run {i + 1} {name:18s} {r[0]:8.0f} msg/s", end="")
                print(f"  probe p50 {r[1]:6.1f} ms  p99 {r[2]:6.1f} ms")
    print(
        f"\nmedians over {args.repeats} runs, {args.messages} messages x 2 recipients, "
        f"{args.sessions} sessions, server on CPU 0, smtp-source on CPU 1:"
    )
    med = {n: [statistics.median(x[k] for x in results[n]) for k in range(3)] for n in names}
    for n in names:
        print(f"  {n:18s} {med[n][0]:8.0f} msg/s  p50 {med[n][1]:6.1f} ms  p99 {med[n][2]:6.1f} ms")
    ratio = med["lean-durable"][0] / med["aiosmtpd-nostore"][0]
    print(f"  durable / aiosmtpd-nostore = {ratio:.2f}x  (goal >= 2x; durable goal >= 2000 msg/s)")


if __name__ == "__main__":
    main()
