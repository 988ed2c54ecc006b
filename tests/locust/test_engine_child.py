"""The engine child a Locust worker starts: frames while it runs, a clean stop, refusals."""

from __future__ import annotations

import asyncio
import io
import signal
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from simulator.collect import running_api
from simulator.locust.plan import EngineJob, Share, assign_shares, plan_storm, share_positions
from simulator.traffic.frames import read_frame, table_from_ipc
from tests.locust.helpers import PROCESS_TIMEOUT_S, RULES, directory_of, stored_keys
from tests.locust.tables import SECRET, write_tables

COMMAND = [sys.executable, "-m", "simulator.app.storm_share"]


def job_for(files: tuple[Path, Path, Path], url: str, share: Share, speedup: float) -> EngineJob:
    workforce, schedule, secret = files
    return EngineJob(
        str(schedule), str(workforce), f"{url}/replies", share, speedup, None, 600.0, 10.0,
        10.0, token_secret=str(secret), collections={"opm-hr": "hr@opm.example"},
        grace_s=5.0, flush_s=0.2,
    )  # fmt: skip


async def start(job: EngineJob, cwd: Path) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        *COMMAND, cwd=cwd, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
    )
    assert proc.stdin is not None
    proc.stdin.write(job.to_json().encode())
    proc.stdin.close()
    return proc


async def frames(proc: asyncio.subprocess.Process, first: asyncio.Event) -> list[dict]:
    """Every frame of the child's stdout; `first` is set when one with rows arrives."""
    assert proc.stdout is not None
    out: list[dict] = []
    data = io.BytesIO()
    while chunk := await proc.stdout.read(65536):
        data.write(chunk)
        view = io.BytesIO(data.getvalue())
        parsed = []
        while (report := read_frame(view.read)) is not None:
            parsed.append(report)
        out = parsed
        if any(r["count"] and not r.get("final") for r in out):
            first.set()
    return out


@pytest.mark.integration
async def test_the_engine_streams_rows_and_stops_cleanly_on_sigint(tmp_path: Path) -> None:
    files = write_tables(tmp_path, 400, 0, 1800.0)
    plan = plan_storm(pq.read_table(files[1]), 60.0, None)  # 30 minutes in about 30 s
    share = assign_shares(["w0", "w1"], time.time() + 1.0, plan.fingerprint, users=4)["w1"]
    mine = plan.event_ids[share_positions(len(plan.offsets_us), share)]
    async with running_api(tmp_path / "store.db", directory_of(files[0]), RULES,
                           secret=SECRET) as api:  # fmt: skip
        proc = await start(job_for(files, api.url, share, 60.0), tmp_path)
        first = asyncio.Event()
        reader = asyncio.create_task(frames(proc, first))
        await asyncio.wait_for(first.wait(), PROCESS_TIMEOUT_S)  # rows arrive while it runs
        proc.send_signal(signal.SIGINT)
        reports = await asyncio.wait_for(reader, PROCESS_TIMEOUT_S)
        code = await proc.wait()
    assert code == 0
    assert [bool(r.get("final")) for r in reports] == [False] * (len(reports) - 1) + [True]
    assert reports[-1]["interrupted"] is True
    rows = pa.concat_tables([table_from_ipc(r["rows"]) for r in reports]).to_pylist()
    assert sorted(r["event_id"] for r in rows) == sorted(mine.tolist())  # each event once
    sent = {r["event_id"] for r in rows if r["status"] == 201}
    stopped = [r for r in rows if r["outcome"] == "dropped"]
    assert sent and stopped and all(r["error"] == "stopped" for r in stopped)
    assert {k.rsplit("/", 1)[-1] for k in stored_keys(tmp_path / "store.db")} == {
        f"0-{i}" for i in sent
    }


@pytest.mark.integration
async def test_a_schedule_other_than_the_masters_is_refused(tmp_path: Path) -> None:
    files = write_tables(tmp_path, 10, 0, 60.0)
    share = Share(0, 1, time.time(), "0000000000000000", 1)
    proc = await start(job_for(files, "http://127.0.0.1:9", share, 60.0), tmp_path)
    reports = await asyncio.wait_for(frames(proc, asyncio.Event()), PROCESS_TIMEOUT_S)
    assert await proc.wait() == 2
    [report] = reports
    assert "differs from the master's" in report["refused"]
