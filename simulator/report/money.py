"""Money as people read it: whole dollars, or three figures with a k/M/B suffix.

Theory of operation: one formatter for every table, page, figure and CI summary, so a
cost reads the same wherever it is shown. `sign` is "$" on pages and in the terminal,
"\\$" in matplotlib text (where a bare `$` starts mathematics) and "" in GitHub Markdown
(which reads `$...$` as mathematics too).
"""

from __future__ import annotations


def usd(value: float, sign: str = "$") -> str:
    """Whole dollars with separators; cents below $100: 23415429 -> $23,415,429."""
    return f"{sign}{value:,.0f}" if abs(value) >= 100 else f"{sign}{value:,.2f}"


def usd_short(value: float, sign: str = "$") -> str:
    """Three figures: 23415429 -> $23.4M, 15000000 -> $15.0M, 233400 -> $233k."""
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            scaled = value / size
            decimals = 0 if abs(scaled) >= 100 else 1 if abs(scaled) >= 10 else 2
            return f"{sign}{scaled:.{decimals}f}{suffix}"
    return f"{sign}{value:,.0f}" if abs(value) >= 10 else f"{sign}{value:.2f}"
