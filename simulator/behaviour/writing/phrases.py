"""The phrase tables a body picks from, read once from `simulator/data/phrases.toml`.

Theory of operation: a table is a tuple of phrases. Verbs, objects and titles depend on
the sender's occupational family (the workforce `occupation` column; an occupation
without phrases of its own uses the "other" family), the other tables are shared. So
that every table is read the same way, `Grammar.tables` holds each table once per family
code (a shared table is the same tuple for every family): `tables[name][family]`.

A co-worker qualifier holds "{name}" once; it is split into the text before and after
the slot (tables "coworker_before" and "coworker_after"), so a body stays a plain
concatenation of table entries, constants and names. Phrases go into HTML unescaped and
are sized as ASCII, so the loader refuses any that is not ASCII or holds & < > ".
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np
import numpy.typing as npt

OTHER = "other"  # family of occupations without phrases of their own
NAME_SLOT = "{name}"  # where a co-worker qualifier puts the co-worker's "First Last"
CRLF = "\r\n"
BY_FAMILY = ("titles", "verbs", "objects")  # tables that depend on the occupation
SHARED = {  # table name: key in phrases.toml
    "greetings": "greetings",
    "intros": "intros",
    "closings": "closings",
    "qualifiers": "qualifiers",
    "coworker": "coworker_qualifiers",
    "drug_or_contract": "drug_or_contract_qualifiers",
    "links": "link_lines",
    "markings": "classification_lines",
    "auto_replies": "auto_replies",
    "reply_all": "reply_all",
    "dsn": "dsn",
}


@dataclass(frozen=True)
class Grammar:
    """Every phrase table by name, each given per family code (see the module doc)."""

    families: tuple[str, ...]  # family names in code order
    tables: dict[str, tuple[tuple[str, ...], ...]]
    form_letter: str  # lines joined by CRLF
    attachment_files: tuple[tuple[str, int], ...]  # (file name, KB) each marker names

    def family(self, occupation: str) -> int:
        """The family code of an occupation ("other" for one without phrases)."""
        families = self.families
        return families.index(occupation if occupation in families else OTHER)

    def entries(self, table: str, occupation: str = OTHER) -> tuple[str, ...]:
        """The phrases of `table` an `occupation` picks from."""
        return self.tables[table][self.family(occupation)]


@cache
def grammar() -> Grammar:
    """The phrase grammar from `simulator/data/phrases.toml` (read and checked once)."""
    raw = resources.files("simulator.data").joinpath("phrases.toml").read_text("utf-8")
    d = tomllib.loads(raw)
    families = tuple(sorted(d["verbs"]))
    files = tuple((str(name), int(kb)) for name, kb in d["attachments"])
    shared = {name: tuple(str(s) for s in d[key]) for name, key in SHARED.items()}
    shared["attachments"] = tuple(f"[Attachment: {name} ({kb} KB)]" for name, kb in files)
    _check_plain([*shared.values(), *(tuple(d[t][f]) for t in BY_FAMILY for f in families)])
    _check_plain([tuple(d["form_letter"])])
    for phrase in shared["coworker"]:
        if phrase.count(NAME_SLOT) != 1:
            raise ValueError(f"phrases.toml: coworker_qualifiers: {phrase!r} needs one {NAME_SLOT}")
    shared["coworker_before"] = tuple(p.partition(NAME_SLOT)[0] for p in shared["coworker"])
    shared["coworker_after"] = tuple(p.partition(NAME_SLOT)[2] for p in shared["coworker"])
    tables = {name: (entries,) * len(families) for name, entries in shared.items()}
    if OTHER not in families:
        raise ValueError(f"phrases.toml: [verbs] needs the family {OTHER!r}")
    for name in BY_FAMILY:
        missing = sorted(set(families) - set(d[name]))
        if missing:
            raise ValueError(f"phrases.toml: [{name}] lacks the families {missing}")
        tables[name] = tuple(tuple(str(s) for s in d[name][f]) for f in families)
    return Grammar(families, tables, CRLF.join(d["form_letter"]), files)


def _check_plain(tables: list[tuple[str, ...]]) -> None:
    for table in tables:
        for phrase in table:
            if not phrase.isascii() or any(c in phrase for c in '&<>"'):
                raise ValueError(f'phrases.toml: {phrase!r} must be ASCII without & < > "')


@cache
def family_code(occupation: str) -> int:
    """The grammar family code of one occupation name."""
    return grammar().family(occupation)


def family_codes(occupations: list[str]) -> npt.NDArray[np.int64]:
    """Grammar family code for each occupation name of a vocabulary."""
    return np.array([family_code(o) for o in occupations], dtype=np.int64)
