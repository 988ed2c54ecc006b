"""Attachments: the MIME part an "attachment" reply carries, of exactly the counted size."""

from __future__ import annotations

import base64

import numpy as np

from simulator.behaviour import writing
from simulator.columns import VIOLATIONS


def test_the_attachment_part_is_base64_filler_of_the_counted_size() -> None:
    g = writing.grammar()
    for index, (name, kb) in enumerate(g.attachment_files):
        part = writing.attachment_mime(index)
        assert len(writing.MIXED_PREFIX) + len(part) == writing.attachment_bytes()[index]
        assert part == writing.attachment_mime(index)  # deterministic (and cached)
        assert f'Content-Disposition: attachment; filename="{name}"'.encode() in part
        head, _, rest = part.partition(b"\r\n\r\n")
        encoded, _, tail = rest.rpartition(b"--" + writing.BOUNDARY.encode())
        assert tail == b"--\r\n" and b"Content-Transfer-Encoding: base64" in head
        assert max(len(line) for line in encoded.split(b"\r\n")) == 76
        assert len(base64.b64decode(encoded)) == kb * 1024


def test_attachment_sizes_name_the_file_the_marker_names() -> None:
    g = writing.grammar()
    ids = np.arange(200, dtype=np.int64)
    family = writing.family_codes(["it"] * 200)
    violation = np.full(200, VIOLATIONS.index("attachment"))
    sizes = writing.attachment_sizes(9, ids, violation, family)
    for i in range(200):
        index = writing.attachment_index(9, i, "it")
        assert sizes[i] == writing.attachment_bytes()[index]
        text = writing.render_reply(9, i, "bullets", "attachment", "it", "A", "B")
        assert g.entries("attachments")[index] in text
    clean = writing.attachment_sizes(9, ids, np.zeros(200, dtype=np.int64), family)
    assert not clean.any()
