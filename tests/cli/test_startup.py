"""`pulsecheck --version`, `--help` and every `COMMAND --help` load no heavy library.

Each runs the real entry point in a fresh interpreter and reports which modules it
loaded (`sys.modules` at exit), so the check is exact: it does not depend on timing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from simulator.cli import STAGES

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("numpy", "pyarrow", "aiohttp", "matplotlib", "rich", "pandas", "faker", "hdrh")

# Run main() as `pulsecheck` does (after importing PROBE_IMPORT, if set), then print the
# top-level packages and the simulator modules that were loaded.
PROBE = """\
import atexit, importlib, json, os, sys
atexit.register(lambda: print(json.dumps(sorted({m.split('.')[0] for m in sys.modules}
    | {m for m in sys.modules if m.startswith('simulator.')})), file=sys.__stderr__))
if os.environ.get("PROBE_IMPORT"):
    importlib.import_module(os.environ["PROBE_IMPORT"])
from simulator.cli import main
sys.argv[0] = "pulsecheck"
sys.exit(main(sys.argv[1:]))
"""


def loaded(*argv: str, preload: str = "") -> tuple[int, str, set[str]]:
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONPATH": path, "PROBE_IMPORT": preload}
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *argv],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
    )
    modules = set(json.loads(proc.stderr.strip().splitlines()[-1]))
    return proc.returncode, proc.stdout, modules


@pytest.mark.parametrize("flag", ["--version", "--help", "-h"])
def test_top_level_flags_import_nothing_heavy(flag: str) -> None:
    code, out, modules = loaded(flag)
    assert code == 0 and "pulsecheck" in out
    assert not modules & set(HEAVY), sorted(modules & set(HEAVY))
    stages = {m for m in modules if m.startswith("simulator.cli.")}
    assert not stages, f"`pulsecheck {flag}` imported stage modules: {sorted(stages)}"


def test_a_command_loads_its_own_module_only() -> None:
    code, out, modules = loaded("validate", "scenarios/ci-smoke.toml")
    assert code == 0 and "ok: scenarios/ci-smoke.toml" in out
    assert {m for m in modules if m.startswith("simulator.cli.")} == {"simulator.cli.validate"}


@pytest.mark.parametrize("command", STAGES)
def test_command_help_imports_nothing_heavy(command: str) -> None:
    code, out, modules = loaded(command, "--help")
    assert code == 0 and "examples" in out
    assert not modules & set(HEAVY), sorted(modules & set(HEAVY))


def test_the_probe_sees_heavy_imports() -> None:
    """The probe is not blind: a module loaded before main is reported."""
    code, _, modules = loaded("--version", preload="numpy")
    assert code == 0 and "numpy" in modules


def test_unknown_command_is_bad_input() -> None:
    code, _, modules = loaded("no-such-command")
    assert code == 2 and not modules & set(HEAVY)


def test_serve_keeps_the_servers_defaults() -> None:
    """`serve` copies ServerSpec's flag defaults so its parser needs no aiohttp."""
    from simulator.cli import serve
    from simulator.collect.servers import ServerSpec

    for name in ("command_timeout", "data_timeout", "max_sessions_per_client"):
        assert getattr(serve.SpecDefaults, name) == getattr(ServerSpec, name), name
    assert serve.SpecDefaults.max_buffered_bytes == ServerSpec.max_buffered_bytes


def test_serve_keeps_the_apis_read_timeout() -> None:
    """`serve` copies the API's default read timeout so its parser needs no aiohttp."""
    from simulator.cli import serve
    from simulator.collect.api import DEFAULT_READ_TIMEOUT_S

    assert serve.DEFAULT_READ_TIMEOUT_S == DEFAULT_READ_TIMEOUT_S
