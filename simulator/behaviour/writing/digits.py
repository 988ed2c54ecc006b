"""Hashed digits: every choice a body makes, drawn from (seed, event id) without state.

Theory of operation: an event's key is SplitMix64(SplitMix64(seed) ^ event id) (Steele,
Lea & Flood, OOPSLA 2014), and word k of the event is SplitMix64(key + k). A `Word` reads
one such word as a mixed-radix number: its digits, least significant first, are its
choices in order (a greeting among the greetings, then an intro among the intros, ...).
A digit's radix is the length of the phrase table it picks from, for the sender's family
where the table depends on the occupation, or a constant (`DETAIL_BASE`). Two `Word`s
may read the same word. `LAYOUT` is the one list of digits; `draw` reads some of them
for one event in plain Python, `draw_np` for many events with numpy: the same digits.
Word `HTML_WORD`, read as a uniform number in [0, 1), decides HTML or plain text.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt

from simulator.behaviour.writing.phrases import grammar

I64 = npt.NDArray[np.int64]
U64 = npt.NDArray[np.uint64]
BOOL = npt.NDArray[np.bool_]

MASK = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15  # SplitMix64 constants
_MUL1 = 0xBF58476D1CE4E5B9
_MUL2 = 0x94D049BB133111EB
DETAIL_BASE = 840  # divisible by 2, 3, 4, 5, 6, 7, 8: uniform picks from small tables
BULLETS = 5
HTML_WORD = 6  # word whose top 53 bits decide plain text or HTML


@dataclass(frozen=True)
class Word:
    """The digits read from word `offset` of an event: (slot name, radix) each, where
    the radix is a phrase table's name (its length) or a constant."""

    offset: int
    digits: tuple[tuple[str, str | int], ...]


LAYOUT: tuple[Word, ...] = (
    Word(
        0,
        (
            ("greeting", "greetings"),
            ("intro", "intros"),
            ("closing", "closings"),
            ("title", "titles"),
            ("detail", DETAIL_BASE),  # which link, marking, attachment, co-worker phrase
        ),
    ),
    Word(0, (("machine", DETAIL_BASE),)),  # which auto-reply, list post, delivery report
    *(
        Word(b, ((f"verb{b}", "verbs"), (f"object{b}", "objects"), (f"qualifier{b}", "qualifiers")))
        for b in range(1, BULLETS + 1)
    ),
)
SLOTS: tuple[str, ...] = tuple(slot for word in LAYOUT for slot, _ in word.digits)
SLOT = {slot: i for i, slot in enumerate(SLOTS)}  # position of a slot in a row of picks
ZERO = len(SLOTS)  # a position of a row of picks that is always 0
RADIX = {slot: radix for word in LAYOUT for slot, radix in word.digits}


# -- SplitMix64 --------------------------------------------------------------------------
def mix(x: int) -> int:
    x = (x + _GOLDEN) & MASK
    x = ((x ^ (x >> 30)) * _MUL1) & MASK
    x = ((x ^ (x >> 27)) * _MUL2) & MASK
    return x ^ (x >> 31)


def key(seed: int, event_id: int) -> int:
    """The 64-bit key every choice of event `event_id` derives from."""
    return mix(mix(seed & MASK) ^ (event_id & MASK))


_NP_GOLDEN, _NP_MUL1, _NP_MUL2 = np.uint64(_GOLDEN), np.uint64(_MUL1), np.uint64(_MUL2)
_NP_30, _NP_27, _NP_31 = np.uint64(30), np.uint64(27), np.uint64(31)


def mix_np(x: U64) -> U64:
    x = x + _NP_GOLDEN
    x = (x ^ (x >> _NP_30)) * _NP_MUL1
    x = (x ^ (x >> _NP_27)) * _NP_MUL2
    return x ^ (x >> _NP_31)


def keys_np(seed: int, event_ids: I64) -> U64:
    """`key` for many events."""
    return mix_np(np.uint64(mix(seed & MASK)) ^ event_ids.astype(np.uint64))


