"""Both HTTP clients replaying over TLS to a real nginx whose certificate comes from a
trustme CA: every event acknowledged, and mutual TLS with `ssl_verify_client on`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from simulator.replay import ReplayOptions, replay
from simulator.replay.targets import TargetOptions, make_target
from simulator.replay.tls import TlsOptions
from simulator.validation import InputError
from tests.replay.nginx_instance import Nginx, TlsFiles, unavailable
from tests.replay.tables import schedule, workforce

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(unavailable() is not None, reason=str(unavailable())),
]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("nginx-pki")
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(d / "ca.pem"))
    server = ca.issue_cert("localhost", "127.0.0.1")
    server.private_key_pem.write_to_path(str(d / "server.key"))
    for i, pem in enumerate(server.cert_chain_pems):
        pem.write_to_path(str(d / "server.pem"), append=i > 0)
    client = ca.issue_cert("replay@pulsecheck.test")
    client.private_key_and_cert_chain_pem.write_to_path(str(d / "client.pem"))
    return {name: d / f"{name}.pem" for name in ("ca", "server", "client")} | {
        "server_key": d / "server.key"
    }


@pytest.fixture(params=[False, True], ids=["tls", "mutual-tls"])
def nginx(request: pytest.FixtureRequest, pki: dict[str, Path], tmp_path: Path) -> Iterator[Nginx]:
    client_ca = pki["ca"] if request.param else None
    with Nginx(
        tmp_path, status=202, tls=TlsFiles(pki["server"], pki["server_key"], client_ca)
    ) as n:
        yield n


async def _replay(url: str, fast: bool, tls: TlsOptions, n: int) -> dict[str, object]:
    target = make_target(url, TargetOptions(timeout_s=5.0, fast_http=fast, tls=tls))
    await target.preflight()
    events = schedule(["reply"] * n, gap_us=500)
    result = await replay(events, workforce(n + 10), target, ReplayOptions(concurrency=8))
    statuses = set(result.results.column("status").to_pylist())
    return result.summary | {"statuses": statuses}


@pytest.mark.parametrize("fast", [True, False], ids=["lean", "aiohttp"])
async def test_every_event_acknowledged_over_tls(
    nginx: Nginx, pki: dict[str, Path], fast: bool
) -> None:
    """The client certificate goes along either way; only the mutual-TLS nginx asks."""
    url = f"https://localhost:{nginx.tls_port}/replies"
    tls = TlsOptions(ca_file=pki["ca"], cert_file=pki["client"])
    summary = await _replay(url, fast, tls, 200)
    assert summary["acknowledged"] == 200
    assert summary["statuses"] == {202}


@pytest.mark.parametrize("fast", [True, False], ids=["lean", "aiohttp"])
async def test_nginx_requiring_a_client_certificate_refuses_every_event_without_one(
    pki: dict[str, Path], tmp_path: Path, fast: bool
) -> None:
    """nginx completes the handshake and answers 400 ("No required SSL certificate was
    sent") to each request, so the events are refused, none acknowledged."""
    files = TlsFiles(pki["server"], pki["server_key"], client_ca=pki["ca"])
    with Nginx(tmp_path, status=202, tls=files) as mtls:
        url = f"https://127.0.0.1:{mtls.tls_port}/replies"
        summary = await _replay(url, fast, TlsOptions(ca_file=pki["ca"]), 20)
    assert summary["acknowledged"] == 0
    assert summary["statuses"] == {400}


async def test_the_preflight_refuses_nginx_with_an_unknown_ca(
    pki: dict[str, Path], tmp_path: Path
) -> None:
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    files = TlsFiles(pki["server"], pki["server_key"])
    with Nginx(tmp_path, tls=files) as plain_tls:
        target = make_target(
            f"https://localhost:{plain_tls.tls_port}/replies",
            TargetOptions(tls=TlsOptions(ca_file=other)),
        )
        with pytest.raises(InputError, match="certificate verify failed") as err:
            await target.preflight()
    assert err.value.field == "--ca-file"


async def test_plain_http_listener_still_answers(pki: dict[str, Path], tmp_path: Path) -> None:
    files = TlsFiles(pki["server"], pki["server_key"])
    with Nginx(tmp_path, tls=files) as both:
        summary = await _replay(f"http://127.0.0.1:{both.port}/replies", True, TlsOptions(), 20)
    assert summary["acknowledged"] == 20 and summary["statuses"] == {202}
