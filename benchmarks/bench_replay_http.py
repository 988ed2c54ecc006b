"""HTTP replay throughput per core beside Locust FastHttpUser and wrk; send-lag accuracy.

Starts nginx (Debian's) on a loopback port answering 201 from memory to every POST,
then, side by side and repeated, measures:
  - pulsecheck replay (lean HTTP/1.1 client, and the aiohttp client) sending the same
    schedule as fast as the concurrency cap allows (all events due at once), rendering
    every event's body; and the lean client sending Locust's one fixed body (same work);
  - Locust FastHttpUser (headless, one process) POSTing the same JSON body;
  - wrk (C, one thread) POSTing the same body: the physical limit.
Throughput per core is requests per CPU-second of the load generator's own process.
Then replays 5,000 events/s for a few seconds, with the live display refreshing off
screen, and reports the p99 send lag.

Two before/after figures show why the hot path is written as it is:
  - preparing a reply's JSON body: a dict through `json.dumps` around `render_reply` (how
    it was done), `Payload.http_json` one event at a time (pieces escaped in advance), and
    `Payload.http_jsons` over the engine's batches (numpy draws the choices);
  - one live-display refresh on a million-event run: scanning whole result columns (how
    it was done) against reading only what finished since the last refresh.

With --tls, the same nginx also listens with TLS (a certificate from a trustme CA, see
tests/replay/nginx_instance.py) and the run compares, side by side and repeated: the lean
client over TLS, aiohttp over TLS and wrk over TLS (wrk does not verify the certificate;
the replay clients do), with the lean client over plain HTTP as the reference.

With --request FILE (a request template, `pulsecheck replay --request`), two more rows:
the lean client rendering every event through the template, and Locust FastHttpUser
POSTing the template's rendering of one event (the same body shape). The body costs also
show pulsecheck's own JSON shape written as a template beside `Payload.http_jsons`, which
is why the default body keeps its own path.

Run: python benchmarks/bench_replay_http.py [--repeats 3] [--seconds 6] [--tls] [--request FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from rich.console import Console

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from simulator.replay import ReplayOptions, replay
from simulator.replay.engine import BATCH
from simulator.replay.http_fast import FastHttpTarget
from simulator.replay.live import LiveDisplay, LiveFigures
from simulator.replay.targets import TargetOptions, make_target
from simulator.replay.tls import TlsOptions
from simulator.replay.workers import new_event_loop
from simulator.traffic.outcomes import OK
from simulator.traffic.payload import Payload
from simulator.traffic.record import Recorder
from simulator.traffic.request import compile_template
from simulator.validation import load_toml
from tests.replay.nginx_instance import Nginx, TlsFiles
from tests.replay.tables import schedule, workforce

CONNECTIONS = 50

LOCUSTFILE = """
from locust import task
from locust.contrib.fasthttp import FastHttpUser
BODY = open({body!r}, "rb").read()
class Poster(FastHttpUser):
    @task
    def post(self):
        self.client.post({path!r}, data=BODY, headers={{"Content-Type": {content_type!r}}})
"""

WRK_LUA = """
wrk.method = "POST"
wrk.body = io.open({body!r}, "rb"):read("*a")
wrk.headers["Content-Type"] = "application/json"
"""


def child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class FixedBodyTarget(FastHttpTarget):
    """The lean client sending one fixed body, as the Locust user does: isolates the
    engine and transport from the cost of rendering each event's content."""

    def __init__(self, port: int, body: bytes) -> None:
        super().__init__("127.0.0.1", port, "/replies", 10.0)
        self.fixed = (self.auth.line("DHS"), body)

    def prepare(self, payload: Payload, start: int, stop: int) -> list[tuple[bytes, bytes]]:
        return [self.fixed] * (stop - start)


# pulsecheck's own body written as a template: the same document, rendered generically
DEFAULT_AS_TEMPLATE = {
    "request": {
        "body": {
            "sender": "{sender}",
            "round": "{round}",
            "to": "{to}",
            "cc": "{cc}",
            "subject": "{subject}",
            "body": "{body}",
            "idempotency_key": "{idempotency_key}",
            "attachments": "{attachments}",
        }
    }
}


