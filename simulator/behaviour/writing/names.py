"""Whose names a body carries, and how many bytes they take.

Theory of operation: a body carries its sender's "First Last" in the signature (in a
delivery report, the address's owner), and a "coworker_name" body a real co-worker's:
the cc'd manager, else a neighbouring employee (`coworker_ids`), so a collection system
checking names against its directory can tell. Sizing needs the UTF-8 length of each
name as plain text and HTML-escaped (`name_lengths`), computed with Arrow for millions.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from simulator.columns import NO_ID

I64 = npt.NDArray[np.int64]
ENTITIES = (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"))  # as `html.escape_name`


def coworker_ids(sender: I64, cc: I64, n_people: int) -> I64:
    """Whom a "coworker_name" reply names: the cc'd manager, or when there is none (or it
    is the sender) the next employee row (the previous one for the last row). Never the
    sender, unless the workforce has one person."""
    neighbour = np.where(sender + 1 < n_people, sender + 1, sender - 1)
    neighbour = np.maximum(neighbour, 0)
    chosen: I64 = np.where((cc != NO_ID) & (cc != sender), cc, neighbour).astype(np.int64)
    return chosen


def name_lengths(first: pa.Array, last: pa.Array) -> tuple[I64, I64]:
    """UTF-8 bytes of "First Last" as plain text and HTML-escaped (& < > as entities)."""
    plain = _bytes(first) + 1 + _bytes(last)
    extra = np.zeros(len(plain), dtype=np.int64)
    for part in (first, last):
        for char, entity in ENTITIES:
            count = pc.count_substring(part, char).to_numpy(zero_copy_only=False)
            extra += count.astype(np.int64) * (len(entity) - 1)
    return plain, plain + extra


def _bytes(strings: pa.Array) -> I64:
    return pc.binary_length(strings).to_numpy(zero_copy_only=False).astype(np.int64)  # type: ignore[no-any-return]
