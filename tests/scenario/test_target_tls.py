"""[target.tls] in a scenario: paths relative to the scenario file, files that must exist,
and only with an https:// url of the user's own endpoint."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.scenario import load_scenario
from simulator.validation import InputError

ROOT = Path(__file__).resolve().parents[2]
SMOKE = (ROOT / "scenarios" / "ci-smoke.toml").read_text()
EMBEDDED = '[target]\nkind = "embedded"\nprotocol = "smtp"\n'


def scenario(tmp_path: Path, target: str) -> Path:
    assert EMBEDDED in SMOKE
    (tmp_path / "pki").mkdir(exist_ok=True)
    for name in ("ca.pem", "client.pem", "client.key"):
        (tmp_path / "pki" / name).write_text("PEM\n")
    path = tmp_path / "s.toml"
    path.write_text(SMOKE.replace(EMBEDDED, target))
    return path


HTTPS = '[target]\nkind = "http"\nurl = "https://localhost:8443/replies"\n'


def test_paths_are_relative_to_the_scenario_file(tmp_path: Path) -> None:
    tls = '[target.tls]\nca_file = "pki/ca.pem"\ncert_file = "pki/client.pem"\n'
    tls += 'key_file = "pki/client.key"\nserver_name = "collect.pulsecheck.test"\n'
    target = load_scenario(scenario(tmp_path, HTTPS + tls)).target
    assert target.url == "https://localhost:8443/replies"
    assert target.tls.ca_file == tmp_path / "pki" / "ca.pem"
    assert target.tls.cert_file == tmp_path / "pki" / "client.pem"
    assert target.tls.key_file == tmp_path / "pki" / "client.key"
    assert target.tls.server_name == "collect.pulsecheck.test"


def test_an_https_url_needs_no_tls_table(tmp_path: Path) -> None:
    target = load_scenario(scenario(tmp_path, HTTPS)).target
    assert target.kind == "http" and target.tls.ca_file is None


@pytest.mark.parametrize(
    ("target", "field", "says"),
    [
        (HTTPS + '[target.tls]\nca_file = "pki/nope.pem"\n', "target.tls.ca_file", "not found"),
        (HTTPS + '[target.tls]\nkey_file = "pki/client.key"\n', "target.tls.key_file",
         "needs cert_file"),
        (HTTPS + '[target.tls]\nca = "pki/ca.pem"\n', "target.tls.ca", "unknown field"),
        (HTTPS + "[target.tls]\nca_file = 3\n", "target.tls.ca_file", "must be a string"),
        (HTTPS.replace("https", "http") + '[target.tls]\nca_file = "pki/ca.pem"\n',
         "target.tls", "needs an https:// url"),
        (EMBEDDED + '[target.tls]\nca_file = "pki/ca.pem"\n', "target.tls",
         "needs an https:// url"),
        (HTTPS.replace("https", "ftp"), "target.url", "must start with http:// or https://"),
    ],
)  # fmt: skip
def test_bad_tls_tables_name_the_field(tmp_path: Path, target: str, field: str, says: str) -> None:
    path = scenario(tmp_path, target)
    with pytest.raises(InputError) as err:
        load_scenario(path)
    assert err.value.source == str(path)
    assert err.value.field == field
    assert says in str(err.value)
