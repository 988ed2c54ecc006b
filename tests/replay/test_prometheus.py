"""A real Prometheus scrapes a replay's metrics; what it stored equals the replay's summary."""

import json
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from aiosmtpd.controller import Controller

from simulator.cli import main
from simulator.replay.metrics import BUCKETS_S
from simulator.traffic.record import CORRECTED_FILE, UNCORRECTED_FILE, read_histogram
from tests.replay.tables import schedule, workforce

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
EVENTS = 4000  # 2.5 ms apart: ten seconds, about ten scrapes

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.skipif(
        not Path(PROMETHEUS).exists(),
        reason="Prometheus is not installed (Debian package prometheus; tests/setup.sh)",
    ),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Handler:
    """Accepts nine messages in ten; refuses the tenth at the end of DATA."""

    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.count += 1
        return "550 5.7.1 refused by rule" if self.count % 10 == 0 else "250 OK"


@pytest.fixture
def smtp_server() -> Iterator[str]:
    controller = Controller(Handler(), hostname="127.0.0.1", port=free_port())
    controller.start()
    yield f"smtp://127.0.0.1:{controller.port}"
    controller.stop()


class Prometheus:
    def __init__(self, url: str) -> None:
        self.url = url

    def query(self, promql: str) -> list[dict[str, Any]]:
        query = urllib.parse.urlencode({"query": promql})
        with urllib.request.urlopen(f"{self.url}/api/v1/query?{query}", timeout=10) as r:
            answer = json.loads(r.read())
        assert answer["status"] == "success", answer
        return list(answer["data"]["result"])

    def scraping(self) -> bool:
        """True once Prometheus has tried the target (down: the replay has not begun)."""
        with urllib.request.urlopen(f"{self.url}/api/v1/targets", timeout=10) as r:
            targets = json.loads(r.read())["data"]["activeTargets"]
        return any(t["health"] != "unknown" for t in targets)

    def value(self, promql: str) -> float:
        result = self.query(promql)
        assert len(result) == 1, (promql, result)
        return float(result[0]["value"][1])


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[tuple[Prometheus, int]]:
    """Prometheus on a loopback port, scraping the metrics port every second."""
    metrics_port, web_port = free_port(), free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
        "scrape_configs:\n  - job_name: pulsecheck\n    static_configs:\n"
        f"      - targets: ['127.0.0.1:{metrics_port}']\n"
    )
    log = (tmp_path / "prometheus.log").open("w")
    proc = subprocess.Popen(
        [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{web_port}", "--log.level=warn"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{web_port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (tmp_path / "prometheus.log").read_text()
            try:
                with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "Prometheus never became ready"
            time.sleep(0.2)
        prom = Prometheus(url)
        while not prom.scraping():  # its scrape loop starts a few seconds after it is ready
            assert time.monotonic() < deadline, "Prometheus never tried the metrics port"
            time.sleep(0.2)
        yield prom, metrics_port
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def test_prometheus_stores_the_counts_the_replay_reports(
    tmp_path: Path, smtp_server: str, prometheus: tuple[Prometheus, int]
) -> None:
    prom, port = prometheus
    pq.write_table(schedule(["reply"] * EVENTS, gap_us=2500), tmp_path / "s.parquet")
    pq.write_table(workforce(EVENTS + 10), tmp_path / "w.parquet")
    out = tmp_path / "run"
    args = ["replay", str(tmp_path / "s.parquet"), "--workforce", str(tmp_path / "w.parquet"),
            "--target", smtp_server, "--out", str(out), "--no-live",
            "--metrics-port", str(port), "--metrics-linger", "3"]  # fmt: skip
    assert main(args) == 0
    summary = json.loads((out / "replay.json").read_text())

    # several scrapes while the replay ran, each a count no lower than the one before
    sent = [float(v) for _, v in prom.query("pulsecheck_events_sent_total[5m]")[0]["values"]]
    assert sent == sorted(sent)
    assert len([v for v in sent if 0 < v < EVENTS]) >= 3, sent
    assert prom.value("max_over_time(pulsecheck_replay_finished[5m])") == 1

    def final(name: str) -> float:  # counters only grow: the largest sample is the last
        return prom.value(f"max_over_time({name}[5m])")

    assert final("pulsecheck_events_sent_total") == EVENTS
    assert final("pulsecheck_events_acknowledged_total") == summary["acknowledged"] == 3600
    assert final("pulsecheck_events_late_total") == summary["outcomes"]["late"]
    failed = prom.query("max_over_time(pulsecheck_events_failed_total[5m])")
    by_reason = {r["metric"]["reason"]: float(r["value"][1]) for r in failed}
    assert by_reason == summary["errors_by_reason"] == {"smtp 550 at end of data": 400}
    assert final("pulsecheck_events_in_flight") <= 64  # the concurrency cap
    assert prom.value("min_over_time(pulsecheck_events_in_flight[5m])") == 0
    corrected = read_histogram(out / CORRECTED_FILE).get_total_count()
    uncorrected = read_histogram(out / UNCORRECTED_FILE).get_total_count()
    assert final("pulsecheck_latency_corrected_seconds_count") == corrected == EVENTS
    assert final("pulsecheck_latency_uncorrected_seconds_count") == uncorrected == EVENTS
    inf = final('pulsecheck_latency_corrected_seconds_bucket{le="+Inf"}')
    assert inf == EVENTS
    p99 = prom.value(
        "histogram_quantile(0.99, max_over_time(pulsecheck_latency_corrected_seconds_bucket[5m]))"
    )
    # the replay's own p99 lies in one bucket; Prometheus' estimate must lie in that one too
    own = summary["latency_corrected_ms"]["p99"] / 1000
    edges = [0.0, *BUCKETS_S]
    k = next(i for i, edge in enumerate(BUCKETS_S) if own <= edge)
    assert edges[k] * 0.99 <= p99 <= edges[k + 1] * 1.01, (p99, own)
