"""Fuzzing the boundaries: scenario files and command-line flags.

Scenario documents are the shipped scenarios (scenarios/*.toml) mutated: values replaced
by other types or by hostile numbers and strings, keys deleted, added and renamed, array
elements repeated (duplicate ids), values nested deeper, and the bytes re-encoded,
truncated or spliced. Each is checked by the real `pulsecheck validate`. Flags are random
values for every flag of `validate`, `schedule`, `replay`, `run` and `cost`; the last four
only reach their parsing and checking functions, never a replay or a server.

The property: success, or exit 2 with one line naming the file or flag; never a
traceback. No name is ever looked up: the resolver is replaced by one that knows only
localhost, so a random --target cannot send a DNS query off the machine.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import copy
import datetime as dt
import io
import ipaddress
import re
import shutil
import socket
import tempfile
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator import safety
from simulator.app.running import plan_run
from simulator.app.scenarios import load_any
from simulator.app.stages import plan_schedule
from simulator.cli import build_parser, main
from simulator.cli import cost as cost_cli
from simulator.cli import replay as replay_cli
from simulator.cli import run as run_cli
from simulator.cli import schedule as schedule_cli
from simulator.scenario import load_scenario
from simulator.validation import InputError, finite_float

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted((ROOT / "scenarios").glob("*.toml"))
DOCS = [tomllib.loads(p.read_text()) for p in SHIPPED]
FUZZ = settings(
    max_examples=150,
    deadline=None,  # no timing is asserted; the budget is the example count
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
SCRATCH = Path(tempfile.mkdtemp(prefix="pulsecheck-fuzz-"))
atexit.register(shutil.rmtree, SCRATCH, ignore_errors=True)


# -- TOML writing (the standard library only reads it) ------------------------------------


def _string(text: str) -> str:
    out = []
    for c in text:
        if c in '"\\':
            out.append("\\" + c)
        elif ord(c) < 0x20 or ord(c) == 0x7F:
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return (
            "nan" if v != v else "inf" if v == float("inf") else "-inf" if v < -1e308 else repr(v)
        )
    if isinstance(v, str):
        return _string(v)
    if isinstance(v, dt.datetime | dt.date | dt.time):
        return v.isoformat()
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_string(k)} = {_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(type(v))


def dump(doc: dict[str, Any]) -> str:
    return "".join(f"{_string(k)} = {_value(v)}\n" for k, v in doc.items())


def test_writer_round_trips_the_shipped_scenarios() -> None:
    for doc in DOCS:
        assert tomllib.loads(dump(doc)) == doc


# -- mutations -----------------------------------------------------------------------

TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
HOSTILE_TEXT = st.sampled_from(
    [
        *("", " ", "r1", "opm-hr", "DOD", "*", "x\x07", "a\nb", "hr@opm.example"),
        *("HR@OPM.EXAMPLE", "< 1e999", "== 0", "< 1" + "0" * 400, "America/New_York"),
        *("Mars/Olympus", "../x", "reply-all", "mass-reply", "embedded", "a" * 300),
    ]
)
SCALARS = (
    st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats()
    | st.sampled_from([float("nan"), float("inf"), -float("inf"), 1e308, -0.0, 0.0, 1e-320])
    | TEXT
    | HOSTILE_TEXT
    | st.datetimes(max_value=dt.datetime(9000, 1, 1))
    | st.datetimes(timezones=st.just(dt.UTC), max_value=dt.datetime(9000, 1, 1))
    | st.dates()
    | st.times()
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=6,
)


def _containers(doc: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Paths of every table and array in the document, the document itself first."""
    yield path
    items = doc.items() if isinstance(doc, dict) else enumerate(doc)
    for key, value in items:
        if isinstance(value, dict | list):
            yield from _containers(value, (*path, key))


