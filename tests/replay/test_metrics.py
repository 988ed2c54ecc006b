"""Live Prometheus metrics: figures read incrementally, the exposition, the CLI flags."""

import json
import socket
import threading
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
from aiosmtpd.controller import Controller
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from simulator.cli import main
from simulator.replay.metrics import BUCKETS_S, ReplayCollector, ReplayFigures
from simulator.traffic.outcomes import OK, REJECTED, Outcome
from simulator.traffic.record import CORRECTED_FILE, Recorder, read_histogram
from tests.replay.tables import schedule, workforce


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of an exposition, keyed by name and sorted labels."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def exposition(collector: ReplayCollector) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return samples(generate_latest(registry).decode())


def test_figures_count_each_event_once_as_they_finish() -> None:
    rec = Recorder(np.arange(5, dtype=np.int64), np.zeros(5, dtype=np.int64))
    figures = ReplayFigures(rec, late_after_ms=10.0)
    rec.mark_sent(0, 0)
    rec.finish(0, 2_000, Outcome(250, OK, 1), 0)  # 2 ms, on time
    rec.mark_sent(1, 50_000)  # 50 ms behind schedule: late
    rec.finish(1, 51_000, Outcome(250, OK, 1), 0)
    rec.mark_sent(2, 0)  # still in flight
    first = figures.refresh()
    assert (first.sent, first.acknowledged, first.late, first.in_flight) == (3, 2, 1, 1)
    assert first.corrected.count == 2 and first.failed == ()
    rec.finish(2, 3_000_000, Outcome(550, REJECTED, 1, "smtp 550 at end of data"), 0)
    rec.drop(3, "behind schedule")
    rec.drop(4, "behind schedule")
    later = figures.refresh(finished=True)
    assert figures.seen == 5
    assert (later.sent, later.acknowledged, later.late, later.in_flight) == (3, 2, 1, 0)
    assert sorted(later.failed) == [
        ("dropped", "behind schedule", 2),
        ("rejected", "smtp 550 at end of data", 1),
    ]
    assert later.dropped == {"behind schedule": 2}
    # corrected latencies 2 ms, 51 ms and 3 s; uncorrected 2 ms, 1 ms and 3 s
    assert later.corrected.count == later.uncorrected.count == 3
    assert later.corrected.sum_s == pytest.approx(3.053)
    assert later.uncorrected.sum_s == pytest.approx(3.003)
    le = dict(later.corrected.cumulative())
    assert (le["0.001"], le["0.0025"], le["0.05"], le["0.1"], le["2.5"], le["5"]) == (
        0,
        1,
        1,
        2,
        2,
        3,
    )
    assert le["+Inf"] == 3 and len(le) == len(BUCKETS_S) + 1


def test_exposition_names_and_values() -> None:
    rec = Recorder(np.arange(3, dtype=np.int64), np.zeros(3, dtype=np.int64))
    collector = ReplayCollector()
    assert exposition(collector) == {}  # nothing before the replay starts
    figures = ReplayFigures(rec, late_after_ms=10.0)
    rec.mark_sent(0, 0)
    rec.finish(0, 1_000, Outcome(250, OK, 1), 0)  # exactly 1 ms: in the le="0.001" bucket
    rec.mark_sent(1, 0)
    rec.finish(1, 400_000, Outcome(550, REJECTED, 1, "smtp 550 at end of data"), 0)
    rec.drop(2, "behind schedule")
    collector.snapshot = figures.refresh(finished=True)
    got = exposition(collector)
    assert got[("pulsecheck_events_scheduled", ())] == 3
    assert got[("pulsecheck_events_sent_total", ())] == 2
    assert got[("pulsecheck_events_acknowledged_total", ())] == 1
    assert got[("pulsecheck_events_late_total", ())] == 0
    assert got[("pulsecheck_events_in_flight", ())] == 0
    rejected = (("outcome", "rejected"), ("reason", "smtp 550 at end of data"))
    assert got[("pulsecheck_events_failed_total", rejected)] == 1
    dropped = (("outcome", "dropped"), ("reason", "behind schedule"))
    assert got[("pulsecheck_events_failed_total", dropped)] == 1
    assert got[("pulsecheck_events_dropped_total", (("reason", "behind schedule"),))] == 1
    hist = "pulsecheck_latency_corrected_seconds"
    assert got[(f"{hist}_bucket", (("le", "0.001"),))] == 1
    assert got[(f"{hist}_bucket", (("le", "0.5"),))] == 2
    assert got[(f"{hist}_count", ())] == 2
    assert got[(f"{hist}_sum", ())] == pytest.approx(0.401)
    assert got[("pulsecheck_replay_finished", ())] == 1


