"""The workforce directory: which sender addresses exist and which department each is in.

Theory of operation: the collection systems admit only known senders and route "stays
internal to DHS" rules by the sender's department, so they need a lookup from address
to department code. Addresses are lower-cased once on load; departments are interned,
so 2.3M entries cost one dict. Full names ("First Last") are kept only when a round or
a collection forbids naming co-workers, since only that rule needs them; each sender's
own name is kept with them, because a reply signed with it names no co-worker.

A directory read from a workforce file of more than `DICT_UP_TO` people (a synthetic
organisation above the federal size) holds no Python string per person: at 10x the
federal workforce (23M people) the dict's process peaked at 8.8 GB. It keeps the lower-
cased addresses as one Arrow array, a sorted numpy array of their hashes (Python's own
`hash`, taken a million addresses at a time) with the row of each, and a department code
per row. A lookup hashes the address, scans the few rows whose hashes share its leading
bits (a bucket start per prefix) and compares the address's bytes with the row's, so a
hash collision never admits a stranger. Python's string hash is salted per process, so a
pickled directory hashes its addresses again where it is unpickled. At 23M people it
takes half the dict's memory (4.6 against 9.0 GB), loads in a third of its time (12
against 38 s), and a lookup of a random known address costs 2.6 us against the dict's
1.9; at 0.46M people 1.5 us against 0.7, which is why smaller files still get the dict
(`benchmarks/bench_directory.py`).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from itertools import chain
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

MASK64 = (1 << 64) - 1
U64 = npt.NDArray[np.uint64]
HASH_CHUNK = 1_000_000  # addresses turned into Python strings at a time, to hash them
HASH = hash  # the address hash (a module global, so a test can make every hash collide)
# Up to this many people a file's directory is a dict (the faster lookup); above, its
# columns (half the memory, a third of the load time)
DICT_UP_TO = 4_000_000


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
        if table.num_rows > DICT_UP_TO:
            return ColumnDirectory(table, with_names)
        emails = table.column("email").to_pylist()
        departments = table.column("department").cast("string").to_pylist()
        names: list[str] = []
        if with_names:
            first = table.column("first_name").to_pylist()
            last = table.column("last_name").to_pylist()
            names = [f"{f} {s}" for f, s in zip(first, last, strict=True)]
        entries = zip(emails, departments, strict=True)
        return cls(entries, name_of=zip(emails, names, strict=True) if names else ())


class ColumnDirectory(Directory):
    """A directory over a workforce table's columns: no Python object per person."""

    def __init__(self, table: pa.Table, with_names: bool = False) -> None:
        emails = pc.utf8_lower(table.column("email").cast(pa.string())).combine_chunks()
        departments = pc.dictionary_encode(
            table.column("department").cast(pa.string()).combine_chunks()
        )
        codes = departments.indices.to_numpy()
        department_names = [sys.intern(str(d)) for d in departments.dictionary.to_pylist()]
        full: pa.StringArray | None = None
        if with_names:
            full = pc.binary_join_element_wise(
                table.column("first_name").cast(pa.string()),
                table.column("last_name").cast(pa.string()),
                " ",
            ).combine_chunks()
        self._setup(emails, codes, department_names, full)

    def _setup(
        self,
        emails: pa.StringArray,
        codes: npt.NDArray[np.integer],
        department_names: list[str],
        full: pa.StringArray | None,
    ) -> None:
        self._emails = emails
        self._codes = codes
        self._department_names = department_names
        self._full = full
        self.names = (
            frozenset() if full is None else frozenset(str(n) for n in pc.unique(full).to_pylist())
        )
        hashes = string_hashes(emails)
        order = np.argsort(hashes, kind="stable")
        self._hashes: U64 = hashes[order]
        self._order = order.astype(np.int64)
        # A bucket per top `bits` of the hash (about one address each): a lookup scans
        # its bucket instead of bisecting 23M hashes. memoryviews index as Python ints,
        # several times faster than numpy scalars.
        n = len(emails)
        bits = max(1, n.bit_length() - 1)
        self._shift = 64 - bits
        bucket_of = self._hashes >> np.uint64(self._shift)
        starts = np.searchsorted(bucket_of, np.arange(2**bits + 1, dtype=np.uint64))
        self._start_at = starts.astype(np.int32 if n < 2**31 else np.int64).data
        self._hash_at = self._hashes.data
        self._row_at = self._order.data
        self._code_at = np.ascontiguousarray(codes).data
        ends = emails.buffers()[1]
        self._offset_at = np.frombuffer(ends, np.int32)[emails.offset : emails.offset + n + 1].data
        self._bytes = np.frombuffer(emails.buffers()[2] or b"", np.uint8).data  # "B", as bytes

    def __reduce__(self) -> tuple[object, ...]:
        return (_column_directory, (self._emails, self._codes, self._department_names, self._full))

    def _row(self, email: str) -> int:
        """The row of this address (any case), or -1."""
        key = email.lower() if email.isascii() else str(pc.utf8_lower(pa.scalar(email)).as_py())
        digest = HASH(key) & MASK64
        bucket = digest >> self._shift
        hashes, wanted = self._hash_at, b""
        for k in range(self._start_at[bucket], self._start_at[bucket + 1]):
            if hashes[k] == digest:
                row: int = self._row_at[k]
                wanted = wanted or key.encode("utf-8", "surrogatepass")
                if self._bytes[self._offset_at[row] : self._offset_at[row + 1]] == wanted:
                    return row
        return -1

    def __len__(self) -> int:
        return len(self._emails)

    def __contains__(self, email: object) -> bool:
        return isinstance(email, str) and self._row(email) >= 0

    def department(self, email: str) -> str | None:
        row = self._row(email)
        return None if row < 0 else self._department_names[self._code_at[row]]

    def name(self, email: str) -> str:
        if self._full is None:
            return ""
        row = self._row(email)
        return "" if row < 0 else str(self._full[row].as_py())

    def departments(self) -> set[str]:
        return {self._department_names[int(c)] for c in np.unique(self._codes)}


def _column_directory(
    emails: pa.StringArray,
    codes: npt.NDArray[np.integer],
    department_names: list[str],
    full: pa.StringArray | None,
) -> ColumnDirectory:
    """A directory rebuilt from its columns where it is unpickled (its hashes again)."""
    rebuilt = ColumnDirectory.__new__(ColumnDirectory)
    rebuilt._setup(emails, codes, department_names, full)
    return rebuilt


def string_hashes(strings: pa.StringArray) -> U64:
    """Python's `hash` of every string of an Arrow string array (no nulls), as unsigned
    64-bit integers: only `HASH_CHUNK` of them are Python strings at any time."""
    out = np.empty(len(strings), np.uint64)
    for start in range(0, len(strings), HASH_CHUNK):
        part = strings.slice(start, HASH_CHUNK).to_pylist()
        out[start : start + len(part)] = np.fromiter(
            (HASH(s) & MASK64 for s in part), np.uint64, len(part)
        )
    return out
