"""pulsecheck in Locust's web UI: corrected latency rows in its stats, the pulsecheck tab."""

from __future__ import annotations

import asyncio
import csv
import json
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from simulator.collect import running_api
from simulator.locust.collector import RunCollector
from simulator.locust.webui import CORRECTED_NAME, LATENCY_TYPE, UNCORRECTED_NAME, rows
from simulator.traffic.frames import encode_frame, read_frame, report_of, rows_of
from simulator.traffic.outcomes import OK, REJECTED, Outcome
from simulator.traffic.record import Recorder
from tests.locust.helpers import RULES, directory_of, free_port, run_all, storm_args
from tests.locust.tables import SECRET, write_tables

IDS = np.arange(100, 104, dtype=np.int64)
OFFSETS = np.zeros(4, dtype=np.int64)


class Pipe:
    """A pipe's read(n): at most n bytes, at most 5 at a time, b"" at the end."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def read(self, n: int) -> bytes:
        piece, self.data = self.data[: min(n, 5)], self.data[min(n, 5) :]
        return piece


def test_a_cut_off_frame_reads_as_the_end_of_the_stream() -> None:
    frame = encode_frame(report_of(rows_of(Recorder(IDS, OFFSETS), IDS[:0] * 0, 0)))
    assert read_frame(Pipe(frame).read) is not None
    assert read_frame(Pipe(frame[:-1]).read) is None
    assert read_frame(Pipe(b"").read) is None


def test_figures_count_late_rejected_by_reason_and_dropped() -> None:
    rec = Recorder(IDS, OFFSETS)
    answers = [(1_000, Outcome(201, OK, 5)), (50_000, Outcome(201, OK, 5))]  # on time, late
    answers.append((0, Outcome(422, REJECTED, 5, "rule: link")))
    for j, (sent_us, out) in enumerate(answers):
        rec.mark_sent(j, sent_us)
        rec.finish(j, sent_us + 2_000, out, 0)
    rec.drop(3, "behind schedule")
    report = report_of(rows_of(rec, rec.finish_order[: rec.finished], 10_000))
    collector = RunCollector(IDS, OFFSETS)
    collector.add(read_frame(Pipe(encode_frame(report)).read))
    figures = collector.figures()
    assert (figures["events"], figures["reported"], figures["acknowledged"]) == (4, 4, 2)
    assert figures["late"] == 1
    assert figures["outcomes"] == {"dropped": 1, "late": 1, "ok": 1, "rejected": 1}
    assert figures["failed_by_reason"] == [
        {"outcome": "dropped", "reason": "behind schedule", "count": 1},
        {"outcome": "rejected", "reason": "rule: link", "count": 1},
    ]
    assert figures["latency_corrected_ms"]["max"] == pytest.approx(52.0, rel=0.01)
    table = {r["figure"]: r["value"] for r in rows({**figures, "late_after_ms": 10.0})}
    assert table["late (sent > 10 ms behind schedule)"] == "1"
    assert table["rejected: rule: link"] == "1"
    assert table["dropped: behind schedule"] == "1"
    assert table["corrected latency max (ms)"] == "52.0"


def test_rows_before_the_start_say_so() -> None:
    assert rows({"state": "waiting for the test to start"}) == [
        {"figure": "state", "value": "waiting for the test to start"}
    ]


REPLIES = 300
EVENTS = REPLIES + 1  # and the broadcast, which the API refuses (403)
SPAN_S, SPEEDUP = 1800.0, 300.0  # 30 real minutes in about 6 s


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        body = response.read().decode()
    return json.loads(body) if body.lstrip().startswith(("{", "[")) else body


async def _poll(base: str, seen: dict[str, Any], done: asyncio.Event) -> None:
    """Read the UI's stats and the pulsecheck route while the storm runs."""
    while not done.is_set():
        try:
            page = await asyncio.to_thread(_get, f"{base}/")
            stats = await asyncio.to_thread(_get, f"{base}/stats/requests")
            figures = await asyncio.to_thread(_get, f"{base}/pulsecheck")
        except OSError:
            await asyncio.sleep(0.2)
            continue
        seen["page"] = page
        seen.setdefault("stats", []).append(stats)
        seen.setdefault("figures", []).append(figures)
        await asyncio.sleep(0.3)