def template_options(request: Path | None) -> dict[str, object]:
    if request is None:
        return {}
    return {"template": load_toml(request), "template_source": str(request)}


def run_replay(
    port: int,
    seconds: float,
    client: str,
    body: bytes,
    tls: TlsOptions | None = None,
    request: Path | None = None,
) -> tuple[float, float]:
    """(requests/s, requests per CPU-second) of the replay engine in this process; over
    https to `port` when `tls` is given, through the template `request` when given."""
    rate_guess = 4_000 if client == "aiohttp" else 15_000
    n = int(rate_guess * seconds)
    events = schedule(["reply"] * n, gap_us=0)
    wf = workforce(n + 2)
    url = f"{'http' if tls is None else 'https'}://127.0.0.1:{port}/replies"
    connection = TargetOptions(
        timeout_s=10.0,
        fast_http=client != "aiohttp",
        tls=tls or TlsOptions(),
        **template_options(request),  # type: ignore[arg-type]
    )
    target = FixedBodyTarget(port, body) if client == "fixed" else make_target(url, connection)
    options = ReplayOptions(concurrency=CONNECTIONS, max_duration_s=seconds * 3, drop_after_s=1e9)
    cpu0 = time.process_time()
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        result = runner.run(replay(events, wf, target, options))
    cpu = time.process_time() - cpu0
    ok = result.summary["acknowledged"]
    assert ok == n, result.summary["outcomes"]
    return result.summary["throughput_per_s"], ok / cpu


def run_locust(
    port: int,
    seconds: float,
    workdir: Path,
    body: str = "body.json",
    path: str = "/replies",
    content_type: str = "application/json",
) -> tuple[float, float]:
    lf = workdir / "locustfile.py"
    lf.write_text(LOCUSTFILE.format(body=str(workdir / body), path=path, content_type=content_type))
    prefix = workdir / "locust"
    cpu0 = child_cpu()
    subprocess.run(
        ["locust", "-f", str(lf), "--headless", "-u", str(CONNECTIONS), "-r", "1000",
         "-t", f"{int(seconds)}s", "--host", f"http://127.0.0.1:{port}", "--csv", str(prefix),
         "--only-summary", "--loglevel", "ERROR"],
        check=True, capture_output=True,
    )  # fmt: skip
    cpu = child_cpu() - cpu0
    with open(f"{prefix}_stats.csv") as f:
        row = next(r for r in csv.DictReader(f) if r["Name"] == "Aggregated")
    count = int(row["Request Count"])
    return float(row["Requests/s"]), count / cpu


def run_wrk(port: int, seconds: float, workdir: Path, scheme: str = "http") -> tuple[float, float]:
    script = workdir / "post.lua"
    script.write_text(WRK_LUA.format(body=str(workdir / "body.json")))
    cpu0 = child_cpu()
    out = subprocess.run(
        ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{int(seconds)}s", "-s", str(script),
         f"{scheme}://127.0.0.1:{port}/replies"],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    cpu = child_cpu() - cpu0
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    return rps, rps * seconds / cpu


