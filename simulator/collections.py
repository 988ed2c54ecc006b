"""The collection mailboxes replies go to, and who may write to each.

Theory of operation: a collection is an id (what the schedule's `collection` column and
the store use), an address (what a reply is sent to) and optionally the one department
whose staff may use it ("replies remain internal to DHS"). The set is a parameter; the
default models the 2025 event: OPM's central mailbox, DHS accountability, DoD internal
consolidation and a leadership mailbox per department (internal to that department).
Managers' mailboxes are not collections: any directory address may be a cc recipient.
A collection may carry content rules of its own (HHS leadership: no co-workers' names);
a reply to it must keep those and its round's rules together (`rules_for`).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources

from simulator.rules import ContentRules


@dataclass(frozen=True)
class Collection:
    id: str
    address: str
    internal_to: str | None = None  # department code, or None for "any directory sender"
    rules: ContentRules | None = None  # added to the round's rules; None: the round's only
    kind: str = "central"  # central, agency, consolidation or leadership (scenario files)

    def admits(self, department: str) -> bool:
        return self.internal_to is None or self.internal_to == department


CENTRAL = Collection("opm-hr", "hr@opm.example")
DHS_ACCOUNTABILITY = Collection(
    "dhs-accountability", "accountability@hq.dhs.example", "DHS", kind="agency"
)
DOD_CONSOLIDATION = Collection(
    "dod-consolidation", "consolidation@dod.example", "DOD", kind="consolidation"
)


def department_domains() -> dict[str, str]:
    """Department code -> reserved mail domain, from `simulator/data/agencies.csv`."""
    text = resources.files("simulator").joinpath("data/agencies.csv").read_text("utf-8")
    rows = csv.DictReader(text.splitlines())
    return {row["code"]: row["domain"] for row in rows if not row["parent"]}


def default_collections() -> list[Collection]:
    """The event's mailboxes: central, DHS, DoD, and `leadership@<domain>` per department."""
    leadership = [
        Collection(f"leadership-{code.lower()}", f"leadership@{domain}", code, kind="leadership")
        for code, domain in sorted(department_domains().items())
    ]
    return [CENTRAL, DHS_ACCOUNTABILITY, DOD_CONSOLIDATION, *leadership]


CollectionLike = Collection | tuple[str, str, str | None]


def as_collections(items: Iterable[CollectionLike]) -> list[Collection]:
    """Accept `Collection`s or plain `(id, address, internal_to)` tuples."""
    out = [item if isinstance(item, Collection) else Collection(*item) for item in items]
    ids = [c.id for c in out]
    addresses = [c.address.lower() for c in out]
    if len(set(ids)) != len(ids) or len(set(addresses)) != len(addresses):
        raise ValueError("collection ids and addresses must be unique")
    return out


class CollectionIndex:
    """Look collections up by address (case-insensitive)."""

    def __init__(self, collections: Iterable[CollectionLike]) -> None:
        self.all = as_collections(collections)
        self._by_address = {c.address.lower(): c for c in self.all}
        self._by_id = {c.id: c for c in self.all}

    def by_address(self, address: str) -> Collection | None:
        return self._by_address.get(address.lower())

    def by_id(self, collection_id: str) -> Collection | None:
        return self._by_id.get(collection_id)


RuleBook = Mapping[tuple[str, str], ContentRules]  # (round id, collection id) -> rules


def rules_for(
    rules_by_round: Mapping[str, ContentRules], collections: Iterable[Collection]
) -> dict[tuple[str, str], ContentRules]:
    """The rules a reply must keep, per round and collection: the round's plus its own."""
    return {
        (round_id, c.id): rules.combined(c.rules)
        for round_id, rules in rules_by_round.items()
        for c in collections
    }
