"""The workforce directory: which sender addresses exist and which department each is in.

Theory of operation: the collection systems admit only known senders and route "stays
internal to DHS" rules by the sender's department, so they need a lookup from address
to department code. Addresses are lower-cased once on load; departments are interned,
so 2.3M entries cost one dict. Full names ("First Last") are kept only when a round or
a collection forbids naming co-workers, since only that rule needs them; each sender's
own name is kept with them, because a reply signed with it names no co-worker.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from itertools import chain
from pathlib import Path


class Directory:
    """Known addresses -> department code, plus optional full names for the name rule."""

    def __init__(
        self,
        entries: Iterable[tuple[str, str]],
        names: Iterable[str] = (),
        name_of: Iterable[tuple[str, str]] = (),
    ) -> None:
        self._department: dict[str, str] = {}
        for email, department in entries:
            self._department[email.lower()] = sys.intern(department)
        self._name = {email.lower(): name for email, name in name_of}
        self.names: frozenset[str] = frozenset(chain(names, self._name.values()))

    def __len__(self) -> int:
        return len(self._department)

    def __contains__(self, email: object) -> bool:
        return isinstance(email, str) and email.lower() in self._department

    def department(self, email: str) -> str | None:
        """The sender's department code, or None for an unknown address."""
        return self._department.get(email.lower())

    def name(self, email: str) -> str:
        """The sender's own full name, or "" when names were not loaded or it is unknown."""
        return self._name.get(email.lower(), "")

    def departments(self) -> set[str]:
        return set(self._department.values())

    @classmethod
    def from_parquet(cls, path: str | Path, with_names: bool = False) -> Directory:
        """Load `email` and `department` (and names if asked) from a workforce Parquet."""
        from simulator.tables import read_stage

        wanted = ["email", "department"] + (["first_name", "last_name"] if with_names else [])
        table = read_stage(Path(path), "workforce", wanted)
        emails = table.column("email").to_pylist()
        departments = table.column("department").cast("string").to_pylist()
        names: list[str] = []
        if with_names:
            first = table.column("first_name").to_pylist()
            last = table.column("last_name").to_pylist()
            names = [f"{f} {s}" for f, s in zip(first, last, strict=True)]
        entries = zip(emails, departments, strict=True)
        return cls(entries, name_of=zip(emails, names, strict=True) if names else ())