def run_accuracy(port: int, rate: int, seconds: float) -> dict[str, float]:
    n = int(rate * seconds)
    events = schedule(["reply"] * n, gap_us=1_000_000 // rate)
    target = make_target(
        f"http://127.0.0.1:{port}/replies", TargetOptions(timeout_s=10.0, fast_http=True)
    )
    display = LiveDisplay(Console(file=open(os.devnull, "w")))  # noqa: SIM115
    options = ReplayOptions(
        concurrency=CONNECTIONS, max_duration_s=seconds * 2, on_start=display.attach
    )
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        try:
            result = runner.run(replay(events, workforce(n + 2), target, options))
        finally:
            display.close()
    table = result.results
    lag = table.column("t_sent").to_numpy() - table.column("t_intended").to_numpy()
    return {
        "p50_ms": float(np.percentile(lag, 50)) / 1000,
        "p99_ms": float(np.percentile(lag, 99)) / 1000,
        "max_ms": float(lag.max()) / 1000,
        "achieved_per_s": result.summary["throughput_per_s"],
    }


def per_event_us(run: object, count: int, repeats: int = 3) -> float:
    """Median microseconds per event of `run()` over `count` events."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        run()  # type: ignore[operator]
        times.append(time.perf_counter() - t0)
    return statistics.median(times) / count * 1e6


def prepare_costs(count: int = 25_600, request: Path | None = None) -> dict[str, float]:
    """Microseconds per reply event to make its JSON body, three ways (see the docstring),
    and through templates: pulsecheck's own shape, and --request's."""
    p = Payload(schedule(["reply"] * count, gap_us=0), workforce(count + 2))
    own = compile_template(DEFAULT_AS_TEMPLATE, "(built in)").request
    assert own is not None
    templates = {"template, pulsecheck's shape": own}
    if request is not None:
        given = compile_template(load_toml(request), str(request)).request
        if given is not None:
            templates[f"template {request.name}"] = given

    def rendering(template: object) -> object:
        def run() -> None:
            for start in range(0, count, BATCH):
                template.render(p, start, min(count, start + BATCH), "/")  # type: ignore[attr-defined]

        return run

    def dumps_way() -> None:
        for i in range(count):
            doc = {
                "sender": p.sender_address(i),
                "round": str(p.round[i]),
                "to": p.to_addresses(i)[0],
                "cc": p.cc_addresses(i),
                "subject": p.subject(i),
                "body": p.body(i),
                "idempotency_key": f"{p.seed}-{int(p.event_id[i])}",
                "attachments": int(p.violation[i] == "attachment"),
            }
            json.dumps(doc, separators=(",", ":")).encode()

    def one_by_one() -> None:
        for i in range(count):
            p.http_json(i)

    def batches() -> None:
        for start in range(0, count, BATCH):
            p.http_jsons(start, min(count, start + BATCH))

    return {
        "render_reply + json.dumps": per_event_us(dumps_way, count),
        "Payload.http_json": per_event_us(one_by_one, count),
        f"Payload.http_jsons ({BATCH})": per_event_us(batches, count),
        **{f"{name} ({BATCH})": per_event_us(rendering(t), count) for name, t in templates.items()},
    }


def full_scan(rec: Recorder, elapsed_us: int, window_us: int = 1_000_000) -> dict[str, float]:
    """The live display's refresh before it read incrementally: whole-column scans."""
    recent = (rec.done_at >= max(0, elapsed_us - window_us)) & (rec.done_at >= 0)
    latency = rec.done_at[recent] - rec.intended[recent]
    sent = rec.sent >= 0
    lag = (rec.sent[sent] - rec.intended[sent])[-1000:]
    return {
        "rate": int(recent.sum()) * 1_000_000 / window_us,
        "p99_ms": float(np.percentile(latency, 99)) / 1000 if len(latency) else 0.0,
        "lag_ms": float(lag.max()) / 1000 if len(lag) else 0.0,
    }


def live_refresh_ms(n: int = 1_000_000, rate: int = 5_000) -> dict[str, float]:
    """Median milliseconds of one refresh late in an n-event run at `rate` events/s, with
    the rate * 0.5 s of events that finished since the previous refresh."""
    gap = 1_000_000 // rate
    rec = Recorder(np.arange(n, dtype=np.int64), np.arange(n, dtype=np.int64) * gap)
    step = rate // 2
    done = n - 20 * step
    rec.sent[:done] = rec.intended[:done] + 300
    rec.done_at[:done] = rec.intended[:done] + 2_000
    rec.outcome[:done] = OK
    rec.finish_order[:done] = np.arange(done)
    rec.finished = done
    figures = LiveFigures(rec)
    figures.update(int(rec.done_at[done - 1]))  # the display has been running all along
    scans, incremental = [], []
    for k in range(20):
        new = np.arange(done + k * step, done + (k + 1) * step)
        rec.sent[new], rec.done_at[new] = rec.intended[new] + 300, rec.intended[new] + 2_000
        rec.finish_order[new] = new
        rec.finished += step
        now = int(rec.done_at[new[-1]])
        t0 = time.perf_counter()
        full_scan(rec, now)
        t1 = time.perf_counter()
        figures.update(now)
        incremental.append(time.perf_counter() - t1)
        scans.append(t1 - t0)
    return {
        "whole-column scan": statistics.median(scans) * 1000,
        "incremental": statistics.median(incremental) * 1000,
    }


def load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def test_ca(workdir: Path) -> tuple[TlsFiles, TlsOptions]:
    """nginx's certificate for 127.0.0.1 from a fresh trustme CA, and the clients' trust."""
    import trustme

    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(workdir / "ca.pem"))
    ca.issue_cert("127.0.0.1", "localhost").private_key_and_cert_chain_pem.write_to_path(
        str(workdir / "server.pem")
    )
    server = TlsFiles(workdir / "server.pem", workdir / "server.pem")
    return server, TlsOptions(ca_file=workdir / "ca.pem")


