"""Terminal lines that fit: long summary lines broken at phrase boundaries.

Theory of operation: a summary line is a run of phrases joined by ", ", "; " or " | "
("4,900 acknowledged, 12 rejected; p99 409.0 ms"). `fit` cuts the text at those joins,
never inside parentheses, and packs the phrases greedily into lines of at most `width`
characters; each continuation line is indented, so a CI log reads as one statement on
several lines rather than a phrase cut in two. Only a single phrase longer than the
line (a long path) is broken between words, and a single word longer than the line
(a path without spaces) is left whole.
"""

from __future__ import annotations

import re

WIDTH = 80
INDENT = "    "
JOINS = (", ", "; ", " | ")


def phrases(text: str) -> list[str]:
    """The phrases of `text`, each ending with the join that followed it."""
    out: list[str] = []
    depth, start, i = 0, 0, 0
    while i < len(text):
        ch = text[i]
        depth += ch in "([{"
        depth -= ch in ")]}" and depth > 0
        join = next((j for j in JOINS if text.startswith(j, i)), None) if depth == 0 else None
        if join is not None:
            out.append(text[start : i + len(join)])
            start = i = i + len(join)
            continue
        i += 1
    if start < len(text):
        out.append(text[start:])
    return out


def fit(text: str, width: int = WIDTH, indent: str = INDENT) -> list[str]:
    """`text` as lines of at most `width` characters, broken between phrases."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        lines.extend(_fit_one(paragraph, width, indent))
    return lines


def fitted(text: str, width: int = WIDTH, indent: str = INDENT) -> str:
    """`fit` joined with newlines."""
    return "\n".join(fit(text, width, indent))


def _fit_one(text: str, width: int, indent: str) -> list[str]:
    lines: list[str] = []
    current = ""

    def fits(line: str) -> bool:
        return len(line.rstrip()) <= width

    for phrase in phrases(text):
        if fits(current + phrase):
            current += phrase
            continue
        if current.strip():  # the phrase starts the next line
            lines.append(current.rstrip())
            current = indent
            if fits(current + phrase):
                current += phrase
                continue
        for word in re.findall(r"\S+\s*", phrase):  # too long for any line: between words
            if current.strip() and not fits(current + word):
                lines.append(current.rstrip())
                current = indent
            current += word
    lines.append(current.rstrip())
    return lines
