"""The run report's "Who was not expected to reply" section: deadlines and exclusions.

Theory of operation: the schedule manifest records, per round, the replies sent by and
after the round's own deadline (an extension's "another chance") and the exclusions
report (staff excluded per agency, category and reason: what agencies told OPM). This
turns those plain records into one self-contained HTML fragment; it is empty when no
round has an extension or exclusions, so other runs' pages do not change.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from simulator.report.html import table_html

TITLE = "Deadlines and exclusions"


def exclusions_html(
    deadlines: Mapping[str, Mapping[str, int]],
    exclusions: Mapping[str, Sequence[Mapping[str, Any]]],
) -> str:
    """The section's HTML; "" when there is nothing after a deadline and no exclusion."""
    late = {r: d for r, d in deadlines.items() if d.get("after", 0)}
    if not late and not any(exclusions.values()):
        return ""
    parts = ["<section class='pc-exclusions'>"]
    if deadlines:
        rows = [(r, d.get("before", 0), d.get("after", 0)) for r, d in deadlines.items()]
        parts.append("<p>Replies sent by each round's own deadline and after it.</p>")
        parts.append(table_html(rows, ("round", "by the deadline", "after the deadline")))
    for round_id, report in exclusions.items():
        total = sum(int(row["count"]) for row in report)
        parts.append(
            f"<h3>Round {html.escape(round_id)}: staff excluded from replying</h3>"
            f"<p>{total:,} staff excluded, by agency, category and reason (the report "
            "agencies send OPM).</p>"
        )
        lines = [(r["agency"], r["category"], r["reason"], int(r["count"])) for r in report]
        parts.append(table_html(lines, ("agency", "category", "reason", "staff")))
    parts.append("</section>")
    return "".join(parts)
