"""`pulsecheck run` against the user's own https endpoint (nginx with a trustme
certificate), with the scenario's [target.tls] and with the flags; and the refusals."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from simulator.cli import main
from tests.replay.nginx_instance import Nginx, TlsFiles, unavailable

ROOT = Path(__file__).resolve().parents[2]
SMOKE = (ROOT / "scenarios" / "ci-smoke.toml").read_text()
EMBEDDED = '[target]\nkind = "embedded"\nprotocol = "smtp"\n'


@pytest.fixture
def pki(tmp_path: Path) -> Path:
    d = tmp_path / "pki"
    d.mkdir()
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(d / "ca.pem"))
    server = ca.issue_cert("localhost", "127.0.0.1")
    server.private_key_and_cert_chain_pem.write_to_path(str(d / "server.pem"))
    client = ca.issue_cert("replay@pulsecheck.test")
    client.private_key_and_cert_chain_pem.write_to_path(str(d / "client.pem"))
    return d


@pytest.fixture
def nginx(pki: Path, tmp_path: Path) -> Iterator[Nginx]:
    if unavailable():
        pytest.skip(str(unavailable()))
    (tmp_path / "nginx").mkdir()
    tls = TlsFiles(pki / "server.pem", pki / "server.pem", client_ca=pki / "ca.pem")
    with Nginx(tmp_path / "nginx", status=202, tls=tls) as n:
        yield n


def scenario(tmp_path: Path, target: str) -> Path:
    assert EMBEDDED in SMOKE
    path = tmp_path / "s.toml"
    path.write_text(SMOKE.replace(EMBEDDED, target))
    return path


@pytest.mark.integration
@pytest.mark.slow
def test_run_over_mutual_tls_with_the_scenarios_tls_table(nginx: Nginx, tmp_path: Path) -> None:
    target = f'[target]\nkind = "http"\nurl = "https://localhost:{nginx.tls_port}/replies"\n'
    target += '[target.tls]\nca_file = "pki/ca.pem"\ncert_file = "pki/client.pem"\n'
    out = tmp_path / "run"
    code = main(["run", str(scenario(tmp_path, target)), "--out", str(out)])
    summary = json.loads((out / "summary.json").read_text())
    events = summary["events"]
    assert events["scheduled"] > 0
    assert events["acknowledged"] == events["scheduled"], events
    assert code in (0, 99)


def test_tls_flags_with_the_embedded_systems_exit_2(
    tmp_path: Path, pki: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["run", str(scenario(tmp_path, EMBEDDED)), "--out", str(tmp_path / "run")]
    assert main([*argv, "--ca-file", str(pki / "ca.pem")]) == 2
    err = capsys.readouterr().err
    assert ": --ca-file = " in err and "https:// --target" in err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("target", "flags", "named"),
    [
        ("http://127.0.0.1:9/x", ["--ca-file", "{pki}/ca.pem"], "--target"),
        ("https://127.0.0.1:9/x", ["--client-cert", "{pki}/nope.pem"], "--client-cert"),
    ],
)
def test_bad_tls_flags_exit_2_before_anything_is_built(
    tmp_path: Path,
    pki: Path,
    capsys: pytest.CaptureFixture[str],
    target: str,
    flags: list[str],
    named: str,
) -> None:
    argv = ["run", str(scenario(tmp_path, EMBEDDED)), "--out", str(tmp_path / "run")]
    argv += ["--target", target, *(f.format(pki=pki) for f in flags)]
    assert main(argv) == 2
    assert f": {named} = " in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


@pytest.mark.integration
def test_run_stops_at_the_preflight_before_building_anything(
    nginx: Nginx, tmp_path: Path, pki: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A wrong CA on the command line: exit 2 naming --ca-file, no event sent."""
    other = tmp_path / "other.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    argv = ["run", str(scenario(tmp_path, EMBEDDED)), "--out", str(tmp_path / "run")]
    argv += ["--target", f"https://localhost:{nginx.tls_port}/replies", "--ca-file", str(other)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert ": --ca-file = " in err and "certificate verify failed" in err
    assert not (tmp_path / "run").exists()
