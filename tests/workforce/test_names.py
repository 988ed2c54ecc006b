"""Names drawn from Faker's weighted tables, and their email forms."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from simulator.workforce.names import email_form, faker_tables, sample_names


def test_email_form_folds_accents_and_drops_punctuation() -> None:
    assert email_form("Zoë O'Neil-Smith") == "zoeoneilsmith"
    assert email_form("李") == "x"


@given(st.text(max_size=30))
def test_email_form_is_always_lowercase_ascii_letters(name: str) -> None:
    out = email_form(name)
    assert out and out.isascii() and out.isalpha() and out == out.lower()


def test_names_follow_fakers_weights() -> None:
    names = sample_names(np.random.default_rng(5), 200_000)
    last = names.last.to_numpy(zero_copy_only=False)
    _, _, last_table = faker_tables()
    smith_p = last_table.p[last_table.names.to_pylist().index("Smith")]
    assert abs((last == "Smith").mean() - smith_p) < 0.002
    female, male, _ = faker_tables()
    first = set(names.first.to_numpy(zero_copy_only=False)[:5000])
    assert first <= set(female.names.to_pylist()) | set(male.names.to_pylist())


def test_ascii_forms_line_up_with_names() -> None:
    names = sample_names(np.random.default_rng(1), 1000)
    for shown, form in zip(names.last.to_pylist(), names.last_ascii.to_pylist(), strict=True):
        assert form == email_form(shown)
