"""A user's own endpoint, with its own JSON shape and basic auth, reached through a template.

The server here is not pulsecheck's API: it takes `scenarios/templates/hr-intake.toml`'s
documents at /v1/intake/{agency}, wants HTTP basic auth, and answers by event: stored,
duplicate (409), refused with a reason code in its JSON body (422), or unauthorized (401).
"""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from aiohttp import web

from simulator.cli import main
from simulator.replay import ReplayOptions, replay
from simulator.replay.targets import TargetOptions, make_target
from simulator.traffic.payload import FIELDS, Payload
from simulator.validation import load_toml
from tests.replay.tables import schedule, workforce

pytestmark = pytest.mark.integration

TEMPLATE = Path(__file__).resolve().parents[2] / "scenarios" / "templates" / "hr-intake.toml"
PASSWORD = "Zq8-distinctive-intake-password-41"
USER = "pulsecheck"  # as the template names
KINDS = ["reply"] * 24 + ["auto_reply", "bounce"]


class Intake:
    """Records documents; answers by the event id in the dedupe key when `answer_by_id`."""

    def __init__(self, answer_by_id: bool = False) -> None:
        self.docs: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.request_ids: list[str] = []
        self.answer_by_id = answer_by_id
        good = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        self.expected_auth = f"Basic {good}"

    async def handle(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != self.expected_auth:
            return web.json_response({"error": {"code": "no_auth"}}, status=401)
        doc = await request.json()
        event = int(doc["dedupe"].rpartition("-")[2])
        if self.answer_by_id and event % 4 == 3:
            return web.json_response({"error": {"code": "no_auth"}}, status=401)
        self.docs.append(doc)
        self.paths.append(request.path)
        self.request_ids.append(request.headers.get("X-Request-Id", ""))
        if self.answer_by_id and event % 4 == 1:
            return web.json_response({"error": {"code": "seen"}}, status=409)
        if self.answer_by_id and event % 4 == 2:
            return web.json_response({"error": {"code": "banned_word"}}, status=422)
        return web.json_response({"id": event}, status=201)


class Serving:
    """The intake app on a loopback port, in a thread with its own event loop."""

    def __init__(self, intake: Intake) -> None:
        self.intake = intake
        self.loop = asyncio.new_event_loop()
        self.started = threading.Event()
        self.port = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        app = web.Application()
        app.router.add_post("/v1/intake/{agency}", self.intake.handle)
        self.runner = web.AppRunner(app)
        self.loop.run_until_complete(self.runner.setup())
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        self.loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.started.set()
        self.loop.run_forever()
        self.loop.run_until_complete(self.runner.cleanup())

    def __enter__(self) -> Serving:
        self.thread.start()
        assert self.started.wait(10), "the intake server did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def password(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("HR_INTAKE_PASSWORD", PASSWORD)
    yield PASSWORD


def _options(fast: bool) -> TargetOptions:
    return TargetOptions(
        timeout_s=5.0, fast_http=fast, template=load_toml(TEMPLATE), template_source=str(TEMPLATE)
    )


async def _replay(port: int, fast: bool, n_people: int = 40) -> Any:
    target = make_target(f"http://127.0.0.1:{port}/ignored", _options(fast))
    events = schedule(KINDS, gap_us=1000)
    return await replay(events, workforce(n_people), target, ReplayOptions(concurrency=6, seed=9))


@pytest.mark.parametrize("fast", [True, False])
def test_documents_have_the_templates_shape_and_the_events_values(
    fast: bool, password: str
) -> None:
    intake = Intake()
    with Serving(intake) as server:
        result = asyncio.run(_replay(server.port, fast))
    assert result.summary["acknowledged"] == len(KINDS) == len(intake.docs)
    assert set(result.results.column("status").to_pylist()) == {201}
    payload = Payload(schedule(KINDS, gap_us=1000), workforce(40), seed=9)
    values = payload.values(0, len(KINDS), FIELDS)
    by_event = {int(d["dedupe"].rpartition("-")[2]): d for d in intake.docs}
    assert sorted(by_event) == list(range(len(KINDS)))
    for i, doc in by_event.items():
        assert set(doc) == {"dedupe", "sent_at", "subject", "summary", "text", "copies", "bytes",
                            "employee"}  # fmt: skip
        assert doc["employee"] == {
            "email": values["sender"][i],
            "name": values["sender_name"][i],
            "agency": "DHS",
            "office": "TSA",
        }
        assert doc["summary"] == values["bullets"][i]
        assert doc["text"] == values["body"][i] and doc["subject"] == values["subject"][i]
        assert doc["copies"] == values["cc"][i] and doc["bytes"] == 600
        assert doc["sent_at"] == values["intended_time"][i]
    assert all(len(by_event[i]["summary"]) == 5 for i in range(24))  # plain-text replies
    assert set(intake.paths) == {"/v1/intake/DHS"}
    assert sorted(intake.request_ids) == sorted(f"9-{i}" for i in range(len(KINDS)))


@pytest.mark.parametrize("fast", [True, False])
def test_answers_follow_the_response_rules(fast: bool, password: str) -> None:
    with Serving(Intake(answer_by_id=True)) as server:
        result = asyncio.run(_replay(server.port, fast))
    rows = result.results.select(["event_id", "status", "outcome", "error"]).to_pylist()
    for row in rows:
        expected = {
            0: (201, "ok", ""),
            1: (409, "ok", "duplicate"),
            2: (422, "rejected", "http 422 banned_word"),
            3: (401, "error", "http 401 no_auth"),
        }[row["event_id"] % 4]
        # an acknowledgement more than 10 ms behind schedule (a loaded machine) is "late"
        outcome = "ok" if row["outcome"] == "late" else row["outcome"]
        assert (row["status"], outcome, row["error"]) == expected
    assert result.summary["acknowledged"] == sum(r["event_id"] % 4 in (0, 1) for r in rows)


@pytest.mark.parametrize("fast", [True, False])
def test_wrong_password_is_an_error_not_an_acknowledgement(
    fast: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HR_INTAKE_PASSWORD", "wrong")
    with Serving(Intake()) as server:
        result = asyncio.run(_replay(server.port, fast))
    assert result.summary["acknowledged"] == 0
    assert set(result.results.column("error").to_pylist()) == {"http 401 no_auth"}


def test_cli_replay_keeps_the_secret_out_of_every_file_and_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """--request with the password in a file: the run directory and the output never
    hold the password, nor the basic-auth header made from it."""
    monkeypatch.delenv("HR_INTAKE_PASSWORD", raising=False)
    folder = tmp_path / "tpl"
    folder.mkdir()
    text = TEMPLATE.read_text().replace(
        'password_env = "HR_INTAKE_PASSWORD"', 'password_file = "intake.password"'
    )
    (folder / "intake.toml").write_text(text)
    (folder / "intake.password").write_text(PASSWORD + "\n")
    pq.write_table(schedule(KINDS, gap_us=500), tmp_path / "s.parquet")
    pq.write_table(workforce(40), tmp_path / "w.parquet")
    out = tmp_path / "run"
    intake = Intake(answer_by_id=True)
    with Serving(intake) as server:
        for workers in ("1", "2"):
            shutil.rmtree(out, ignore_errors=True)
            code = main(
                ["replay", str(tmp_path / "s.parquet"), "--workforce", str(tmp_path / "w.parquet"),
                 "--target", f"http://127.0.0.1:{server.port}/", "--out", str(out), "--no-live",
                 "--request", str(folder / "intake.toml"), "--workers", workers]
            )  # fmt: skip
            assert code == 0
            captured = capsys.readouterr()
            encoded = base64.b64encode(f"{USER}:{PASSWORD}".encode())
            files = [p for p in out.rglob("*") if p.is_file()]
            assert {"results.parquet", "replay.json"} <= {p.name for p in files}
            for blob in [captured.out.encode(), captured.err.encode()] + [
                p.read_bytes() for p in files
            ]:
                assert PASSWORD.encode() not in blob and encoded not in blob
            summary = json.loads((out / "replay.json").read_text())
            assert summary["outcomes"]["rejected"] > 0 and summary["acknowledged"] > 0


def test_cli_refuses_a_bad_template_before_sending(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "bad.toml").write_text('[request.body]\nwho = "{employee}"\n')
    pq.write_table(schedule(KINDS), tmp_path / "s.parquet")
    pq.write_table(workforce(40), tmp_path / "w.parquet")
    code = main(
        ["replay", str(tmp_path / "s.parquet"), "--workforce", str(tmp_path / "w.parquet"),
         "--target", "http://127.0.0.1:9/", "--out", str(tmp_path / "run"), "--no-live",
         "--request", str(tmp_path / "bad.toml")]
    )  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert "bad.toml" in err and "request.body.who" in err and "sender_name" in err
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_run_with_a_scenario_template_reaches_the_endpoint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`pulsecheck run` of a scenario whose [target] carries the template's tables."""
    monkeypatch.delenv("HR_INTAKE_PASSWORD", raising=False)
    root = TEMPLATE.parents[2]
    smoke = (root / "scenarios" / "ci-smoke.toml").read_text()
    embedded = '[target]\nkind = "embedded"\nprotocol = "smtp"\n'
    tables = TEMPLATE.read_text().replace("[request", "[target.request")
    tables = tables.replace("[response]", "[target.response]").replace("[auth]", "[target.auth]")
    tables = tables.replace('password_env = "HR_INTAKE_PASSWORD"', 'password_file = "pw.txt"')
    (tmp_path / "pw.txt").write_text(PASSWORD)
    out = tmp_path / "run"
    intake = Intake()
    with Serving(intake) as server:
        target = f'[target]\nkind = "http"\nurl = "http://127.0.0.1:{server.port}/"\n'
        scenario = tmp_path / "intake.toml"
        scenario.write_text(smoke.replace(embedded, target + tables))
        code = main(["run", str(scenario), "--speedup", "50000", "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.out + captured.err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["events"]["acknowledged"] == summary["events"]["scheduled"] == len(intake.docs)
    assert all(set(d["employee"]) == {"email", "name", "agency", "office"} for d in intake.docs)
    assert {p.rpartition("/")[2] for p in intake.paths} == {d["employee"]["agency"]
                                                             for d in intake.docs}  # fmt: skip
    encoded = base64.b64encode(f"{USER}:{PASSWORD}".encode())
    for blob in [captured.out.encode(), captured.err.encode()] + [
        p.read_bytes() for p in out.rglob("*") if p.is_file()
    ]:
        assert PASSWORD.encode() not in blob and encoded not in blob
