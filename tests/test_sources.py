"""Sources inside the project: no tracked file cites a file the repository does not hold,
and every row of every data CSV names where its number comes from.

A citation must be the primary source itself (publication, date), not a note kept
elsewhere: a reader of a clone can follow only what the clone contains. So:

- no tracked file mentions the calibration notes the figures were first gathered in
  (their names are built below so this file does not mention them either);
- every `simulator/...`, `tests/...` or `benchmarks/...` path, and every dotted name
  under `simulator`, that a document, a code comment or a docstring names exists (a
  glob must match something; a name must be a module or defined in its module);
- every row of `simulator/data/*.csv` has a non-empty `source` with a year, or an
  explicit "model assumption: <reason>".
"""

from __future__ import annotations

import ast
import csv
import io
import re
import subprocess
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTES = ("facts" + ".md", "design" + ".md")  # notes outside the repository
TEXT = {".py", ".md", ".toml", ".csv", ".txt", ".sh", ".cfg", ".ini", ".yml", ".yaml", ".lua"}
PATH = re.compile(r"(?<![\w./-])((?:simulator|tests|benchmarks)/[\w./*-]*[\w*])")
DOTTED = re.compile(r"(?<![\w.])simulator(?:\.\w+)+")
YEAR = re.compile(r"(?<!\d)(1[89]\d\d|20\d\d)(?!\d)")  # FY2022 counts
ASSUMPTION = re.compile(r"^model assumption: \S.{10,}", re.IGNORECASE)


def tracked() -> list[Path]:
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, text=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: the tracked files are unknown")
    files = [ROOT / name for name in out.split("\0") if name]
    return [f for f in files if f.suffix in TEXT and f.is_file()]


def prose(f: Path) -> list[tuple[int, str]]:
    """The (line number, text) a reader sees as documentation: every line of a document
    or data file, and the comments and docstrings of a Python file."""
    text = f.read_text("utf-8")
    if f.suffix != ".py":
        return list(enumerate(text.splitlines(), 1))
    out = [
        (tok.start[0], tok.string)
        for tok in tokenize.generate_tokens(io.StringIO(text).readline)
        if tok.type == tokenize.COMMENT
    ]
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            doc = ast.get_docstring(node, clean=False)
            if doc and node.body:
                first = node.body[0].lineno
                out += [(first + k, line) for k, line in enumerate(doc.splitlines())]
    return out


def _defined(dotted: str) -> bool:
    """Whether a dotted name under `simulator` is a module, a package or a name defined
    in one."""
    parts = dotted.split(".")
    for k in range(len(parts), 0, -1):
        base = ROOT.joinpath(*parts[:k])
        module = base.with_suffix(".py") if base.with_suffix(".py").is_file() else base
        if module.is_file() or module.is_dir():
            break
    else:
        return False
    if k == len(parts):
        return True
    if module.is_dir():
        module = module / "__init__.py"
        if not module.is_file():
            return False
    name = re.escape(parts[k])
    definition = rf"^\s*(?:async\s+)?(?:def|class)\s+{name}\b|^\s*{name}\s*[:=]|import .*\b{name}\b"
    return re.search(definition, module.read_text("utf-8"), re.MULTILINE) is not None


def _exists(path: str) -> bool:
    path = path.rstrip(".")
    if any(c in path for c in "*?["):
        return any(ROOT.glob(path))
    return (ROOT / path).exists()


def test_no_tracked_file_cites_notes_outside_the_repository() -> None:
    cited = [
        f"{f.relative_to(ROOT)}:{n}: {line.strip()[:100]}"
        for f in tracked()
        for n, line in enumerate(f.read_text("utf-8").splitlines(), 1)
        if any(note in line.lower() for note in NOTES)
    ]
    assert not cited, "cite the publication and date instead:\n" + "\n".join(cited)


def test_every_project_path_the_docs_name_exists() -> None:
    missing = [
        f"{f.relative_to(ROOT)}:{n}: {path}"
        for f in tracked()
        for n, line in prose(f)
        for path in PATH.findall(line)
        if not _exists(path)
    ]
    assert not missing, "paths that are not in the repository:\n" + "\n".join(missing)


def test_every_simulator_name_the_docs_give_is_defined() -> None:
    missing = [
        f"{f.relative_to(ROOT)}:{n}: {name}"
        for f in tracked()
        for n, line in prose(f)
        for name in DOTTED.findall(line)
        if not _defined(name.rstrip("."))
    ]
    assert not missing, "modules or names that do not exist:\n" + "\n".join(missing)


def _csv_rows() -> list[tuple[str, int, dict[str, str]]]:
    rows = []
    for path in sorted((ROOT / "simulator" / "data").glob("*.csv")):
        with path.open(encoding="utf-8", newline="") as f:
            for n, row in enumerate(csv.DictReader(f), 2):
                rows.append((path.name, n, row))
    return rows


def test_every_data_csv_has_a_source_column() -> None:
    for path in sorted((ROOT / "simulator" / "data").glob("*.csv")):
        with path.open(encoding="utf-8", newline="") as f:
            header = next(csv.reader(f))
        assert "source" in header, f"{path.name}: no source column in {header}"


def test_every_data_row_names_a_dated_source_or_a_reasoned_assumption() -> None:
    bad = [
        f"{name}:{n}: {row.get('source')!r}"
        for name, n, row in _csv_rows()
        if not (row.get("source") or "").strip()
        or not (YEAR.search(row["source"]) or ASSUMPTION.match(row["source"].strip()))
    ]
    assert not bad, "rows without a dated source or a 'model assumption:':\n" + "\n".join(bad)


def test_the_checks_catch_what_they_are_for() -> None:
    assert PATH.findall("see `simulator/no_such_module.py` and tests/x/y.py.") == [
        "simulator/no_such_module.py",
        "tests/x/y.py",
    ]
    assert not _exists("simulator/no_such_module.py") and _exists("simulator/data/*.csv")
    assert DOTTED.findall("by `simulator.content.render_reply(seed)`") == [
        "simulator.content.render_reply"
    ]
    assert not _defined("simulator.no_such_module.render_reply")
    assert not _defined("simulator.tokens.no_such_name")
    assert _defined("simulator.tokens.mint_token") and _defined("simulator.tokens")
    assert _defined("simulator.data")
    assert YEAR.search("OPM FedScope, Sep 2024") and not YEAR.search("FedScope §2")
    assert ASSUMPTION.match("model assumption: no published figure for this")
    assert not ASSUMPTION.match("assumption")


def test_every_data_row_has_as_many_fields_as_its_header() -> None:
    """An unquoted comma in a source would split it into extra fields, silently cut."""
    for path in sorted((ROOT / "simulator" / "data").glob("*.csv")):
        with path.open(encoding="utf-8", newline="") as f:
            rows = list(csv.reader(f))
        bad = [n for n, row in enumerate(rows[1:], 2) if len(row) != len(rows[0])]
        assert not bad, f"{path.name}: rows {bad} do not have {len(rows[0])} fields"
