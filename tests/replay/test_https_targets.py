"""Both HTTP clients over TLS against an aiohttp server with a trustme CA on loopback:
delivery, the preflight's clear errors (unknown CA, wrong name, client certificate
refused) before any event is sent, mutual TLS, and the flag and scenario checks."""

from __future__ import annotations

import asyncio
import json
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import trustme
from aiohttp import web

from simulator.cli import main
from simulator.replay import ReplayOptions, replay
from simulator.replay.targets import TargetOptions, make_target
from simulator.replay.tls import TlsOptions
from simulator.validation import InputError
from tests.replay.tables import schedule, workforce

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Pki:
    ca: trustme.CA
    ca_file: Path  # trusts the server
    other_ca_file: Path  # a CA that issued nothing the server holds
    client_cert: Path  # certificate chain issued by `ca`
    client_key: Path


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    d = tmp_path_factory.mktemp("pki")
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(d / "ca.pem"))
    trustme.CA().cert_pem.write_to_path(str(d / "other-ca.pem"))
    client = ca.issue_cert("replay@pulsecheck.test")
    client.cert_chain_pems[0].write_to_path(str(d / "client.pem"))
    client.private_key_pem.write_to_path(str(d / "client.key"))
    return Pki(ca, d / "ca.pem", d / "other-ca.pem", d / "client.pem", d / "client.key")


class TlsSink:
    """An aiohttp HTTPS server in a thread of its own (so both async tests and the CLI,
    which runs its own loop, can reach it); counts the POSTs it answers 201."""

    def __init__(self, pki: Pki, names: tuple[str, ...], require_client_cert: bool) -> None:
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        pki.ca.issue_cert(*names).configure_cert(self.context)
        if require_client_cert:
            pki.ca.configure_trust(self.context)
            self.context.verify_mode = ssl.CERT_REQUIRED
        self.posts: list[dict[str, object]] = []
        self.sni: list[str | None] = []  # the name each handshake sent (None: an IP)
        self.context.sni_callback = self._record_sni
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.port = 0

    def _record_sni(self, sock: ssl.SSLObject, name: str | None, context: ssl.SSLContext) -> None:
        self.sni.append(name)

    async def handle(self, request: web.Request) -> web.Response:
        self.posts.append(json.loads(await request.read()))
        return web.Response(status=201)

    async def _start(self) -> web.AppRunner:
        app = web.Application()
        app.router.add_post("/replies", self.handle)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=self.context)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return runner

    def __enter__(self) -> TlsSink:
        self.thread.start()
        self.runner = asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def server(pki: Pki) -> Iterator[TlsSink]:
    with TlsSink(pki, ("localhost", "127.0.0.1"), require_client_cert=False) as sink:
        yield sink


@pytest.fixture
def mtls_server(pki: Pki) -> Iterator[TlsSink]:
    with TlsSink(pki, ("localhost", "127.0.0.1"), require_client_cert=True) as sink:
        yield sink


async def _replay(url: str, fast: bool, tls: TlsOptions, n: int = 30) -> dict[str, object]:
    target = make_target(url, TargetOptions(timeout_s=5.0, fast_http=fast, tls=tls))
    await target.preflight()
    events = schedule(["reply"] * n, gap_us=1000)
    result = await replay(events, workforce(n + 10), target, ReplayOptions(concurrency=4))
    return result.summary


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
async def test_both_clients_deliver_every_event_over_tls(
    server: TlsSink, pki: Pki, fast: bool, host: str
) -> None:
    url = f"https://{host}:{server.port}/replies"
    summary = await _replay(url, fast, TlsOptions(ca_file=pki.ca_file))
    assert summary["acknowledged"] == 30 == len(server.posts)
    assert sorted(str(p["idempotency_key"]) for p in server.posts) == sorted(
        f"0-{i}" for i in range(30)
    )
    assert summary["target"] == url
    assert set(server.sni) == {None if host == "127.0.0.1" else host}  # no SNI for an IP


@pytest.mark.parametrize("fast", [True, False])
async def test_an_untrusted_ca_fails_the_preflight_naming_ca_file(
    server: TlsSink, pki: Pki, fast: bool
) -> None:
    url = f"https://localhost:{server.port}/replies"
    with pytest.raises(InputError) as err:
        await _replay(url, fast, TlsOptions(ca_file=pki.other_ca_file))
    assert err.value.field == "--ca-file"
    assert err.value.value == str(pki.other_ca_file)
    assert "certificate verify failed: unable to get local issuer certificate" in str(err.value)
    assert server.posts == []


@pytest.mark.parametrize("fast", [True, False])
async def test_a_wrong_server_name_fails_the_preflight(
    server: TlsSink, pki: Pki, fast: bool
) -> None:
    url = f"https://localhost:{server.port}/replies"
    tls = TlsOptions(ca_file=pki.ca_file, server_name="collect.pulsecheck.test")
    with pytest.raises(InputError) as err:
        await _replay(url, fast, tls)
    assert err.value.field == "--tls-server-name"
    assert "Hostname mismatch" in str(err.value)
    assert server.posts == []


async def test_a_host_the_certificate_does_not_name_fails_naming_target(pki: Pki) -> None:
    with TlsSink(pki, ("localhost",), require_client_cert=False) as only_localhost:
        url = f"https://127.0.0.1:{only_localhost.port}/replies"
        with pytest.raises(InputError) as err:
            await _replay(url, True, TlsOptions(ca_file=pki.ca_file))
    assert err.value.field == "--target"
    assert "IP address mismatch" in str(err.value)
    assert only_localhost.posts == []


