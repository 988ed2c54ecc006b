"""The content rules a round sets for replies, and those a collection system adds.

Round 1 forbade classified information, links and attachments; later rounds added agency
rules (HHS: no co-workers' names, no specific drugs or contracts). "All of my activities
are sensitive" is the allowed answer for staff whose work is all classified. A reply to
a collection with rules of its own must keep both sets (`ContentRules.combined`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

SENSITIVE_STATEMENT = "All of my activities are sensitive."


@dataclass(frozen=True)
class ContentRules:
    """Which kinds of content a round forbids. Names match `columns.VIOLATIONS`."""

    no_links: bool = True
    no_attachments: bool = True
    no_classification: bool = True
    no_coworker_names: bool = False
    no_drug_or_contract_names: bool = False
    allow_sensitive_statement: bool = True

    def forbids(self, violation: str) -> bool:
        """Whether content of this violation kind breaks these rules."""
        return {
            "link": self.no_links,
            "attachment": self.no_attachments,
            "classification": self.no_classification,
            "coworker_name": self.no_coworker_names,
            "drug_or_contract": self.no_drug_or_contract_names,
        }.get(violation, False)

    def combined(self, other: ContentRules | None) -> ContentRules:
        """Both sets at once: forbidden if either forbids, allowed only if both allow."""
        if other is None or other == self:
            return self
        values = {
            f.name: (
                getattr(self, f.name) and getattr(other, f.name)
                if f.name.startswith("allow_")
                else getattr(self, f.name) or getattr(other, f.name)
            )
            for f in fields(self)
        }
        return ContentRules(**values)
