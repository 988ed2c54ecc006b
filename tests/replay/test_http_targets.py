"""Both HTTP adapters against a small aiohttp server on loopback."""

import json

import pytest
from aiohttp import web

from simulator.replay import ReplayOptions, replay
from simulator.replay.targets import TargetOptions, make_target
from tests.replay.tables import schedule, workforce

pytestmark = pytest.mark.integration


class Sink:
    """Records bodies and headers; answers 503 + Retry-After to the first `busy` requests."""

    def __init__(self, busy: int = 0, status: int = 201) -> None:
        self.bodies: list[dict[str, object]] = []
        self.auth: list[str | None] = []
        self.busy = busy
        self.status = status

    async def handle(self, request: web.Request) -> web.Response:
        if self.busy > 0:
            self.busy -= 1
            return web.Response(status=503, headers={"Retry-After": "0.01"})
        self.bodies.append(json.loads(await request.read()))
        self.auth.append(request.headers.get("Authorization"))
        return web.Response(status=self.status)


async def _serve(sink: Sink) -> tuple[web.AppRunner, int]:
    app = web.Application()
    app.router.add_post("/replies", sink.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, port


@pytest.mark.parametrize("fast", [True, False])
async def test_every_event_posted_once(fast: bool) -> None:
    sink = Sink()
    runner, port = await _serve(sink)
    try:
        target = make_target(
            f"http://127.0.0.1:{port}/replies",
            TargetOptions(timeout_s=5.0, fast_http=fast),
            lambda a: f"{a}.tok",
        )
        events = schedule(["reply"] * 40, gap_us=2000)
        result = await replay(events, workforce(60), target, ReplayOptions(concurrency=8))
    finally:
        await runner.cleanup()
    assert result.summary["acknowledged"] == 40 == len(sink.bodies)
    assert sorted(str(b["idempotency_key"]) for b in sink.bodies) == sorted(
        f"0-{i}" for i in range(40)
    )
    assert set(sink.auth) == {"Bearer DHS.tok"}
    assert set(result.results.column("status").to_pylist()) == {201}


@pytest.mark.parametrize("fast", [True, False])
async def test_retry_after_is_honoured_and_counted(fast: bool) -> None:
    sink = Sink(busy=3)
    runner, port = await _serve(sink)
    try:
        target = make_target(
            f"http://127.0.0.1:{port}/replies", TargetOptions(timeout_s=5.0, fast_http=fast)
        )
        options = ReplayOptions(concurrency=1, retries=5)
        result = await replay(schedule(["reply"] * 2), workforce(10), target, options)
    finally:
        await runner.cleanup()
    outcomes = result.results.column("outcome").to_pylist()
    assert outcomes[0] == "ok" and outcomes[1] in ("ok", "late")  # 2nd waits behind retries
    assert result.summary["acknowledged"] == 2
    assert result.summary["retries"] == 3
    assert len(sink.bodies) == 2


async def test_client_errors_are_rejected_not_retried() -> None:
    sink = Sink(status=422)
    runner, port = await _serve(sink)
    try:
        target = make_target(
            f"http://127.0.0.1:{port}/replies", TargetOptions(timeout_s=5.0, fast_http=True)
        )
        result = await replay(schedule(["reply"] * 3), workforce(10), target, ReplayOptions())
    finally:
        await runner.cleanup()
    assert result.results.column("outcome").to_pylist() == ["rejected"] * 3
    assert result.results.column("error").to_pylist() == ["http 422"] * 3
    assert result.summary["retries"] == 0


async def test_refused_connection_is_an_error_per_event() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed
    target = make_target(
        f"http://127.0.0.1:{port}/replies", TargetOptions(timeout_s=1.0, fast_http=True)
    )
    result = await replay(schedule(["reply"] * 3), workforce(10), target, ReplayOptions())
    assert result.results.column("outcome").to_pylist() == ["error"] * 3


@pytest.mark.parametrize("fast", [True, False])
def test_a_reason_field_names_the_refusal_without_a_template(fast: bool) -> None:
    """The embedded API's 422 carries the rule it applied; the reason shows it."""
    options = TargetOptions(fast_http=fast, reason_field=("rule",))
    target = make_target("http://127.0.0.1:9/replies", options)
    rules = target.rules  # type: ignore[attr-defined]
    body = b'{"error": "content_rule", "rule": "link", "collection": "opm-hr"}'
    assert rules.outcome(422, None, 10, body).error == "http 422 link"
    plain = make_target("http://127.0.0.1:9/replies", TargetOptions(fast_http=fast))
    assert not plain.rules.reads_body  # type: ignore[attr-defined]