@pytest.mark.parametrize("fast", [True, False])
async def test_the_server_name_is_sent_and_verified_in_place_of_the_host(
    pki: Pki, fast: bool
) -> None:
    """The socket goes to 127.0.0.1 (the pinned address); the handshake names and checks
    collect.pulsecheck.test, the only name on the certificate."""
    with TlsSink(pki, ("collect.pulsecheck.test",), require_client_cert=False) as named:
        url = f"https://127.0.0.1:{named.port}/replies"
        tls = TlsOptions(ca_file=pki.ca_file, server_name="collect.pulsecheck.test")
        summary = await _replay(url, fast, tls, n=10)
    assert summary["acknowledged"] == 10 == len(named.posts)
    assert set(named.sni) == {"collect.pulsecheck.test"}


@pytest.mark.parametrize("fast", [True, False])
async def test_mutual_tls_delivers_with_the_client_certificate(
    mtls_server: TlsSink, pki: Pki, fast: bool
) -> None:
    url = f"https://localhost:{mtls_server.port}/replies"
    tls = TlsOptions(ca_file=pki.ca_file, cert_file=pki.client_cert, key_file=pki.client_key)
    summary = await _replay(url, fast, tls, n=12)
    assert summary["acknowledged"] == 12 == len(mtls_server.posts)


@pytest.mark.parametrize("fast", [True, False])
async def test_mutual_tls_without_a_client_certificate_fails_the_preflight(
    mtls_server: TlsSink, pki: Pki, fast: bool
) -> None:
    url = f"https://localhost:{mtls_server.port}/replies"
    with pytest.raises(InputError) as err:
        await _replay(url, fast, TlsOptions(ca_file=pki.ca_file))
    assert err.value.field == "--client-cert"
    assert err.value.value == "(none given)"
    assert "closed the connection without answering" in str(err.value)
    assert mtls_server.posts == []


# -- pulsecheck replay: the flags, end to end ----------------------------------------------


@pytest.fixture
def inputs(tmp_path: Path) -> tuple[Path, Path]:
    pq.write_table(schedule(["reply"] * 20, gap_us=1000), tmp_path / "s.parquet")
    pq.write_table(workforce(40), tmp_path / "w.parquet")
    return tmp_path / "s.parquet", tmp_path / "w.parquet"


def _args(inputs: tuple[Path, Path], target: str, out: Path, *extra: str) -> list[str]:
    s, w = inputs
    return ["replay", str(s), "--workforce", str(w), "--target", target, "--out", str(out),
            "--no-live", "--speedup", "10", *extra]  # fmt: skip


@pytest.mark.parametrize(("client", "workers"), [("fast", 1), ("aiohttp", 1), ("fast", 2)])
def test_replay_over_tls_from_the_command_line(
    inputs: tuple[Path, Path],
    tmp_path: Path,
    mtls_server: TlsSink,
    pki: Pki,
    client: str,
    workers: int,
) -> None:
    """Worker processes get the TLS options pickled and open the files themselves."""
    url = f"https://localhost:{mtls_server.port}/replies"
    tls = ["--ca-file", str(pki.ca_file), "--client-cert", str(pki.client_cert),
           "--client-key", str(pki.client_key), "--http-client", client,
           "--workers", str(workers)]  # fmt: skip
    assert main(_args(inputs, url, tmp_path / "run", *tls)) == 0
    summary = json.loads((tmp_path / "run" / "replay.json").read_text())
    assert summary["acknowledged"] == 20 == len(mtls_server.posts)


def test_an_untrusted_certificate_exits_2_before_any_event(
    inputs: tuple[Path, Path], tmp_path: Path, server: TlsSink, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"https://localhost:{server.port}/replies"  # the system store does not know the CA
    assert main(_args(inputs, url, tmp_path / "run")) == 2
    err = capsys.readouterr().err
    assert "--ca-file" in err and "certificate verify failed" in err
    assert len(err.strip().splitlines()) == 1
    assert server.posts == []
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("target", "extra", "named"),
    [
        ("http://127.0.0.1:9/x", ["--ca-file", "{ca}"], "--target"),  # TLS flags need https
        ("https://127.0.0.1:9/x", ["--ca-file", "{missing}"], "--ca-file"),
        ("https://127.0.0.1:9/x", ["--client-cert", "{missing}"], "--client-cert"),
        ("https://127.0.0.1:9/x", ["--client-cert", "{ca}", "--client-key", "{missing}"],
         "--client-key"),
    ],
)  # fmt: skip
def test_bad_tls_flags_exit_2_naming_the_flag(
    inputs: tuple[Path, Path],
    tmp_path: Path,
    pki: Pki,
    capsys: pytest.CaptureFixture[str],
    target: str,
    extra: list[str],
    named: str,
) -> None:
    paths = {"ca": str(pki.ca_file), "missing": str(tmp_path / "nope.pem")}
    extra = [e.format(**paths) for e in extra]
    assert main(_args(inputs, target, tmp_path / "run", *extra)) == 2
    err = capsys.readouterr().err
    assert f": {named} = " in err
    assert not (tmp_path / "run").exists()
