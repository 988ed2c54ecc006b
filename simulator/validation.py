"""Checked reading of untrusted tables (TOML files, JSON bodies, CLI values).

Theory of operation: input is checked once, at the boundary. `load_toml` turns every way a
file can be unreadable (missing, a directory, too big, not UTF-8, bad syntax, nested too
deeply, a nan or inf anywhere) into an `InputError`. A `Fields` wraps one table together
with where it came from (the file) and where it sits (the dotted field path). Each
accessor checks type and range and records the key as known; `done()` then rejects any
key nobody asked for, which is how misspellings are caught. Numbers are always finite,
identifiers non-empty and printable. `finite_float` is the argparse type of every float
flag. Every failure is an `InputError` naming the file, the field, the bad value and
what is allowed, on one line however hostile the value.
"""

from __future__ import annotations

import argparse
import builtins
import datetime as dt
import math
import re
import reprlib
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

T = TypeVar("T")

_MISSING: Any = object()

MAX_TOML_BYTES = 16 * 1024 * 1024  # no scenario comes near; /dev/zero is refused
MAX_DEPTH = 32  # tables and arrays nested deeper than this are refused
MAX_ID_CHARS = 100
# One mailbox address, as it goes into an SMTP envelope: no spaces, control characters,
# angle brackets or second "@" (any of which would let a value add commands or headers).
_PLAIN_ADDRESS = re.compile(r"^[^\s<>@\x00-\x1f\x7f]+@[^\s<>@\x00-\x1f\x7f]+$")

_SHOWN = reprlib.Repr()
_SHOWN.maxstring = _SHOWN.maxother = 160
_SHOWN.maxlist = _SHOWN.maxdict = _SHOWN.maxtuple = _SHOWN.maxset = 12
_SHOWN.maxlevel = 3


def shown(value: object) -> str:
    """A value as an error message shows it: repr, bounded in length and depth, one line."""
    if value is _MISSING:
        return "(missing)"
    try:
        return _one_line(_SHOWN.repr(value))
    except Exception:  # a hostile __repr__ must not hide the error
        return f"<{type(value).__name__}>"


def _one_line(text: str, limit: int = 400) -> str:
    """Text with control characters escaped (so a message stays one line), bounded."""
    if not text.isprintable():
        text = "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class InputError(ValueError):
    """Bad input, named by source, field path, value and what is allowed."""

    def __init__(self, source: str, field: str, value: object, allowed: str) -> None:
        self.source = source
        self.field = field
        self.value = value
        self.allowed = allowed
        where = _one_line(str(field)) if str(field).strip() else repr(field)  # a key ""
        super().__init__(
            f"{_one_line(str(source))}: {where} = {shown(value)}: {_one_line(str(allowed), 2000)}"
        )


def is_plain_address(value: str) -> bool:
    """True for one mailbox address that is safe in an SMTP envelope and a header."""
    return bool(_PLAIN_ADDRESS.match(value))


def finite_float(text: str) -> float:
    """argparse type of every float flag: a number that is neither nan nor infinite."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{shown(text)}: must be a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{shown(text)}: must be a finite number (not nan or inf)")
    return value


AUTO = "auto"


def speedup_arg(text: str) -> float | str:
    """argparse type of --speedup: a finite number, or "auto" (chosen from a probe)."""
    return AUTO if text.strip().lower() == AUTO else finite_float(text)


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read and check a TOML file; any way it can be unreadable is an `InputError`."""
    source = str(path)
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_TOML_BYTES + 1)
    except FileNotFoundError:
        raise InputError(source, "(file)", source, "no such file") from None
    except IsADirectoryError:
        raise InputError(source, "(file)", source, "is a directory, not a TOML file") from None
    except OSError as err:
        raise InputError(source, "(file)", source, f"cannot be read: {err.strerror}") from None
    except ValueError:  # a NUL or an unencodable character in the path
        raise InputError(source, "(file)", source, "is not a usable file name") from None
    if len(raw) > MAX_TOML_BYTES:
        raise InputError(source, "(file)", source, f"is larger than {MAX_TOML_BYTES // 2**20} MiB")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InputError(
            source,
            "(encoding)",
            f"byte 0x{raw[err.start]:02x} at offset {err.start}",
            "must be UTF-8 text (TOML)",
        ) from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise InputError(source, "(syntax)", str(err), "must be valid TOML") from None
    except RecursionError:
        raise InputError(
            source, "(nesting)", "(too deep to parse)", f"must nest at most {MAX_DEPTH} levels"
        ) from None
    except ValueError as err:  # tomllib's own limits, e.g. an integer of 5,000 digits
        raise InputError(source, "(syntax)", str(err), "must be valid TOML") from None
    check_document(doc, source)
    return doc


