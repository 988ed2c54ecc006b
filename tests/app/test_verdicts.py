"""Verdicts a user can trust: a refused or silent target fails, whatever it answered.

Unit cases run each shipped scenario's thresholds over hand-made results; the
integration cases run `pulsecheck run --target` against a loopback endpoint that answers
every request with one status.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web

from simulator.app.scenarios import load_any
from simulator.report.summary import build_summary
from tests.report.helpers import results_table

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.toml"))
N = 200


def _verdict(path: Path, outcomes: list[str], errors: list[str], stored: int | None) -> str:
    scenario = load_any(path)
    results = results_table([5.0] * len(outcomes), outcomes, errors)
    summary = build_summary(
        results, scenario=scenario.name, stored=stored, thresholds=scenario.thresholds
    )
    return str(summary["verdict"])


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_shipped_thresholds_fail_refused_and_dropped_runs(path: Path) -> None:
    cases = {
        # every request answered 404 / 401: the target or the credentials are wrong
        "all 404": (["error"] * N, ["http 404"] * N, 0),
        "all 401": (["error"] * N, ["http 401"] * N, 0),
        # half the events never sent: the generator fell behind
        "50% dropped": (["ok", "dropped"] * (N // 2), [""] * N, N // 2),
    }
    for name, (outcomes, errors, stored) in cases.items():
        assert _verdict(path, outcomes, errors, stored) == "fail", name
    # and a clean run passes, so the thresholds are not simply unmeetable
    assert _verdict(path, ["ok"] * N, [""] * N, N) == "pass"


def test_no_thresholds_is_no_pass() -> None:
    summary = build_summary(results_table([1.0], ["dropped"]), scenario="x", stored=0)
    assert summary["verdict"] == "none"


class Endpoint:
    """A loopback HTTP endpoint answering every POST with one status, in its own thread."""

    def __init__(self, status: int) -> None:
        self.status, self.count, self.port = status, 0, 0
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, daemon=True)

    async def _handle(self, request: web.Request) -> web.Response:
        await request.read()
        self.count += 1
        return web.json_response({"status": "ok"}, status=self.status)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._ready.set()
        self._loop.run_forever()

    def __enter__(self) -> Endpoint:
        self._thread.start()
        assert self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


@pytest.fixture
def endpoint(request: pytest.FixtureRequest) -> Iterator[Endpoint]:
    with Endpoint(request.param) as ep:
        yield ep


def _run(tmp_path: Path, port: int) -> tuple[int, str, dict[str, object]]:
    out = tmp_path / "run"
    cmd = [
        sys.executable, "-m", "simulator", "run", str(ROOT / "scenarios" / "ci-smoke.toml"),
        "--target", f"http://127.0.0.1:{port}/replies", "--speedup", "50000", "--out", str(out),
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=ROOT)
    summary = json.loads((out / "summary.json").read_text())
    return done.returncode, done.stdout + done.stderr, summary


@pytest.mark.integration
@pytest.mark.parametrize("endpoint", [404, 401], indirect=True)
def test_run_against_a_refusing_endpoint_fails(endpoint: Endpoint, tmp_path: Path) -> None:
    code, output, summary = _run(tmp_path, endpoint.port)
    assert endpoint.count > 0  # the requests did reach it
    assert code == 1, output
    assert "acknowledged nothing" in output
    assert summary["verdict"] == "fail"  # error_rate: every answer was an error


@pytest.mark.integration
@pytest.mark.parametrize("endpoint", [201], indirect=True)
def test_run_against_the_users_endpoint_checks_its_thresholds(
    endpoint: Endpoint, tmp_path: Path
) -> None:
    code, output, summary = _run(tmp_path, endpoint.port)
    assert code == 0, output
    events = summary["events"]
    assert events["acknowledged"] == events["scheduled"] == endpoint.count
    # `lost` needs a store check, which an outside system does not give: not measured
    checks = {t["check"]: t for t in summary["thresholds"]}
    assert checks["lost == 0"]["measured"] is False
    assert checks["error_rate < 0.01"]["passed"] is True
    assert "not measured here: lost == 0" in output


def test_a_scenario_name_that_is_a_path_cannot_choose_the_run_directory(
    tmp_path: Path,
) -> None:
    from simulator.app.running import default_out
    from simulator.validation import InputError

    assert default_out("opm-round1", tmp_path / "s.toml") == Path("reports/opm-round1")
    for name in ("../outside", "/etc", ".hidden", "a/b"):
        with pytest.raises(InputError, match=r"scenario\.name"):
            default_out(name, tmp_path / "s.toml")
