"""Hashed digits: the numpy draw is the scalar draw, and HTML goes to its share."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.behaviour import writing
from simulator.behaviour.writing import digits


def test_html_mask_matches_the_scalar_rule_and_share() -> None:
    ids = np.arange(20_000, dtype=np.int64)
    mask = writing.html_mask(4, ids, 0.7)
    assert all(mask[i] == writing.reply_is_html(4, int(i), 0.7) for i in range(0, 20_000, 97))
    assert abs(mask.mean() - 0.7) < 5 * np.sqrt(0.21 / 20_000)


@pytest.mark.parametrize("occupation", ["admin", "medical", "nope"])
def test_the_numpy_draw_gives_the_scalar_digits_each_below_its_radix(occupation: str) -> None:
    family = writing.family_code(occupation)
    ids = np.arange(0, 2**40, 2**40 // 500, dtype=np.int64)
    drawn = digits.draw_np(digits.keys_np(7, ids), np.full(len(ids), family), digits.LAYOUT)
    how = digits.plan(digits.LAYOUT, family)
    rows = digits.draw_rows(digits.keys_np(7, ids), np.full(len(ids), family))
    for n, event_id in enumerate(ids.tolist()):
        picks = digits.draw(digits.key(7, event_id), how)
        assert picks[digits.ZERO] == 0
        assert picks == rows[n]
    for slot in digits.SLOTS:
        column = drawn[slot]
        assert column.min() >= 0 and column.max() < digits.radix_of(slot, family)


def test_a_digit_needs_only_its_word_and_draws_the_same_alone() -> None:
    words = digits.words_of(["detail"])
    assert [w.offset for w in words] == [0]
    alone = digits.draw(digits.key(3, 11), digits.plan(words, 0))
    every = digits.draw(digits.key(3, 11), digits.plan(digits.LAYOUT, 0))
    assert alone[digits.SLOT["detail"]] == every[digits.SLOT["detail"]]
