"""Checked reading of untrusted tables (TOML files, JSON bodies, CLI values).

Theory of operation: input is checked once, at the boundary. A `Fields` wraps one
table together with where it came from (the file) and where it sits (the dotted field
path). Each accessor checks type and range and records the key as known; `done()` then
rejects any key nobody asked for, which is how misspellings are caught. Every failure is
an `InputError` naming the file, the field, the bad value and what is allowed.
"""

from __future__ import annotations

import builtins
import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

T = TypeVar("T")

_MISSING: Any = object()


class InputError(ValueError):
    """Bad input, named by source, field path, value and what is allowed."""

    def __init__(self, source: str, field: str, value: object, allowed: str) -> None:
        self.source = source
        self.field = field
        self.value = value
        self.allowed = allowed
        shown = "(missing)" if value is _MISSING else repr(value)
        super().__init__(f"{source}: {field} = {shown}: {allowed}")


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
        value = self._get(key, default)
        if value is None and default is None:
            return None
        if (
            isinstance(value, builtins.bool)
            or not isinstance(value, builtins.int | builtins.float)
            or math.isnan(value)
        ):
            raise self.fail(key, value, "must be a number")
        if lo_open and lo is not None and value <= lo:
            raise self.fail(key, value, f"must be a number > {lo:g}")
        _check_bounds(self, key, value, None if lo_open else lo, hi)
        return float(value)

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

    def timezone(self, key: builtins.str, default: Any = _MISSING) -> dt.tzinfo:
        name = self.str(key, default)
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
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
        shape = "must be a number or [low, high] or [low, likely, high] with low <= high"
        if isinstance(value, builtins.int | builtins.float) and not isinstance(
            value, builtins.bool
        ):
            parts = [float(value)] * 3
        elif (
            isinstance(value, list)
            and len(value) in (2, 3)
            and all(
                isinstance(v, builtins.int | builtins.float) and not isinstance(v, builtins.bool)
                for v in value
            )
        ):
            low, high = float(value[0]), float(value[-1])
            likely = float(value[1]) if len(value) == 3 else (low + high) / 2
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