def _at(doc: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        doc = doc[key]
    return doc


@st.composite
def mutated_documents(draw: st.DrawFn) -> dict[str, Any]:
    doc = copy.deepcopy(draw(st.sampled_from(DOCS)))
    for _ in range(draw(st.integers(1, 4))):
        paths = list(_containers(doc))
        box = _at(doc, draw(st.sampled_from(paths)))
        keys = list(box) if isinstance(box, dict) else list(range(len(box)))
        op = draw(
            st.sampled_from(
                ["replace", "replace", "delete", "add", "rename", "repeat", "nest", "number"]
            )
        )
        if op == "add" or not keys:
            if isinstance(box, dict):
                box[draw(TEXT | HOSTILE_TEXT)] = draw(VALUES)
            else:
                box.append(draw(VALUES))
            continue
        key = draw(st.sampled_from(keys))
        if op == "replace":
            box[key] = draw(VALUES)
        elif op == "delete":
            del box[key]
        elif op == "rename" and isinstance(box, dict):
            box[draw(TEXT | HOSTILE_TEXT)] = box.pop(key)
        elif op == "repeat" and isinstance(box, list):
            box.append(copy.deepcopy(box[key]))  # e.g. a second round with the same id
        elif op == "nest":
            box[key] = draw(st.sampled_from([[box[key]], {"x": box[key]}]))
        elif op == "number":
            box[key] = draw(
                st.sampled_from([float("nan"), float("inf"), -1, 0, 10**400, 1e300, -1e-9])
            )
    return doc


@st.composite
def scenario_bytes(draw: st.DrawFn) -> bytes:
    raw = dump(draw(mutated_documents())).encode("utf-8")
    how = draw(st.sampled_from(["utf-8"] * 6 + ["bom", "utf-16", "latin-1", "cut", "splice"]))
    if how == "bom":
        return b"\xef\xbb\xbf" + raw
    if how == "utf-16":
        return raw.decode().encode("utf-16")
    if how == "latin-1":
        return raw.decode().encode("latin-1", errors="replace") + b"\xe9\xff"
    if how == "cut":
        return raw[: draw(st.integers(0, len(raw)))]
    if how == "splice":
        at = draw(st.integers(0, len(raw)))
        return raw[:at] + draw(st.binary(min_size=1, max_size=8)) + raw[at:]
    return raw


@contextlib.contextmanager
def captured() -> Iterator[tuple[io.StringIO, io.StringIO]]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        yield out, err


@FUZZ
@given(scenario_bytes())
def test_validate_any_scenario_file(data: bytes) -> None:
    path = SCRATCH / "fuzzed.toml"
    path.write_bytes(data)
    with captured() as (out, err):
        code = main(["validate", str(path)])
    assert code in (0, 2)
    if code == 0:
        assert out.getvalue().startswith(f"ok: {path} ")
        return
    lines = err.getvalue().splitlines()
    assert len(lines) == 1, err.getvalue()
    assert lines[0].startswith(f"error: {path}: "), lines[0]
    assert re.match(rf"error: {re.escape(str(path))}: \S.* = .+: .+", lines[0]), lines[0]


# -- flags ----------------------------------------------------------------------------


@pytest.fixture
def no_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only IP literals and localhost resolve; no query leaves the machine."""

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        name = str(host).strip("[]")
        if name.lower() == "localhost":
            name = "127.0.0.1"
        try:
            address = ipaddress.ip_address(name)
        except ValueError:
            raise socket.gaierror(socket.EAI_NONAME, "fuzz: no DNS") from None
        family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
        return [(family, socket.SOCK_STREAM, 6, "", (str(address), 0))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(safety, "_CHECKED", {})


ARG_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"))
NUMBERS = st.sampled_from(
    [
        *("nan", "NaN", "inf", "-inf", "1e999", "-1", "0", "1", "0.5", "1e308", "2", "64"),
        *("1e7", "9" * 30, "0x10", " 1", "1_000", "", "-0", "1e-320", "100001", "65536"),
    ]
)
PATHS = st.sampled_from(
    [str(p) for p in SHIPPED]
    + ["/", ".", "scenarios", "README.md", "pyproject.toml", "/nonexistent/x", "/dev/null"]
    + [str(SCRATCH / "out.parquet"), str(SCRATCH)]
)
TARGETS = st.sampled_from(
    [
        *("http://127.0.0.1:9/replies", "smtp://localhost:2525", "http://[::1]:0/", "ftp://x/"),
        *("http://192.0.2.1/", "http://rebind.test:80/", "smtp://127.0.0.1:99999", "http://:80/"),
    ]
)
FLAG_VALUES = NUMBERS | PATHS | TARGETS | ARG_TEXT


PARSER = build_parser()  # argparse parsers can parse again and again


def _subparser(command: str) -> argparse.ArgumentParser:
    action = next(a for a in PARSER._actions if isinstance(a, argparse._SubParsersAction))
    sub: argparse.ArgumentParser = action.choices[command]
    return sub


def _values_for(action: argparse.Action) -> st.SearchStrategy[str]:
    """Mostly the kind of value the flag takes (so the checks after parsing are reached),
    sometimes anything at all."""
    if action.choices:
        likely: st.SearchStrategy[str] = st.sampled_from([str(c) for c in action.choices])
    elif action.type in (int, finite_float):
        likely = NUMBERS
    elif any(word in action.dest for word in ("target", "host")):
        likely = TARGETS
    elif action.type is Path or not action.option_strings:
        likely = PATHS
    else:
        likely = FLAG_VALUES
    return st.one_of(likely, likely, likely, FLAG_VALUES)


@st.composite
def argv_for(draw: st.DrawFn, command: str) -> list[str]:
    argv = [command]
    for action in _subparser(command)._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        if not action.option_strings:  # a positional: always there, but random
            count = 1 if action.nargs is None else draw(st.integers(1, 3))
            argv += [draw(_values_for(action)) for _ in range(count)]
            continue
        if not draw(st.booleans() | st.just(action.required)):
            continue
        flag = draw(st.sampled_from(action.option_strings))
        if action.nargs == 0:
            argv.append(flag)
        else:
            value = draw(_values_for(action))
            argv += [f"{flag}={value}"] if draw(st.booleans()) else [flag, value]
    return argv


def _check_schedule(args: argparse.Namespace) -> None:
    plan_schedule(schedule_cli.request_from(args))


def _check_run(args: argparse.Namespace) -> None:
    """What `pulsecheck run` checks before it starts anything: the file and the plan."""
    request = run_cli.request_from(args)
    plan_run(request, load_any(request.scenario), SCRATCH / "run")


def _check_cost(args: argparse.Namespace) -> None:
    load_scenario(args.scenario)
    cost_cli._check_flags(args)


CHECKS: dict[str, Callable[[argparse.Namespace], Any]] = {
    "schedule": _check_schedule,
    "replay": replay_cli.check_args,
    "run": _check_run,
    "cost": _check_cost,
}


def _refusal_is_one_line(err: str, command: str) -> None:
    lines = err.strip().splitlines()
    assert lines, "exit 2 without a message"
    assert "Traceback" not in err
    # argparse's own refusals come from the subcommand, or the top level (unknown flags)
    assert re.match(rf"pulsecheck( {command})?: error: \S", lines[-1]), err


@FUZZ
@pytest.mark.parametrize("command", sorted(CHECKS))
@given(data=st.data())
def test_flags_are_checked_before_any_work(no_dns: None, command: str, data: st.DataObject) -> None:
    argv = data.draw(argv_for(command))
    with captured() as (_, err):
        try:
            args = PARSER.parse_args(argv)
        except SystemExit as stop:
            assert stop.code == 2
            _refusal_is_one_line(err.getvalue(), command)
            return
    try:
        CHECKS[command](args)
    except InputError as error:
        message = f"pulsecheck {command}: error: {error}"
        assert "\n" not in message and "\r" not in message, message
        if error.source == "command line":  # a flag's error names the flag (or its dest)
            named = error.field.startswith("--") or error.field.isupper()
            assert named or error.field in vars(args), message


@FUZZ
@given(data=st.data())
def test_validate_any_arguments(no_dns: None, data: st.DataObject) -> None:
    argv = data.draw(argv_for("validate"))
    with captured() as (out, err):
        try:
            code = main(argv)
        except SystemExit as stop:
            code = int(stop.code or 0)
            assert code == 2
            _refusal_is_one_line(err.getvalue(), "validate")
            return
    assert code in (0, 2)
    for line in err.getvalue().splitlines():
        assert line.startswith("error: ") and " = " in line, err.getvalue()
    files = [arg for arg in argv[1:] if arg != "--timing-fit"]
    lines = out.getvalue().splitlines()
    if "--timing-fit" in argv:  # each good mass-reply file is followed by its fit table
        lines = [line for line in lines if line.startswith("ok: ")]
    assert len(lines) + len(err.getvalue().splitlines()) == len(files)