def check_document(doc: Mapping[str, Any], source: str) -> None:
    """Refuse tables or arrays nested deeper than MAX_DEPTH and any nan or inf, anywhere."""
    stack: list[tuple[str, Any, int]] = [("", doc, 0)]
    while stack:
        path, value, depth = stack.pop()
        if isinstance(value, builtins.float) and not math.isfinite(value):
            raise InputError(source, path, value, "must be a finite number")
        if isinstance(value, Mapping | list):
            if depth > MAX_DEPTH:
                raise InputError(
                    source, path, "(nested table or array)", f"must nest at most {MAX_DEPTH} levels"
                )
            items = value.items() if isinstance(value, Mapping) else enumerate(value)
            for key, item in items:
                where = f"{path}[{key}]" if isinstance(key, builtins.int) else f"{path}.{key}"
                stack.append((where.lstrip("."), item, depth + 1))


def _as_float(value: Any) -> builtins.float | None:
    """A TOML/JSON number as a finite float, else None (bools, text, nan, inf, 1e400)."""
    if isinstance(value, builtins.bool) or not isinstance(value, builtins.int | builtins.float):
        return None
    try:
        number = builtins.float(value)
    except OverflowError:  # an integer beyond any float
        return None
    return number if math.isfinite(number) else None


@dataclass(frozen=True)
class Range:
    """An uncertain quantity: low and high ends, with a likely value between them."""

    low: float
    high: float
    likely: float

    @property
    def mid(self) -> float:
        return self.likely