@pytest.mark.integration
@pytest.mark.slow
async def test_web_ui_shows_corrected_latency_and_pulsecheck_counts(tmp_path: Path) -> None:
    files = write_tables(tmp_path, REPLIES, 0, SPAN_S)
    out, port = tmp_path / "run", free_port()
    directory = directory_of(files[0])
    async with running_api(tmp_path / "store.db", directory, RULES, secret=SECRET) as api:
        args = [a for a in storm_args("reply_storm.py", api.url, files, out, SPEEDUP)
                if a != "--headless"]  # fmt: skip
        args += ["--autostart", "--autoquit", "3", "--web-host", "127.0.0.1",
                 "--web-port", str(port), "--csv", str(tmp_path / "locust")]  # fmt: skip
        seen: dict[str, Any] = {}
        done = asyncio.Event()
        poller = asyncio.create_task(_poll(f"http://127.0.0.1:{port}", seen, done))
        [(code, text)] = await run_all([args], tmp_path)
        done.set()
        await poller
    assert code == 0, text[-3000:]
    assert '"extended_tabs"' in seen["page"] and '"pulsecheck"' in seen["page"]
    summary = json.loads((out / "replay.json").read_text())
    assert summary["acknowledged"] == REPLIES
    assert summary["outcomes"]["error"] == 1  # the broadcast

    # while the storm ran: the pulsecheck rows beside Locust's own, outside its total
    running = [s for s in seen["stats"] if any(e["method"] == LATENCY_TYPE for e in s["stats"])]
    assert running, "no stats answer carried the pulsecheck latency rows"
    for answer in running:
        entries = {(e["method"], e["name"]): e for e in answer["stats"]}
        post = entries[("POST", "POST /replies")]
        assert entries[("", "Aggregated")]["num_requests"] == post["num_requests"]
        tab = next(x for x in answer["extended_stats"] if x["key"] == "pulsecheck")
        assert {"figure": "events scheduled", "value": f"{EVENTS:,}"} in tab["data"]
    reported = [f["reported"] for f in seen["figures"] if "reported" in f]
    assert reported and reported == sorted(reported) and max(reported) > 0
    for figures in seen["figures"]:
        if "reported" in figures:
            assert figures["events"] == EVENTS
            assert (
                figures["acknowledged"] + sum(f["count"] for f in figures["failed_by_reason"])
                == figures["reported"]
            )

    # after the storm, the UI stays up (--autoquit 3) with the run's final counts
    final = [f for f in seen["figures"] if f.get("state") == "done"]
    assert final, "no read after the run was written"
    assert final[-1]["acknowledged"] == summary["acknowledged"]
    assert final[-1]["late"] == summary["outcomes"]["late"]
    assert final[-1]["reported"] == summary["events"] == EVENTS

    # at the end (Locust's CSV): one corrected and one uncorrected row per answer
    with (tmp_path / "locust_stats.csv").open() as f:
        table = {(r["Type"], r["Name"]): r for r in csv.DictReader(f)}
    assert int(table[(LATENCY_TYPE, CORRECTED_NAME)]["Request Count"]) == EVENTS
    assert int(table[(LATENCY_TYPE, UNCORRECTED_NAME)]["Request Count"]) == EVENTS
    assert int(table[("", "Aggregated")]["Request Count"]) == EVENTS  # only the POSTs
    assert int(table[("POST", "POST /replies")]["Failure Count"]) == 1
    corrected_max = float(table[(LATENCY_TYPE, CORRECTED_NAME)]["Max Response Time"])
    assert corrected_max == pytest.approx(summary["latency_corrected_ms"]["max"], rel=0.05, abs=2)
