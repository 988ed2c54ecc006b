"""Overload: far more concurrent requests than the write queue holds.

The API server runs in a child process with a 50-record write queue; 300 concurrent
clients post for a few seconds. The server must shed with 503 + Retry-After, keep its
RSS within a bound, stay up, and still store every reply it acknowledged.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import aiohttp
import psutil
import pytest

from simulator.collect.auth import mint_token
from simulator.collect.directory import Directory
from simulator.collect.servers import ServerProcess, ServerSpec
from simulator.rules import ContentRules

pytestmark = [pytest.mark.integration, pytest.mark.slow]
SECRET = b"overload-secret-0123456789abcdef"
RSS_GROWTH_LIMIT = 150 * 2**20  # bytes over the idle server's RSS


async def client(
    port: int, n: int, stop: asyncio.Event, tally: dict[int, int], acked: list[str]
) -> None:
    headers = {"Authorization": f"Bearer {mint_token(SECRET, 'DHS')}"}
    async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as http:
        for i in range(10_000):
            if stop.is_set():
                return
            payload = {
                "sender": "a@dhs.example",
                "round": "r1",
                "to": "hr@opm.example",
                "body": "- did " + "x" * 500,
                "idempotency_key": f"{n}-{i}",
            }
            async with http.post("/replies", json=payload, headers=headers) as r:
                tally[r.status] = tally.get(r.status, 0) + 1
                if r.status == 503:
                    assert r.headers["Retry-After"] == "1"
                if r.status == 201:
                    acked.append(f"a@dhs.example/{n}-{i}")


async def test_sheds_load_with_bounded_memory(tmp_path: Path) -> None:
    spec = ServerSpec(
        "api",
        str(tmp_path / "db"),
        {"r1": ContentRules()},
        Directory([("a@dhs.example", "DHS")]),
        collections=[("opm-hr", "hr@opm.example", None)],
        secret=SECRET,
        max_pending=50,
    )
    with ServerProcess(spec) as server:
        proc = psutil.Process(server.process.pid)
        idle_rss = proc.memory_info().rss
        stop, tally, acked = asyncio.Event(), {}, []  # type: ignore[var-annotated]
        clients = asyncio.gather(*(client(server.port, n, stop, tally, acked) for n in range(300)))
        peak = idle_rss
        for _ in range(40):
            await asyncio.sleep(0.1)
            peak = max(peak, proc.memory_info().rss)
        stop.set()
        await clients
        assert proc.is_running()
    print(f"answers {tally}; RSS idle {idle_rss >> 20} MiB, peak {peak >> 20} MiB")
    assert tally.get(503, 0) > 0  # it shed
    assert tally.get(201, 0) > 0  # and kept storing
    assert set(tally) <= {201, 503}
    assert peak - idle_rss < RSS_GROWTH_LIMIT
    with sqlite3.connect(tmp_path / "db") as conn:
        stored = {row[0] for row in conn.execute("SELECT idem_key FROM replies")}
    assert set(acked) <= stored
