"""The reply template, described once: every body as a list of segments.

Theory of operation: a body is a concatenation of segments of three sorts:

- `Text`: constant text (markup, line breaks, the quoted original, the sensitive statement);
- `Pick`: entry `digit % len(table)` of a phrase table (the sender's family's table where
  tables depend on the occupation), `digit` being one of the hashed digits of
  `simulator.behaviour.writing.digits` (a digit drawn with that table's length as radix is
  already below it);
- `Name`: the sender's "First Last", or the co-worker's a "coworker_name" body names.

`templates()` lists the segments of every kind of body: per content kind, per violation
for "bullets" (only bullets bodies break rules), and plain or HTML for the kinds a person
writes (auto-replies, delivery reports and list posts are always plain). This is the only
place the structure of a body is written: `render` joins the segments of one event,
`sizing` sums their lengths column-wise for many events, so the two cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt

from simulator.behaviour.writing.digits import BULLETS
from simulator.behaviour.writing.html import (
    BR,
    ELI,
    EP,
    EUL,
    HTML_HEAD,
    HTML_TAIL,
    LI,
    SIG_NAME_END,
    SIG_OPEN,
    SIG_TAIL,
    UL,
    P,
)
from simulator.behaviour.writing.phrases import CRLF, grammar
from simulator.columns import CONTENTS, VIOLATIONS
from simulator.rules import SENSITIVE_STATEMENT

I64 = npt.NDArray[np.int64]
BOOL = npt.NDArray[np.bool_]

QUOTED_ORIGINAL_TEXT = (
    "From: HR <hr@opm.example>"
    + CRLF
    + "Subject: What did you do last week?"
    + CRLF
    + "Importance: High"
    + CRLF
    + CRLF
    + "Please reply to this email with approximately 5 bullets of what you accomplished "
    + "last week and cc your manager."
    + CRLF
    + CRLF
    + "Please do not send any classified information, links, or attachments."
    + CRLF
    + CRLF
    + "Deadline is this Monday at 11:59pm EST."
    + CRLF
)
PLAIN_QUOTE = CRLF + "-----Original Message-----" + CRLF + QUOTED_ORIGINAL_TEXT
DSN_HEAD = "Delivery has failed to these recipients or groups:" + CRLF + CRLF
WRITTEN = ("bullets", "sensitive", "form_letter")  # kinds a person writes: plain or HTML
MACHINE = ("auto_reply", "dsn", "reply_all")  # short texts, always plain
RENDERED = WRITTEN + MACHINE


@dataclass(frozen=True)
class Text:
    """Constant text."""

    text: str


@dataclass(frozen=True)
class Pick:
    """Entry `digit[slot] % len(table)` of the sender's family's phrase table `table`."""

    table: str
    slot: str


@dataclass(frozen=True)
class Name:
    """The sender's "First Last" (HTML-escaped in HTML), or with `coworker` the co-worker's."""

    coworker: bool = False


Segment = Text | Pick | Name


@dataclass(frozen=True)
class Template:
    """The segments of one kind of body."""

    content: str
    violation: str  # "" for every kind but "bullets"
    html: bool
    segments: tuple[Segment, ...]


# -- the description ---------------------------------------------------------------------
SENDER = Name()
EXTRA_LINE = {"link": "links", "attachment": "attachments"}  # violation: table of its line


def _qualifier(b: int, violation: str) -> tuple[Segment, ...]:
    """Bullet 2 names a drug or contract, bullet 3 a co-worker, when the body breaks
    that rule; otherwise a bullet ends with a qualifier."""
    if b == 2 and violation == "drug_or_contract":
        return (Pick("drug_or_contract", "detail"),)
    if b == 3 and violation == "coworker_name":
        return (Pick("coworker_before", "detail"), Name(True), Pick("coworker_after", "detail"))
    return (Pick("qualifiers", f"qualifier{b}"),)


def _bullets(violation: str, opening: str, ending: str) -> tuple[Segment, ...]:
    """The five "<verb> <object> <qualifier>" items, each between `opening` and `ending`."""
    items: list[Segment] = []
    for b in range(1, BULLETS + 1):
        items += [Text(opening), Pick("verbs", f"verb{b}"), Text(" ")]
        items += [Pick("objects", f"object{b}"), Text(" "), *_qualifier(b, violation), Text(ending)]
    return tuple(items)


def _plain(content: str, violation: str) -> tuple[Segment, ...]:
    marking = (Pick("markings", "detail"), Text(CRLF + CRLF))
    top = marking if violation == "classification" else ()
    extra = EXTRA_LINE.get(violation)
    if content == "bullets":
        blocks = (
            Pick("intros", "intro"),
            Text(CRLF),
            *_bullets(violation, "- ", "." + CRLF),
            *((Pick(extra, "detail"), Text(CRLF)) if extra else ()),
        )
    elif content == "sensitive":
        blocks = (Text(SENSITIVE_STATEMENT + CRLF),)
    else:
        blocks = (Text(grammar().form_letter + CRLF),)
    return (
        *top,
        Pick("greetings", "greeting"),
        Text(CRLF + CRLF),
        *blocks,
        Text(CRLF),
        Pick("closings", "closing"),
        Text(CRLF),
        SENDER,
        Text(CRLF),
        Pick("titles", "title"),
        Text(CRLF + PLAIN_QUOTE),
    )


def _html(content: str, violation: str) -> tuple[Segment, ...]:
    marking = (Text(P + "<b>"), Pick("markings", "detail"), Text("</b>" + EP))
    top = marking if violation == "classification" else ()
    extra = EXTRA_LINE.get(violation)
    if content == "bullets":
        blocks = (
            Text(P),
            Pick("intros", "intro"),
            Text(EP + UL),
            *_bullets(violation, LI, ELI),
            Text(EUL),
            *((Text(P), Pick(extra, "detail"), Text(EP)) if extra else ()),
        )
    elif content == "sensitive":
        blocks = (Text(P + SENSITIVE_STATEMENT + EP),)
    else:
        blocks = (Text(P + grammar().form_letter.replace(CRLF, BR) + EP),)
    return (
        Text(HTML_HEAD),
        *top,
        Text(P),
        Pick("greetings", "greeting"),
        Text(EP),
        *blocks,
        Text(P),
        Pick("closings", "closing"),
        Text(SIG_OPEN),
        SENDER,
        Text(SIG_NAME_END),
        Pick("titles", "title"),
        Text(BR + SIG_TAIL + EP + HTML_TAIL),
    )


_MACHINE: dict[str, tuple[Segment, ...]] = {
    "auto_reply": (Pick("auto_replies", "machine"), Text(CRLF + CRLF), SENDER, Text(CRLF)),
    "dsn": (Text(DSN_HEAD), SENDER, Text(CRLF + CRLF), Pick("dsn", "machine")),
    "reply_all": (Pick("reply_all", "machine"), Text(CRLF + CRLF), SENDER, Text(CRLF)),
}


@cache
def templates() -> tuple[Template, ...]:
    """Every kind of body, in template-code order."""
    out = [
        Template(c, v, html, (_html if html else _plain)(c, v))
        for c in WRITTEN
        for v in (VIOLATIONS if c == "bullets" else ("",))
        for html in (False, True)
    ]
    out += [Template(c, "", False, _MACHINE[c]) for c in MACHINE]
    return tuple(out)


# -- which template a body uses ----------------------------------------------------------
def check(content: str, violation: str) -> None:
    """Refuse a content kind that has no reply body, or an unknown violation."""
    if content not in RENDERED:
        raise ValueError(f"content {content!r}: must be one of {', '.join(RENDERED)}")
    if violation not in VIOLATIONS:
        raise ValueError(f"violation {violation!r}: must be one of {VIOLATIONS}")


@cache
def _codes() -> dict[tuple[str, str, bool], int]:
    return {(t.content, t.violation, t.html): i for i, t in enumerate(templates())}


def template_code(content: str, violation: str, html: bool) -> int:
    """Index into `templates()` of a body: violations only change "bullets" bodies, and
    only written kinds can be HTML."""
    check(content, violation)
    bullets, written = content == "bullets", content in WRITTEN
    return _codes()[content, violation if bullets else "", html and written]


@cache
def _code_table() -> I64:
    """Template code by (CONTENTS index, VIOLATIONS index, html); -1: no reply body."""
    table = np.full((len(CONTENTS), len(VIOLATIONS), 2), -1, dtype=np.int64)
    for c, content in enumerate(CONTENTS):
        for v, violation in enumerate(VIOLATIONS):
            for html in (False, True):
                if content in RENDERED:
                    table[c, v, int(html)] = template_code(content, violation, html)
    return table


def template_codes(content: I64, violation: I64, html: BOOL) -> I64:
    """`template_code` for many events: `content` and `violation` index `columns.CONTENTS`
    and `columns.VIOLATIONS`; a content without a reply body raises ValueError."""
    codes: I64 = _code_table()[content, violation, html.astype(np.int64)]
    if (codes < 0).any():
        bad = CONTENTS[int(content[np.argmax(codes < 0)])]
        raise ValueError(f"content {bad!r}: must be one of {', '.join(RENDERED)}")
    return codes