class Fields:
    """One table of untrusted input; accessors check and consume keys."""

    def __init__(
        self, data: Mapping[str, Any], source: builtins.str, path: builtins.str = ""
    ) -> None:
        self._data = data
        self.source = source
        self.path = path
        self._seen: set[str] = set()

    # -- plumbing -------------------------------------------------------------------
    def where(self, key: builtins.str) -> builtins.str:
        return f"{self.path}.{key}" if self.path else key

    def fail(self, key: builtins.str, value: object, allowed: builtins.str) -> InputError:
        return InputError(self.source, self.where(key), value, allowed)

    def has(self, key: builtins.str) -> builtins.bool:
        return key in self._data

    def keys(self) -> list[str]:
        return list(self._data)

    def peek(self, key: builtins.str) -> Any:
        """The raw value, without consuming the key (for error messages)."""
        return self._data.get(key, _MISSING)

    def _get(self, key: builtins.str, default: Any) -> Any:
        self._seen.add(key)
        if key in self._data:
            return self._data[key]
        if default is _MISSING:
            raise self.fail(key, _MISSING, "this field is required")
        return default

    def done(self) -> None:
        """Reject keys that no accessor asked for (misspellings, stray fields)."""
        for key in self._data:
            if key not in self._seen:
                known = ", ".join(sorted(self._seen)) or "none"
                raise self.fail(key, self._data[key], f"unknown field; known fields: {known}")

    # -- scalars --------------------------------------------------------------------
    def str(
        self,
        key: builtins.str,
        default: Any = _MISSING,
        choices: Iterable[builtins.str] | None = None,
    ) -> Any:
        value = self._get(key, default)
        if value is default and default is not _MISSING:
            return value
        if not isinstance(value, builtins.str):
            raise self.fail(key, value, "must be a string")
        if choices is not None:
            allowed = list(choices)
            if value not in allowed:
                raise self.fail(key, value, f"must be one of: {', '.join(allowed)}")
        return value

    def bool(self, key: builtins.str, default: Any = _MISSING) -> Any:
        value = self._get(key, default)
        if not isinstance(value, builtins.bool):
            raise self.fail(key, value, "must be true or false")
        return value

    def int(
        self,
        key: builtins.str,
        default: Any = _MISSING,
        lo: builtins.int | None = None,
        hi: builtins.int | None = None,
    ) -> Any:
        value = self._get(key, default)
        if value is None and default is None:
            return None
        if isinstance(value, builtins.bool) or not isinstance(value, builtins.int):
            raise self.fail(key, value, "must be a whole number")
        _check_bounds(self, key, value, lo, hi)
        return value

    def float(
        self,
        key: builtins.str,
        default: Any = _MISSING,
        lo: builtins.float | None = None,
        hi: builtins.float | None = None,
        lo_open: builtins.bool = False,
    ) -> Any:
        raw = self._get(key, default)
        if raw is None and default is None:
            return None
        value = _as_float(raw)
        if value is None:
            raise self.fail(key, raw, "must be a number (finite: not nan or inf)")
        if lo_open and lo is not None and value <= lo:
            raise self.fail(key, raw, f"must be a number > {lo:g}")
        _check_bounds(self, key, value, None if lo_open else lo, hi, shown=raw)
        return value

    def share(self, key: builtins.str, default: Any = _MISSING) -> Any:
        """A fraction in 0..1."""
        return self.float(key, default, lo=0.0, hi=1.0)

    def datetime(self, key: builtins.str, tz: dt.tzinfo, default: Any = _MISSING) -> Any:
        """A local date-time (TOML or ISO text), placed in `tz` when it carries no zone."""
        value = self._get(key, default)
        if value is None and default is None:
            return None
        if isinstance(value, builtins.str):
            try:
                value = dt.datetime.fromisoformat(value)
            except ValueError:
                raise self.fail(
                    key, value, "must be a date-time like 2025-02-22T16:40:00"
                ) from None
        if not isinstance(value, dt.datetime):
            raise self.fail(key, value, "must be a date-time like 2025-02-22T16:40:00")
        return value.replace(tzinfo=tz) if value.tzinfo is None else value

    def line(self, key: builtins.str, default: Any = _MISSING) -> Any:
        """One line of printable text (it may go into a mail header)."""
        value = self.str(key, default)
        if isinstance(value, builtins.str) and not value.isprintable():
            raise self.fail(key, value, "must be one line of printable text, no control characters")
        return value

    def ident(self, key: builtins.str, default: Any = _MISSING) -> Any:
        """An identifier: a non-empty printable string (no control characters)."""
        value = self.str(key, default)
        if value is None and default is None:
            return None
        if not value or not value.isprintable() or value != value.strip():
            raise self.fail(
                key,
                value,
                "must be a non-empty identifier of printable characters "
                "(no control characters, no leading or trailing spaces)",
            )
        if len(value) > MAX_ID_CHARS:
            raise self.fail(key, value, f"must be at most {MAX_ID_CHARS} characters")
        return value

    def timezone(self, key: builtins.str, default: Any = _MISSING) -> dt.tzinfo:
        name = self.str(key, default)
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise self.fail(key, name, "must be an IANA time zone like America/New_York") from None

    def range(
        self,
        key: builtins.str,
        default: Any = _MISSING,
        lo: builtins.float | None = None,
        hi: builtins.float | None = None,
    ) -> Any:
        """An uncertain quantity: `[low, high]`, `[low, likely, high]` or a single number."""
        value = self._get(key, default)
        if isinstance(value, Range):
            return value
        shape = "must be a finite number or [low, high] or [low, likely, high] with low <= high"
        numbers = [_as_float(v) for v in value] if isinstance(value, list) else []
        if _as_float(value) is not None:
            parts = [builtins.float(value)] * 3
        elif len(numbers) in (2, 3) and all(v is not None for v in numbers):
            low, high = builtins.float(value[0]), builtins.float(value[-1])
            likely = builtins.float(value[1]) if len(value) == 3 else (low + high) / 2
            parts = [low, likely, high]
        else:
            raise self.fail(key, value, shape)
        if not parts[0] <= parts[1] <= parts[2]:
            raise self.fail(key, value, shape)
        for part in parts:
            _check_bounds(self, key, part, lo, hi, shown=value)
        return Range(low=parts[0], high=parts[2], likely=parts[1])

    def str_list(self, key: builtins.str, default: Any = _MISSING) -> Any:
        value = self._get(key, default)
        if not isinstance(value, list) or not all(isinstance(v, builtins.str) for v in value):
            raise self.fail(key, value, "must be a list of strings")
        return list(value)

    # -- nesting --------------------------------------------------------------------
    def table(self, key: builtins.str, required: builtins.bool = False) -> Fields:
        value = self._get(key, _MISSING if required else {})
        if not isinstance(value, Mapping):
            raise self.fail(key, value, "must be a table")
        return Fields(value, self.source, self.where(key))

    def tables(self, key: builtins.str, required: builtins.bool = False) -> list[Fields]:
        value = self._get(key, _MISSING if required else [])
        if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
            raise self.fail(key, value, "must be an array of tables ([[...]])")
        if required and not value:
            raise self.fail(key, value, "must hold at least one table")
        return [Fields(v, self.source, f"{self.where(key)}[{i}]") for i, v in enumerate(value)]

    def mapping(self, key: builtins.str) -> dict[builtins.str, Any]:
        """A free-form table whose keys the caller checks (for example agency codes)."""
        value = self._get(key, {})
        if not isinstance(value, Mapping):
            raise self.fail(key, value, "must be a table")
        return dict(value)


def _check_bounds(
    fields: Fields,
    key: str,
    value: float,
    lo: float | None,
    hi: float | None,
    shown: object = _MISSING,
) -> None:
    shown = value if shown is _MISSING else shown
    if lo is not None and hi is not None and not lo <= value <= hi:
        raise fields.fail(key, shown, f"must be between {lo:g} and {hi:g}")
    if lo is not None and value < lo:
        raise fields.fail(key, shown, f"must be >= {lo:g}")
    if hi is not None and value > hi:
        raise fields.fail(key, shown, f"must be <= {hi:g}")
