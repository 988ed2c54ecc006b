"""Run Locust (master, workers, --processes) as bounded subprocesses against loopback servers."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
import sys
from pathlib import Path

import pyarrow.parquet as pq

from simulator.collect import Directory
from simulator.rules import ContentRules

ROOT = Path(__file__).resolve().parents[2]
LOCUSTFILES = ROOT / "locustfiles"
RULES = {"1": ContentRules()}
PROCESS_TIMEOUT_S = 120.0  # a hard bound on every Locust process in the tests


def directory_of(workforce_path: Path) -> Directory:
    wf = pq.read_table(workforce_path, columns=["email", "department"]).to_pydict()
    return Directory(zip(wf["email"], [str(d) for d in wf["department"]], strict=True))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def storm_args(
    locustfile: str,
    host: str,
    files: tuple[Path, Path, Path],
    out: Path,
    speedup: float,
    run_time: str = "60s",
) -> list[str]:
    workforce, schedule, secret = files
    return [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILES / locustfile),
        "--headless", "-u", "8", "-r", "100", "--run-time", run_time, "--stop-timeout", "5",
        "--host", host, "--schedule", str(schedule), "--workforce", str(workforce),
        "--api-secret-file", str(secret), "--speedup", str(speedup),
        "--pulsecheck-out", str(out), "--start-delay", "2", "--loglevel", "INFO",
        "--exit-code-on-error", "0",  # the target's refusals are results, not test errors
    ]  # fmt: skip


async def run_all(commands: list[list[str]], cwd: Path) -> list[tuple[int, str]]:
    """Start every command, wait for all (killing any past the timeout): (code, output)."""
    procs = [
        await asyncio.create_subprocess_exec(
            *cmd, cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        for cmd in commands
    ]
    return list(await asyncio.gather(*(_finish(p) for p in procs)))


async def _finish(proc: asyncio.subprocess.Process) -> tuple[int, str]:
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), PROCESS_TIMEOUT_S)
    except TimeoutError:
        proc.kill()
        out, _ = await proc.communicate()
        return -9, out.decode(errors="replace")
    return int(proc.returncode or 0), out.decode(errors="replace")


def stored_keys(store_path: Path) -> list[str]:
    conn = sqlite3.connect(store_path)
    try:
        return [row[0] for row in conn.execute("SELECT idem_key FROM replies")]
    finally:
        conn.close()
