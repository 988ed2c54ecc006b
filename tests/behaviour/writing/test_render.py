"""Rendering: deterministic, occupation-aware bodies, rule-breaking on demand, one or a batch."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.behaviour import writing
from simulator.columns import CONTENTS, VIOLATIONS
from simulator.rules import SENSITIVE_STATEMENT

WRITTEN = ("bullets", "sensitive", "form_letter")
KINDS = tuple(c for c in CONTENTS if c != "broadcast")


def body(
    event_id: int = 1,
    kind: str = "bullets",
    violation: str = "",
    html: bool = False,
    occupation: str = "medical",
) -> str:
    return writing.render_reply(
        9, event_id, kind, violation, occupation, "Ann", "Lee", html, coworker="Bo Chan"
    )


def test_same_inputs_same_text_other_event_other_text() -> None:
    assert body(5) == body(5)
    assert len({body(i) for i in range(50)}) == 50


def test_five_occupation_aware_bullets() -> None:
    text = body(3)
    bullets = [line for line in text.split("\r\n") if line.startswith("- ")]
    assert len(bullets) == 5
    verbs = writing.grammar().entries("verbs", "medical")
    assert all(any(b[2:].startswith(v) for v in verbs) for b in bullets)
    assert "Ann Lee" in text


def test_unknown_occupation_uses_the_generic_grammar() -> None:
    verbs = writing.grammar().entries("verbs", "other")
    text = body(3, occupation="astronaut")
    assert any(f"- {v} " in text for v in verbs)


def test_sensitive_statement_and_form_letter() -> None:
    assert SENSITIVE_STATEMENT in body(kind="sensitive")
    assert "- " not in body(kind="sensitive").split("-----Original")[0]
    letters = {body(i, kind="form_letter").split("\r\n\r\n", 1)[1][:300] for i in range(20)}
    assert len(letters) == 1  # everyone sends the same letter


@pytest.mark.parametrize(
    ("violation", "marker"),
    [
        ("link", "https://"),
        ("attachment", "[Attachment: "),
        ("classification", None),
        ("coworker_name", None),
        ("drug_or_contract", None),
    ],
)
def test_violations_show_in_the_text(violation: str, marker: str | None) -> None:
    g = writing.grammar()
    tables = {
        "classification": g.entries("markings"),
        "coworker_name": tuple(q.replace("{name}", "Bo Chan") for q in g.entries("coworker")),
        "drug_or_contract": g.entries("drug_or_contract"),
    }
    for event_id in range(30):
        text = body(event_id, violation=violation)
        clean = body(event_id)
        if marker is not None:
            assert marker in text and marker not in clean
        else:
            assert any(p in text for p in tables[violation])
            assert not any(p in clean for p in tables[violation])


def test_a_coworker_name_is_the_one_given_and_escaped_in_html() -> None:
    for event_id in range(20):
        text = body(event_id, violation="coworker_name")
        assert "Bo Chan" in text and "Bo Chan" not in body(event_id)
        assert "{name}" not in text
    text = writing.render_reply(
        9, 2, "bullets", "coworker_name", "it", "A", "B", True, False, "X<Y"
    )
    assert "X&lt;Y" in text and "X<Y" not in text


def test_html_has_a_signature_and_escapes_the_name() -> None:
    text = writing.render_reply(9, 1, "bullets", "", "it", "Lee&Co", "<b>", True)
    assert text.startswith("<html") and text.rstrip().endswith("</html>")
    assert text.count("<li ") == 5
    assert "<b>Lee&amp;Co &lt;b&gt;</b>" in text


def test_machine_texts_are_plain() -> None:
    for kind in ("auto_reply", "dsn", "reply_all"):
        assert not body(kind=kind, html=True).startswith("<html")


def test_realistic_sizes() -> None:
    plain = [len(body(i).encode()) for i in range(200)]
    html = [len(body(i, html=True).encode()) for i in range(200)]
    assert 700 < np.median(plain) < 2_000  # five bullets, signature, quoted original
    assert 2_500 < np.median(html) < 8_000  # Outlook-style markup


def test_bad_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="content"):
        body(kind="broadcast")
    with pytest.raises(ValueError, match="violation"):
        body(violation="spoiler")


names = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
events = st.tuples(
    st.integers(0, 2**40),
    st.sampled_from(KINDS),
    st.sampled_from(VIOLATIONS),
    st.sampled_from(["admin", "it", "legal", "trades", "nope"]),
    names,
    st.booleans(),
)


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(0, 2**63 - 1), batch=st.lists(events, min_size=1, max_size=20))
def test_a_batch_renders_each_body_as_render_reply_does(
    seed: int, batch: list[tuple[int, str, str, str, str, bool]]
) -> None:
    ids, kinds, violations, occupations, firsts, html = (list(c) for c in zip(*batch, strict=True))
    coworkers = {k: f"{f} Chan" for k, f in enumerate(firsts) if violations[k] == "coworker_name"}
    one_by_one = [
        writing.render_reply(seed, i, k, v, o, f, "Lee", h, coworker=coworkers.get(n, ""))
        for n, (i, k, v, o, f, h) in enumerate(
            zip(ids, kinds, violations, occupations, firsts, html, strict=True)
        )
    ]
    args = (
        seed,
        np.array(ids, dtype=np.int64),
        kinds,
        violations,
        writing.family_codes(occupations),
        [f"{f} Lee" for f in firsts],
        html,
    )
    assert writing.render_replies(*args, coworkers=coworkers) == one_by_one
    escaped = writing.render_replies(*args, json=True, coworkers=coworkers)
    assert escaped == [json.dumps(text)[1:-1] for text in one_by_one]


def test_a_batch_refuses_bad_kinds_too() -> None:
    with pytest.raises(ValueError, match="content"):
        writing.render_replies(
            1, np.array([1]), ["broadcast"], [""], np.array([0]), ["A B"], [False]
        )
