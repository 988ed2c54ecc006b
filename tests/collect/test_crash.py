"""Kill -9 during a storm, restart: every acknowledged reply is stored exactly once.

The server runs as `pulsecheck serve` in a child process. Clients count the replies that
got 201 (API) or 250 (SMTP); the server is killed with SIGKILL mid-storm; the store is
reopened and must hold each acknowledged key once. After a restart, re-sending every
acknowledged reply must be answered as a repeat and add no row.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import aiohttp
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from simulator.tokens import load_or_create_secret, mint_token

from .conftest import SmtpClient

pytestmark = [pytest.mark.integration, pytest.mark.slow]
SENDERS = [f"user{i}@dhs.example" for i in range(50)]


def workforce(tmp_path: Path) -> Path:
    path = tmp_path / "wf.parquet"
    table = pa.table({"email": SENDERS, "department": ["DHS"] * len(SENDERS)})
    pq.write_table(table, path)
    return path


def start(kind: str, tmp_path: Path) -> tuple[subprocess.Popen[str], int]:
    cmd = [
        sys.executable,
        "-m",
        "simulator",
        "serve",
        kind,
        "--store",
        str(tmp_path / "db"),
        "--workforce",
        str(workforce(tmp_path)),
        "--secret-file",
        str(tmp_path / "secret"),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.search(r":(\d+)$", line.strip())
    assert match, line
    return proc, int(match.group(1))


def stored_keys(tmp_path: Path) -> list[str]:
    with sqlite3.connect(tmp_path / "db") as conn:  # a writable open recovers the WAL
        return [row[0] for row in conn.execute("SELECT idem_key FROM replies")]


async def smtp_worker(port: int, worker: int, acked: list[str], stop: asyncio.Event) -> None:
    sender = SENDERS[worker]
    try:
        smtp = await SmtpClient.connect("127.0.0.1", port)
        await smtp.send(b"EHLO storm\r\n")
        for n in range(100_000):
            if stop.is_set():
                break
            mid = f"<w{worker}-{n}@storm>"
            answers = await smtp.mail(
                sender, ["hr@opm.example"], b"- worked", f"Message-ID: {mid}\r\n".encode()
            )
            if answers[-1].startswith("250"):
                acked.append(f"smtp:anon/{mid}#opm-hr")
    except (TimeoutError, ConnectionError, OSError, asyncio.IncompleteReadError):
        return


async def api_worker(
    port: int, worker: int, acked: list[str], stop: asyncio.Event, token: str
) -> None:
    sender = SENDERS[worker]
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as http:
        for n in range(100_000):
            if stop.is_set():
                return
            key = f"w{worker}-{n}"
            payload = {
                "sender": sender,
                "round": "r1",
                "to": "hr@opm.example",
                "bullets": ["worked"],
                "idempotency_key": key,
            }
            try:
                async with http.post("/replies", json=payload, headers=headers) as r:
                    if r.status == 201:
                        acked.append(f"api:DHS:{sender}/{key}")
            except (aiohttp.ClientError, OSError):
                return


async def storm(kind: str, port: int, tmp_path: Path, seconds: float) -> tuple[list[str], bool]:
    acked: list[str] = []
    stop = asyncio.Event()
    if kind == "mailbox":
        tasks = [smtp_worker(port, w, acked, stop) for w in range(20)]
    else:
        token = mint_token(load_or_create_secret(tmp_path / "secret"), "DHS")
        tasks = [api_worker(port, w, acked, stop, token) for w in range(20)]
    runner = asyncio.gather(*tasks)
    await asyncio.sleep(seconds)
    return acked, runner  # type: ignore[return-value]


@pytest.mark.parametrize("kind", ["mailbox", "api"])
async def test_kill_9_keeps_every_acknowledged_reply(kind: str, tmp_path: Path) -> None:
    proc, port = start(kind, tmp_path)
    acked, runner = await storm(kind, port, tmp_path, seconds=2.0)
    os.kill(proc.pid, signal.SIGKILL)  # mid-storm: writes are in flight
    proc.wait()
    await asyncio.wait_for(runner, 20)  # type: ignore[arg-type]
    keys = stored_keys(tmp_path)
    print(f"{kind}: acked {len(acked)}, stored {len(keys)} after kill -9")
    assert len(acked) > 100  # the storm really ran
    assert len(keys) == len(set(keys))
    assert set(acked) <= set(keys)  # nothing acknowledged was lost
    await resend_after_restart(kind, tmp_path, acked, keys)


async def resend_after_restart(
    kind: str, tmp_path: Path, acked: list[str], keys: list[str]
) -> None:
    proc, port = start(kind, tmp_path)
    try:
        if kind == "mailbox":
            smtp = await SmtpClient.connect("127.0.0.1", port)
            await smtp.send(b"EHLO again\r\n")
            for key in acked[:200]:
                mid = key.split("/", 1)[1].rsplit("#", 1)[0]
                answers = await smtp.mail(
                    SENDERS[0], ["hr@opm.example"], b"- worked", f"Message-ID: {mid}\r\n".encode()
                )
                assert answers[-1].startswith("250")
            await smtp.close()
        else:
            token = mint_token(load_or_create_secret(tmp_path / "secret"), "DHS")
            async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as http:
                for key in acked[:200]:
                    sender, idem = key.removeprefix("api:DHS:").split("/", 1)
                    payload = {
                        "sender": sender,
                        "round": "r1",
                        "to": "hr@opm.example",
                        "bullets": ["worked"],
                        "idempotency_key": idem,
                    }
                    async with http.post(
                        "/replies", json=payload, headers={"Authorization": f"Bearer {token}"}
                    ) as r:
                        assert r.status == 200  # a repeat, not a new row
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0  # SIGTERM drains and exits cleanly
    assert sorted(stored_keys(tmp_path)) == sorted(keys)
