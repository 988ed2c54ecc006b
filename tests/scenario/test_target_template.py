"""A scenario's [target.request], [target.response] and [target.auth]: checked on load."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.app.scenarios import load_any
from simulator.cli import main

ROOT = Path(__file__).resolve().parents[2]
SMOKE = (ROOT / "scenarios" / "ci-smoke.toml").read_text()
EMBEDDED = '[target]\nkind = "embedded"\nprotocol = "smtp"\n'
EXTERNAL = """[target]
kind = "http"
url = "http://127.0.0.1:9000/intake"

[target.request]
path = "/v1/{agency}"
body = { who = "{sender}", lines = "{bullets}" }

[target.response]
reason_field = "error.code"

[target.auth]
type = "bearer"
token_file = "intake.token"
"""


def scenario(tmp_path: Path, target: str) -> Path:
    assert EMBEDDED in SMOKE
    path = tmp_path / "s.toml"
    path.write_text(SMOKE.replace(EMBEDDED, target))
    return path


def test_template_tables_load_and_resolve_paths_beside_the_file(tmp_path: Path) -> None:
    loaded = load_any(scenario(tmp_path, EXTERNAL))
    template = loaded.target.template  # type: ignore[union-attr]
    assert template is not None and set(template) == {"request", "response", "auth"}
    assert main(["validate", str(tmp_path / "s.toml")]) == 0


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (('lines = "{bullets}"', 'lines = "{bulets}"'), "target.request.body.lines"),
        (('reason_field = "error.code"', "retry = 429"), "target.response.retry"),
        (('token_file = "intake.token"', 'token = "t0k"'), "target.auth.token"),
        (('kind = "http"', 'kind = "smtp"'), "target.url"),
    ],
)
def test_validate_names_the_bad_template_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], edit: tuple[str, str], field: str
) -> None:
    path = scenario(tmp_path, EXTERNAL.replace(*edit))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and f"{field} =" in err
    assert "t0k" not in err


def test_template_tables_need_an_http_target(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = scenario(tmp_path, EMBEDDED + '\n[target.auth]\ntype = "bearer"\ntoken_env = "T"\n')
    assert main(["validate", str(path)]) == 2
    assert "target.auth" in capsys.readouterr().err
