"""Sizing without rendering: the exact UTF-8 size of many bodies, column-wise with numpy.

Theory of operation: a body is the concatenation of its template's segments
(`simulator.behaviour.writing.template`), so its size is the sum of their lengths. Each
template's constant text has one length; each distinct `Pick` (table, digit) and `Name`
(sender or co-worker, plain or HTML) is a *column*: its length for every event, a lookup
of the event's digit in the table's entry lengths (flattened over families, with each
family's offset). A template uses a column 0, 1 or more times, so a body's size is
`constant[template] + sum over columns of uses[column][template] * length[column]`; a
column few events have is computed only at those events. The digits are the ones
the renderer draws (`digits.draw_np`), so sizes and rendered bodies agree byte for byte
(phrases and markup are ASCII; names are measured in UTF-8 by `names.name_lengths`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt

from simulator.behaviour.writing.digits import LAYOUT, RADIX, U64, draw_np, keys_np
from simulator.behaviour.writing.phrases import grammar
from simulator.behaviour.writing.template import Pick, Text, template_codes, templates

I64 = npt.NDArray[np.int64]
BOOL = npt.NDArray[np.bool_]
SPARSE = 4  # a column at most 1/SPARSE of the events have is computed at those rows only


@dataclass(frozen=True)
class _Column:
    """What one distinct segment adds, and how often each template has it."""

    segment: Pick | tuple[bool, bool]  # a pick, or a name: (coworker, html)
    uses: I64  # by template code


@dataclass(frozen=True)
class _Plan:
    constant: I64  # bytes of constant text, by template code
    columns: tuple[_Column, ...]


@cache
def _plan() -> _Plan:
    ts = templates()
    constant = np.zeros(len(ts), dtype=np.int64)
    uses: dict[Pick | tuple[bool, bool], I64] = {}
    for code, t in enumerate(ts):
        for s in t.segments:
            if isinstance(s, Text):
                constant[code] += len(s.text.encode())
                continue
            segment = s if isinstance(s, Pick) else (s.coworker, t.html)
            uses.setdefault(segment, np.zeros(len(ts), dtype=np.int64))[code] += 1
    return _Plan(constant, tuple(_Column(s, u) for s, u in uses.items()))


@dataclass(frozen=True)
class _Lengths:
    """Entry lengths of one table, flattened over families."""

    flat: I64
    offset: I64  # by family code
    count: I64  # entries by family code
    shared: bool  # the same entries for every family


@cache
def _lengths(table: str) -> _Lengths:
    by_family = grammar().tables[table]
    flat = np.array([len(e.encode()) for f in by_family for e in f], dtype=np.int64)
    count = np.array([len(f) for f in by_family], dtype=np.int64)
    offset = np.concatenate([[0], np.cumsum(count)[:-1]]).astype(np.int64)
    shared = all(f is by_family[0] for f in by_family)
    return _Lengths(flat[: count[0]] if shared else flat, offset, count, shared)


def _at(values: I64, rows: I64 | None) -> I64:
    return values if rows is None else values[rows]


def _pick_lengths(p: Pick, digit: I64, family: I64, rows: I64 | None) -> I64:
    """Length of the entry `p` picks for each event at `rows` (None: every event)."""
    ln = _lengths(p.table)
    own = RADIX[p.slot] == p.table  # the digit was drawn below this table's length
    digit = _at(digit, rows)
    if ln.shared:
        picked: I64 = ln.flat[digit if own else digit % int(ln.count[0])]
        return picked
    fam = _at(family, rows)
    picked = ln.flat[ln.offset[fam] + (digit if own else digit % ln.count[fam])]
    return picked


def _rows(c: _Column, code: I64, counts: I64) -> I64 | None:
    """The events whose template has column `c`, or None when that is most of them:
    a column most events have is computed for every event and multiplied by its uses
    (0 where the template lacks it: every digit indexes its table, so the lookup is
    safe), as picking the rows out would cost more passes than it saves."""
    if counts[c.uses > 0].sum() > len(code) // SPARSE:
        return None
    return np.flatnonzero(c.uses[code])


def reply_sizes(
    seed: int,
    event_ids: I64,
    content: I64,
    violation: I64,
    family: I64,
    name_plain: I64,
    name_html: I64,
    html: BOOL,
    coworker_plain: I64 | None = None,
    coworker_html: I64 | None = None,
) -> I64:
    """Exact UTF-8 size of `render_reply` for many events, without rendering them.

    `content` and `violation` are indices into `columns.CONTENTS` / `VIOLATIONS`, `family`
    comes from `family_codes`, the name lengths from `name_lengths`; so do the lengths of
    the co-worker a "coworker_name" event names (read only there; none: an empty name).
    """
    plan = _plan()
    code = template_codes(content, violation, html)
    counts = np.bincount(code, minlength=len(plan.constant))
    present = counts > 0
    columns = [c for c in plan.columns if c.uses[present].any()]
    other_plain = np.zeros(len(code), dtype=np.int64) if coworker_plain is None else coworker_plain
    names = {
        (False, False): name_plain,
        (False, True): name_html,
        (True, False): other_plain,
        (True, True): other_plain if coworker_html is None else coworker_html,
    }
    keys: U64 = keys_np(seed, event_ids)
    sizes: I64 = plan.constant[code]
    dense: dict[bytes, tuple[I64, I64]] = {}  # uses by template: (uses, summed lengths)
    for offset in (None, *sorted({w.offset for w in LAYOUT})):  # names, then each word
        words = [] if offset is None else [w for w in LAYOUT if w.offset == offset]
        slots = {slot for w in words for slot, _ in w.digits}
        mine = [
            c
            for c in columns
            if (c.segment.slot in slots if isinstance(c.segment, Pick) else offset is None)
        ]
        digits = draw_np(keys, family, words) if words and mine else {}
        for c in mine:
            rows = _rows(c, code, counts)
            if isinstance(c.segment, Pick):
                length = _pick_lengths(c.segment, digits[c.segment.slot], family, rows)
            else:
                length = _at(names[c.segment], rows)
            if rows is not None:
                sizes[rows] += c.uses[code[rows]] * length
                continue
            key = c.uses.tobytes()
            if key in dense:
                dense[key][1][:] += length
            else:
                dense[key] = c.uses, length.copy()
    for uses, total in dense.values():  # one pass per set of templates, not per column
        once = uses[present]
        if (once == once[0]).all():  # every template present has these columns, as often
            sizes += int(once[0]) * total
        else:
            sizes += uses[code] * total
    return sizes