# -- digits ------------------------------------------------------------------------------
Plan = tuple[tuple[int, tuple[tuple[int, int], ...]], ...]


def words_of(slots: Iterable[str]) -> tuple[Word, ...]:
    """The `Word`s to read to know `slots` (a digit needs the ones before it)."""
    wanted = set(slots)
    return tuple(w for w in LAYOUT if wanted & {slot for slot, _ in w.digits})


def radix_of(slot: str, family: int) -> int:
    """The radix of digit `slot` for a family: a digit is always below it."""
    radix = RADIX[slot]
    return radix if isinstance(radix, int) else len(grammar().tables[radix][family])


@cache
def plan(words: tuple[Word, ...], family: int) -> Plan:
    """`words` for one family: (offset, ((slot position, radix), ...)) each."""
    return tuple(
        (w.offset, tuple((SLOT[slot], radix_of(slot, family)) for slot, _ in w.digits))
        for w in words
    )


def draw(k: int, how: Plan) -> list[int]:
    """The digits `how` reads for the event of key `k`, by slot position (others 0),
    then `ZERO`."""
    picks = [0] * (len(SLOTS) + 1)
    for offset, digits in how:
        word = mix((k + offset) & MASK)
        for slot, radix in digits:
            word, picks[slot] = divmod(word, radix)
    return picks


@cache
def _lengths_np(table: str) -> U64:
    return np.array([len(t) for t in grammar().tables[table]], dtype=np.uint64)


def draw_np(keys: U64, family: I64, words: Iterable[Word] = LAYOUT) -> dict[str, I64]:
    """The digits of `words` for many events: slot name to one digit per event.

    Words whose digits have the same radices (the five bullets) are read together, as
    the rows of one (word, event) array. Quotient and remainder are taken apart: numpy's
    `divmod` on uint64 is several times slower than `//` and a multiply."""
    out: dict[str, I64] = {}
    groups: dict[tuple[str | int, ...], list[Word]] = {}
    for w in words:
        groups.setdefault(tuple(radix for _, radix in w.digits), []).append(w)
    mixed: dict[tuple[int, ...], U64] = {}  # words read by more than one `Word`
    for radices, group in groups.items():
        offsets = tuple(w.offset for w in group)
        if offsets not in mixed:
            added = keys[None, :] + np.array(offsets, dtype=np.uint64)[:, None]
            mixed[offsets] = mix_np(added)
        word = mixed[offsets]
        for position, radix in enumerate(radices):
            base = np.uint64(radix) if isinstance(radix, int) else _lengths_np(radix)[family]
            quotient = word // base
            digit = (word - quotient * base).astype(np.int64)
            for row, w in enumerate(group):
                out[w.digits[position][0]] = digit[row]
            word = quotient
    return out


def draw_rows(keys: U64, family: I64) -> list[list[int]]:
    """Every digit of many events, as `draw` gives them: one list per event."""
    digits = draw_np(keys, family, LAYOUT)
    table = np.zeros((len(SLOTS) + 1, len(keys)), dtype=np.int64)  # the last row: ZERO
    for position, slot in enumerate(SLOTS):
        table[position] = digits[slot]
    rows: list[list[int]] = table.T.tolist()
    return rows


# -- plain text or HTML ------------------------------------------------------------------
def reply_is_html(seed: int, event_id: int, html_share: float) -> bool:
    """Whether a reply is sent as HTML: deterministic from (seed, event id)."""
    word = mix((key(seed, event_id) + HTML_WORD) & MASK)
    return (word >> 11) * 2.0**-53 < html_share


def html_mask(seed: int, event_ids: I64, html_share: float) -> BOOL:
    """`reply_is_html` for many events at once."""
    word = mix_np(keys_np(seed, event_ids) + np.uint64(HTML_WORD))
    unit = (word >> np.uint64(11)).astype(np.float64) * 2.0**-53
    return unit < html_share