def tls_main(args: argparse.Namespace, workdir: Path, body: bytes) -> None:
    """The lean client, aiohttp and wrk over TLS against one nginx, side by side."""
    server, client_tls = test_ca(workdir)
    rows: dict[str, list[tuple[float, float]]] = {
        "replay-fast-tls": [], "replay-aiohttp-tls": [], "wrk-tls": [], "replay-fast-plain": [],
    }  # fmt: skip
    with Nginx(workdir, status=201, tls=server) as nginx:
        assert nginx.tls_port is not None
        tls_port = nginx.tls_port
        version = _tls_version(tls_port, client_tls)
        for rep in range(args.repeats):
            rows["replay-fast-tls"].append(
                run_replay(tls_port, args.seconds, "fast", body, client_tls)
            )
            rows["replay-aiohttp-tls"].append(
                run_replay(tls_port, args.seconds / 2, "aiohttp", body, client_tls)
            )
            rows["wrk-tls"].append(run_wrk(tls_port, args.seconds, workdir, "https"))
            rows["replay-fast-plain"].append(run_replay(nginx.port, args.seconds, "fast", body))
            print(
                f"repeat {rep + 1}: " + ", ".join(f"{k} {v[-1][0]:.0f}/s" for k, v in rows.items())
            )
    med = {k: (statistics.median(r for r, _ in v), statistics.median(c for _, c in v))
           for k, v in rows.items()}  # fmt: skip
    cores = f"{os.cpu_count()} cores shared by client and server"
    print(f"\nnginx 201 sink over TLS ({version}), {CONNECTIONS} "
          f"keep-alive connections, {args.repeats} repeats, medians ({cores}), "
          f"load average {load()}:")  # fmt: skip
    print(f"{'client':<20}{'req/s':>10}{'req/CPU-s':>12}")
    for name, (rps, per_core) in med.items():
        print(f"{name:<20}{rps:>10.0f}{per_core:>12.0f}")
    fast, aio, wrk = med["replay-fast-tls"], med["replay-aiohttp-tls"], med["wrk-tls"]
    plain = med["replay-fast-plain"]
    print(f"\nreplay-fast-tls / wrk-tls: {fast[0] / wrk[0]:.2f}x req/s, "
          f"{fast[1] / wrk[1]:.2f}x per core")  # fmt: skip
    print(f"replay-fast-tls / replay-aiohttp-tls: {fast[0] / aio[0]:.1f}x req/s, "
          f"{fast[1] / aio[1]:.1f}x per core")  # fmt: skip
    print(f"replay-fast-tls / replay-fast-plain: {fast[0] / plain[0]:.2f}x req/s "
          "(the cost of TLS to the lean client)")  # fmt: skip


