"""Names: whom a "coworker_name" body names, and the byte lengths of names."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from simulator.behaviour import writing
from simulator.behaviour.writing.html import escape_name


def test_coworker_is_the_manager_else_a_neighbour_never_the_sender() -> None:
    sender = np.array([5, 5, 9, 0, 3])
    cc = np.array([2, -1, -1, 0, 3])
    assert writing.coworker_ids(sender, cc, 10).tolist() == [2, 6, 8, 1, 4]


def test_name_lengths_count_utf8_bytes_and_html_entities() -> None:
    first = ["Ann", "Zoë", "Lee&Co", "<b>", ""]
    last = ["Lee", "Ørsted", "O'Neil", "a>b&c", ""]
    plain, escaped = writing.name_lengths(pa.array(first), pa.array(last))
    assert plain.tolist() == [len(f"{f} {s}".encode()) for f, s in zip(first, last, strict=True)]
    expected = [len(escape_name(f"{f} {s}").encode()) for f, s in zip(first, last, strict=True)]
    assert escaped.tolist() == expected