# -- the CLI ------------------------------------------------------------------------------
class Handler:
    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.count += 1
        return "550 5.7.1 refused by rule" if self.count % 10 == 0 else "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp_server() -> Any:
    handler = Handler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield f"smtp://127.0.0.1:{controller.port}", handler
    controller.stop()


@pytest.fixture
def inputs(tmp_path: Path) -> tuple[Path, Path]:
    pq.write_table(schedule(["reply"] * 200, gap_us=5000), tmp_path / "s.parquet")
    pq.write_table(workforce(300), tmp_path / "w.parquet")
    return tmp_path / "s.parquet", tmp_path / "w.parquet"


def _args(inputs: tuple[Path, Path], target: str, out: Path, *extra: str) -> list[str]:
    s, w = inputs
    return ["replay", str(s), "--workforce", str(w), "--target", target, "--out", str(out),
            "--no-live", *extra]  # fmt: skip


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        (["--metrics-port", "0"], "--metrics-port"),
        (["--metrics-port", "9464", "--workers", "2"], "--metrics-port"),
        (["--metrics-port", "9464", "--metrics-host", "192.0.2.1"], "--metrics-host"),
        (["--metrics-port", "9464", "--metrics-linger", "-1"], "--metrics-linger"),
    ],
)
def test_bad_metrics_flags_exit_2_before_any_load(
    inputs: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    named: str,
) -> None:
    assert main(_args(inputs, "smtp://127.0.0.1:9", tmp_path / "run", *extra)) == 2
    err = capsys.readouterr().err
    assert named in err and "unrecognized" not in err, err
    assert not (tmp_path / "run" / "results.parquet").exists()


@pytest.mark.integration
def test_port_in_use_is_bad_input(
    inputs: tuple[Path, Path], tmp_path: Path, smtp_server: Any, capsys: Any
) -> None:
    url, handler = smtp_server
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(_args(inputs, url, tmp_path / "run", "--metrics-port", str(port))) == 2
    assert "--metrics-port" in (err := capsys.readouterr().err) and "cannot serve metrics" in err
    assert handler.count == 0


@pytest.mark.integration
def test_scrapes_during_and_after_the_replay_match_its_summary(
    inputs: tuple[Path, Path], tmp_path: Path, smtp_server: Any
) -> None:
    url, _ = smtp_server
    port, out = free_port(), tmp_path / "run"
    scraped: list[dict[Any, float]] = []
    stop = threading.Event()

    def scrape() -> None:
        while not stop.is_set():
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
                    scraped.append(samples(r.read().decode()))
            except OSError:
                pass
            stop.wait(0.2)

    scraper = threading.Thread(target=scrape)
    scraper.start()
    try:
        args = ("--metrics-port", str(port), "--metrics-linger", "1")
        assert main(_args(inputs, url, out, *args)) == 0
    finally:
        stop.set()
        scraper.join()
    summary = json.loads((out / "replay.json").read_text())
    sent = [s[("pulsecheck_events_sent_total", ())] for s in scraped if s]
    assert len(sent) >= 3 and sent == sorted(sent)  # counters only grow
    assert sent[0] < 200  # some scrapes saw the replay under way
    last = scraped[-1]
    assert last[("pulsecheck_replay_finished", ())] == 1
    assert last[("pulsecheck_events_sent_total", ())] == 200
    assert last[("pulsecheck_events_acknowledged_total", ())] == summary["acknowledged"] == 180
    assert last[("pulsecheck_events_late_total", ())] == summary["outcomes"]["late"]
    reason = (("outcome", "rejected"), ("reason", "smtp 550 at end of data"))
    assert last[("pulsecheck_events_failed_total", reason)] == 20
    assert summary["errors_by_reason"] == {"smtp 550 at end of data": 20}
    count = read_histogram(out / CORRECTED_FILE).get_total_count()
    assert last[("pulsecheck_latency_corrected_seconds_count", ())] == count == 200


@pytest.mark.parametrize(
    ("scenario", "extra", "why"),
    [
        ("scenarios/ci-smoke.toml", ["--workers", "2"], "needs --workers 1 (not 2)"),
        ("scenarios/replyall-1m.toml", [], "a reply-all run is sized by"),
    ],
)
def test_run_refuses_metrics_it_cannot_serve(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], scenario: str, extra: list[str], why: str
) -> None:
    root = Path(__file__).resolve().parents[2]
    out = tmp_path / "run"
    args = ["run", str(root / scenario), "--out", str(out), "--metrics-port", "9464", *extra]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "--metrics-port" in err and why in err, err
    assert not out.exists()
