"""Sizing: the vectorised size of a body is its rendered size, byte for byte."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.behaviour import writing
from simulator.columns import CONTENTS, VIOLATIONS

KINDS = tuple(c for c in CONTENTS if c != "broadcast")


names = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)


@settings(max_examples=300, deadline=None)
@given(
    seed=st.integers(0, 2**63 - 1),
    event_id=st.integers(0, 2**40),
    kind=st.sampled_from(KINDS),
    violation=st.sampled_from(VIOLATIONS),
    occupation=st.sampled_from(["admin", "it", "legal", "trades", "nope"]),
    first=names,
    last=names,
    coworker=st.tuples(names, names),
    html=st.booleans(),
)
def test_vectorised_size_equals_rendered_size(
    seed: int,
    event_id: int,
    kind: str,
    violation: str,
    occupation: str,
    first: str,
    last: str,
    coworker: tuple[str, str],
    html: bool,
) -> None:
    other = f"{coworker[0]} {coworker[1]}"
    text = writing.render_reply(
        seed, event_id, kind, violation, occupation, first, last, html, coworker=other
    )
    plain, escaped = writing.name_lengths(pa.array([first]), pa.array([last]))
    other_plain, other_html = writing.name_lengths(pa.array([coworker[0]]), pa.array([coworker[1]]))
    size = writing.reply_sizes(
        seed,
        np.array([event_id]),
        np.array([CONTENTS.index(kind)]),
        np.array([VIOLATIONS.index(violation)]),
        writing.family_codes([occupation]),
        plain,
        escaped,
        np.array([html]),
        other_plain,
        other_html,
    )
    assert size[0] == len(text.encode())


batch_events = st.lists(
    st.tuples(
        st.integers(0, 2**40),
        st.sampled_from(KINDS),
        st.sampled_from(VIOLATIONS),
        st.sampled_from(["admin", "medical", "it", "nope"]),
        names,
        st.booleans(),
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(0, 2**63 - 1), batch=batch_events)
def test_sizes_of_a_mixed_batch_equal_each_rendered_size(
    seed: int, batch: list[tuple[int, str, str, str, str, bool]]
) -> None:
    """Many kinds in one call: each segment column is computed only where its template
    uses it, and every event still gets its own body's size."""
    ids, kinds, violations, occupations, firsts, html = (list(c) for c in zip(*batch, strict=True))
    other = [f"{f[::-1]}&" for f in firsts]  # the co-worker's first names; last: "Chan"
    coworkers = [f"{o} Chan" for o in other]
    texts = [
        writing.render_reply(seed, i, k, v, o, f, "Lee", h, coworker=c)
        for i, k, v, o, f, h, c in zip(
            ids, kinds, violations, occupations, firsts, html, coworkers, strict=True
        )
    ]
    plain, escaped = writing.name_lengths(pa.array(firsts), pa.array(["Lee"] * len(ids)))
    chan = pa.array(["Chan"] * len(ids))
    other_plain, other_html = writing.name_lengths(pa.array(other), chan)
    sizes = writing.reply_sizes(
        seed,
        np.array(ids, dtype=np.int64),
        np.array([CONTENTS.index(k) for k in kinds]),
        np.array([VIOLATIONS.index(v) for v in violations]),
        writing.family_codes(occupations),
        plain,
        escaped,
        np.array(html),
        other_plain,
        other_html,
    )
    assert sizes.tolist() == [len(t.encode()) for t in texts]


def test_a_content_without_a_reply_body_is_refused() -> None:
    one = np.array([0], dtype=np.int64)
    with pytest.raises(ValueError, match="content 'broadcast'"):
        writing.reply_sizes(
            1, one, one, one, writing.family_codes(["it"]), one, one, np.array([False])
        )