def _tls_version(port: int, tls: TlsOptions) -> str:
    """The protocol version nginx and the clients agree on."""
    raw = socket.create_connection(("127.0.0.1", port))
    with tls.context().wrap_socket(raw, server_hostname="127.0.0.1") as wrapped:
        return f"{wrapped.version()}, {wrapped.cipher()[0]}"  # type: ignore[index]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--tls", action="store_true", help="compare the clients over TLS")
    parser.add_argument(
        "--request", type=Path, default=None, help="request template TOML to replay through too"
    )
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-http-"))
    payload = Payload(schedule(["reply"]), workforce(4))
    (workdir / "body.json").write_bytes(payload.http_json(0))
    body = (workdir / "body.json").read_bytes()
    if args.tls:
        try:
            tls_main(args, workdir, body)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        return
    nginx = Nginx(workdir, status=201).__enter__()
    port = nginx.port
    rows: dict[str, list[tuple[float, float]]] = {
        "replay-fast": [], "replay-fixed-body": [], "replay-aiohttp": [],
        "locust-fasthttp": [], "wrk": [],
    }  # fmt: skip
    shape: dict[str, str] = {}
    if args.request is not None:
        compiled = compile_template(load_toml(args.request), str(args.request)).request
        assert compiled is not None, "--request needs a [request] table"
        rendered = compiled.render(payload, 0, 1, "/replies")
        (workdir / "body-template").write_bytes(rendered.bodies[0])
        shape = {"body": "body-template", "path": rendered.paths[0].decode(),
                 "content_type": compiled.content_type}  # fmt: skip
        rows["replay-fast-template"], rows["locust-template-body"] = [], []
    try:
        for rep in range(args.repeats):
            rows["replay-fast"].append(run_replay(port, args.seconds, "fast", body))
            rows["replay-fixed-body"].append(run_replay(port, args.seconds, "fixed", body))
            rows["replay-aiohttp"].append(run_replay(port, args.seconds / 2, "aiohttp", body))
            rows["locust-fasthttp"].append(run_locust(port, args.seconds, workdir))
            rows["wrk"].append(run_wrk(port, args.seconds, workdir))
            if shape:
                rows["replay-fast-template"].append(
                    run_replay(port, args.seconds, "fast", body, request=args.request)
                )
                rows["locust-template-body"].append(
                    run_locust(port, args.seconds, workdir, **shape)
                )
            print(
                f"repeat {rep + 1}: " + ", ".join(f"{k} {v[-1][0]:.0f}/s" for k, v in rows.items())
            )
        accuracy = [run_accuracy(port, 5000, 4.0) for _ in range(args.repeats)]
    finally:
        nginx.__exit__()
        shutil.rmtree(workdir, ignore_errors=True)
    med = {k: (statistics.median(r for r, _ in v), statistics.median(c for _, c in v))
           for k, v in rows.items()}  # fmt: skip
    cores = f"{os.cpu_count()} cores shared by client and server"
    print(f"\nnginx 201 sink, {CONNECTIONS} connections, {args.repeats} repeats, medians "
          f"({cores}), load average {load()}:")  # fmt: skip
    print(f"{'client':<22}{'req/s':>10}{'req/CPU-s':>12}")
    for name, (rps, per_core) in med.items():
        print(f"{name:<22}{rps:>10.0f}{per_core:>12.0f}")
    fast, locust, wrk = med["replay-fast"], med["locust-fasthttp"], med["wrk"]
    print(f"\nreplay-fast / locust FastHttpUser, per core: {fast[1] / locust[1]:.1f}x (goal >= 5x)")
    print(f"replay-fast / wrk: {fast[0] / wrk[0]:.2f}x req/s, {fast[1] / wrk[1]:.2f}x per core")
    fixed = med["replay-fixed-body"]
    print(f"replay-fixed-body / locust per core: {fixed[1] / locust[1]:.1f}x (same work)")
    print(f"replay-aiohttp / locust per core: {med['replay-aiohttp'][1] / locust[1]:.1f}x")
    if shape:
        tpl, tpl_locust = med["replay-fast-template"], med["locust-template-body"]
        print(
            f"replay-fast-template / locust (template body) per core: "
            f"{tpl[1] / tpl_locust[1]:.1f}x; template / own JSON req/s: {tpl[0] / fast[0]:.2f}x"
        )
    p99 = statistics.median(a["p99_ms"] for a in accuracy)
    print("\nscheduling accuracy at 5,000 events/s for 4 s (send lag, ms):")
    for a in accuracy:
        print("  " + json.dumps({k: round(v, 3) for k, v in a.items()}))
    print(f"median p99 send lag {p99:.3f} ms (goal <= 5 ms), live display attached")
    print("\npreparing one reply's JSON body (median of 3 passes over 25,600 events):")
    costs = prepare_costs(request=args.request)
    before = costs["render_reply + json.dumps"]
    for name, us in costs.items():
        print(f"  {name:<40}{us:>7.2f} us/event  {before / us:>5.1f}x")
    print("one live-display refresh, 1,000,000 events at 5,000/s (median of 20):")
    refresh = live_refresh_ms()
    for name, ms in refresh.items():
        print(f"  {name:<28}{ms:>7.3f} ms")


if __name__ == "__main__":
    main()
