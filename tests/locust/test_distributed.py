"""A real distributed storm: Locust master + workers on loopback against the reference API."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from simulator.cli import main as report_main
from simulator.collect import running_api
from simulator.traffic.payload import Payload
from tests.locust.helpers import (
    PROCESS_TIMEOUT_S,
    RULES,
    directory_of,
    free_port,
    run_all,
    stored_keys,
    storm_args,
)
from tests.locust.tables import SECRET, write_tables

REPLIES, AUTO_REPLIES = 300, 20
EVENTS = 1 + REPLIES + AUTO_REPLIES  # sent as `pulsecheck replay` sends them: every kind
STORED = REPLIES + AUTO_REPLIES  # the API refuses the broadcast (403) and stores the rest
SPAN_S, SPEEDUP = 1800.0, 600.0  # 30 real minutes replayed in about 3 s


def expected_keys(workforce: Path, schedule: Path) -> set[str]:
    """The idempotency key of every reply and auto-reply in the schedule."""
    events = pq.read_table(schedule)
    payload = Payload(events, pq.read_table(workforce), {"opm-hr": "hr@opm.example"})
    kinds = events.column("kind").to_pylist()
    ids = payload.event_id
    return {
        f"{payload.seed}-{int(ids[i])}" for i in range(events.num_rows) if kinds[i] != "broadcast"
    }


async def storm_against_api(
    tmp_path: Path, mode: str, speedup: float = SPEEDUP, run_time: str = "60s"
) -> tuple[list[tuple[int, str]], Path]:
    files = write_tables(tmp_path, REPLIES, AUTO_REPLIES, SPAN_S)
    out = tmp_path / "run"
    store = tmp_path / "store.db"
    async with running_api(store, directory_of(files[0]), RULES, secret=SECRET) as api:
        base = storm_args("reply_storm.py", api.url, files, out, speedup, run_time)
        if mode == "processes":
            commands = [[*base, "--processes", "2"]]
        else:
            port = str(free_port())
            master = [*base, "--master", "--expect-workers", "2", "--master-bind-host",
                      "127.0.0.1", "--master-bind-port", port]  # fmt: skip
            worker = [*base[:5], "--worker", "--master-host", "127.0.0.1", "--master-port", port,
                      "--exit-code-on-error", "0"]  # fmt: skip
            commands = [master, worker, worker]
        outputs = await run_all(commands, tmp_path)
    return outputs, out


def check_exactly_once(tmp_path: Path, outputs: list[tuple[int, str]], out: Path) -> dict:
    for code, text in outputs:
        assert code == 0, text[-3000:]
    keys = stored_keys(tmp_path / "store.db")
    expected = expected_keys(tmp_path / "workforce.parquet", tmp_path / "schedule.parquet")
    assert len(keys) == STORED == len(expected)
    # none missing, none extra (the store keys replies by sender and key, UNIQUE)
    assert {key.rsplit("/", 1)[-1] for key in keys} == expected
    results = pq.read_table(out / "results.parquet")
    ids = results.column("event_id").to_pylist()
    assert len(ids) == len(set(ids)) == EVENTS  # one row per event
    statuses = results.column("status").to_pylist()
    assert statuses.count(201) == STORED  # 201 = stored now; a resend would get 200
    assert statuses.count(403) == 1  # the broadcast: the API takes no message from HR
    summary = json.loads((out / "replay.json").read_text())
    assert summary["duplicates_reported"] == 0
    assert summary["workers"] == 2 and summary["workers_finished"] == 2
    assert summary["engine"] == "locust+native"
    assert summary["histogram_count_corrected"] == EVENTS  # every event was answered
    assert summary["locust"]["requests"] == EVENTS  # and logged in Locust's stats
    return summary


@pytest.mark.integration
async def test_master_and_two_workers_store_every_reply_once(tmp_path: Path) -> None:
    outputs, out = await storm_against_api(tmp_path, "master")
    summary = check_exactly_once(tmp_path, outputs, out)
    print(json.dumps(summary, indent=1))
    assert report_main(["report", str(out)]) == 0  # a pulsecheck report from a Locust run
    assert (out / "report.html").exists()


@pytest.mark.integration
async def test_processes_two_store_every_reply_once(tmp_path: Path) -> None:
    outputs, out = await storm_against_api(tmp_path, "processes")
    summary = check_exactly_once(tmp_path, outputs, out)
    print(json.dumps(summary, indent=1))


@pytest.mark.integration
async def test_a_stop_mid_run_reports_what_was_sent_and_drops_the_rest(tmp_path: Path) -> None:
    # 30 real minutes at 60x: about 30 s of sending, stopped by --run-time after about 3 s
    outputs, out = await storm_against_api(tmp_path, "master", speedup=60.0, run_time="5s")
    for code, text in outputs:
        assert code == 0, text[-3000:]
    results = pq.read_table(out / "results.parquet").to_pylist()
    assert sorted(r["event_id"] for r in results) == sorted(
        pq.read_table(tmp_path / "schedule.parquet").column("event_id").to_pylist()
    )  # one row per event, sent or not
    by_outcome: dict[str, int] = {}
    for row in results:
        by_outcome[row["outcome"]] = by_outcome.get(row["outcome"], 0) + 1
    stopped = [r for r in results if r["outcome"] == "dropped"]
    assert stopped and all(r["error"] == "stopped" for r in stopped), by_outcome  # by the engine
    stored = {key.rsplit("/", 1)[-1] for key in stored_keys(tmp_path / "store.db")}
    sent_ok = {f"0-{r['event_id']}" for r in results if r["status"] == 201}
    assert sent_ok and stored == sent_ok  # what the run says was stored is what the store holds
    summary = json.loads((out / "replay.json").read_text())
    assert summary["interrupted"] is True
    assert summary["workers_finished"] == 2 and summary["duplicates_reported"] == 0
    assert report_main(["report", str(out)]) == 0


@pytest.mark.integration
async def test_ctrl_c_on_a_local_run_stops_the_engine_and_writes_what_it_sent(
    tmp_path: Path,
) -> None:
    files = write_tables(tmp_path, REPLIES, AUTO_REPLIES, SPAN_S)
    out = tmp_path / "run"
    store = tmp_path / "store.db"
    async with running_api(store, directory_of(files[0]), RULES, secret=SECRET) as api:
        command = storm_args("reply_storm.py", api.url, files, out, 60.0)  # about 30 s
        proc = await asyncio.create_subprocess_exec(
            *command, cwd=tmp_path, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        assert proc.stdout is not None
        seen = b""
        while b"native engine pid" not in seen:  # the engine has started
            line = await asyncio.wait_for(proc.stdout.readline(), PROCESS_TIMEOUT_S)
            assert line, seen.decode(errors="replace")
            seen += line
        await asyncio.sleep(4.0)  # let it send for a while (2 s start delay)
        proc.send_signal(signal.SIGINT)  # Ctrl-C, to Locust's process only
        text, _ = await asyncio.wait_for(proc.communicate(), PROCESS_TIMEOUT_S)
    output = (seen + text).decode(errors="replace")[-3000:]
    assert proc.returncode == 0, output
    results = pq.read_table(out / "results.parquet").to_pylist()
    assert len(results) == len({r["event_id"] for r in results}) == EVENTS
    sent_ok = {f"0-{r['event_id']}" for r in results if r["status"] == 201}
    stored = {key.rsplit("/", 1)[-1] for key in stored_keys(store)}
    assert sent_ok and stored == sent_ok, output
    assert len(sent_ok) < STORED, output  # stopped before the end
    dropped = {r["error"] for r in results if r["outcome"] == "dropped"}
    assert dropped == {"stopped"}, output
    summary = json.loads((out / "replay.json").read_text())
    assert summary["interrupted"] is True and summary["engine"] == "locust+native"
