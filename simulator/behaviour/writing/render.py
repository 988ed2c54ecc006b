"""Rendering: the body of an event, by joining the segments of its template.

Theory of operation: a template (`simulator.behaviour.writing.template`) is compiled
once per (template, family, spelling) into one f-string: constant texts, then for a
`Pick` its phrase table (resolved for the family) indexed by one digit, for a `Name`
the name given. Rendering an event draws the digits its template reads (`digits.draw`)
and evaluates that f-string, so a body costs what a hand-written f-string costs.

A spelling is how every piece is written: as is, or JSON-escaped, so a body goes into
a JSON document without a second pass over its bytes (JSON escapes character by
character, so escaped pieces concatenate to exactly the escaped body). `render_reply`
renders one event; `render_replies` draws a batch's digits with numpy (`digits.draw_np`,
the same digits) and then joins each body.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from json.encoder import encode_basestring_ascii

import numpy as np
import numpy.typing as npt

from simulator.behaviour.writing.digits import (
    SLOT,
    Plan,
    draw,
    draw_rows,
    key,
    keys_np,
    plan,
    radix_of,
    words_of,
)
from simulator.behaviour.writing.html import escape_name
from simulator.behaviour.writing.phrases import family_code, grammar
from simulator.behaviour.writing.template import Pick, Text, check, template_code, templates

I64 = npt.NDArray[np.int64]


def _as_is(text: str) -> str:
    return text


def _json_escaped(text: str) -> str:
    return encode_basestring_ascii(text)[1:-1]


def _escaped_json(text: str) -> str:
    return _json_escaped(escape_name(text))


_NAME_SPELLING: dict[tuple[bool, bool], Callable[[str], str]] = {  # (html, json)
    (False, False): str,
    (True, False): escape_name,
    (False, True): _json_escaped,
    (True, True): _escaped_json,
}


@dataclass(frozen=True)
class Compiled:
    """One template for one family and spelling, ready to fill in."""

    fill: Callable[[list[int], str, str], str]  # (digits, sender, co-worker) to the body
    plan: Plan  # the digits to draw
    spell: Callable[[str], str]  # how a name is written: HTML-escaped, JSON-escaped
    coworker: bool  # whether the body names a co-worker


@cache
def compiled(code: int, family: int, json: bool) -> Compiled:
    """Template `code` (see `template.template_code`) compiled for `family` and spelling.

    The result is one f-string expression: `{c3}` a constant text (adjacent texts
    merged), `{t5[p[7]]}` a pick, the entry of table `t5` at the digit in position 7 of
    the row `p` from `draw`, `{n}` the sender's name and `{w}` the co-worker's. A
    pick reads entry `digit % len(entries)`: its table is stored repeated up to the
    digit's radix, so the digit alone indexes it. The source holds only these names and
    numbers (the texts stay data in the namespace), so any text is safe in it."""
    t, tables = templates()[code], grammar().tables
    spell = _json_escaped if json else _as_is
    namespace: dict[str, object] = {}
    fields: list[str] = []
    slots: list[str] = []
    for segment in t.segments:
        if isinstance(segment, Text):
            text = spell(segment.text)
            if fields and fields[-1].startswith("{c"):
                namespace[fields[-1][1:-1]] = f"{namespace[fields[-1][1:-1]]}{text}"
            else:
                name = f"c{len(fields)}"
                namespace[name] = text
                fields.append(f"{{{name}}}")
        elif isinstance(segment, Pick):
            entries = tuple(spell(e) for e in tables[segment.table][family])
            radix = radix_of(segment.slot, family)
            name = f"t{len(fields)}"
            namespace[name] = tuple(entries[i % len(entries)] for i in range(radix))
            fields.append(f"{{{name}[p[{SLOT[segment.slot]}]]}}")
            slots.append(segment.slot)
        else:
            fields.append("{w}" if segment.coworker else "{n}")
    fill = eval(f'lambda p, n, w: f"{"".join(fields)}"', namespace)
    coworker = "{w}" in fields
    return Compiled(fill, plan(words_of(slots), family), _NAME_SPELLING[t.html, json], coworker)


@cache
def _compiled_for(content: str, violation: str, html: bool, family: int, json: bool) -> Compiled:
    return compiled(template_code(content, violation, html), family, json)


def _fill(c: Compiled, picks: list[int], name: str, coworker: str) -> str:
    return c.fill(picks, c.spell(name), c.spell(coworker) if c.coworker else coworker)


def render_reply(
    seed: int,
    event_id: int,
    content: str,
    violation: str,
    occupation: str,
    first_name: str,
    last_name: str,
    html: bool = False,
    json: bool = False,
    coworker: str = "",
) -> str:
    """The body of one reply, auto-reply or delivery report; same inputs, same text.

    `coworker` is the "First Last" a "coworker_name" body names (see `coworker_ids`).
    With `json`, the text comes JSON-escaped (ASCII, without the quotes)."""
    c = _compiled_for(content, violation, html, family_code(occupation), json)
    return _fill(c, draw(key(seed, event_id), c.plan), f"{first_name} {last_name}", coworker)


def render_replies(
    seed: int,
    event_ids: I64,
    contents: Sequence[str],
    violations: Sequence[str],
    family: I64,
    names: Sequence[str],
    html: Sequence[bool],
    json: bool = False,
    coworkers: Mapping[int, str] | None = None,
) -> list[str]:
    """`render_reply` for many events: digits drawn with numpy, then one format per body.

    `family` comes from `family_codes`, `names` are "First Last"; `coworkers` maps the
    position of each "coworker_name" event to the "First Last" it names (those events
    are rare, so only they appear). With `json`, each body comes JSON-escaped (ASCII,
    without the quotes), ready to go between two quotes.
    """
    for content, violation in set(zip(contents, violations, strict=True)):
        check(content, violation)
    rows = draw_rows(keys_np(seed, event_ids), family)
    named = coworkers or {}
    return [
        _fill(_compiled_for(c, v, h, f, json), p, name, named.get(k, ""))
        for k, (c, v, f, name, h, p) in enumerate(
            zip(contents, violations, family.tolist(), names, html, rows, strict=True)
        )
    ]
