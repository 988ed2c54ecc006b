"""The template description: every kind of body has one, made of known tables and digits."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.behaviour.writing import digits, template
from simulator.behaviour.writing.phrases import grammar
from simulator.columns import CONTENTS, VIOLATIONS


def test_every_pick_reads_a_known_table_by_a_known_digit() -> None:
    tables = grammar().tables
    for t in template.templates():
        picks = [s for s in t.segments if isinstance(s, template.Pick)]
        assert picks, t
        for p in picks:
            assert p.table in tables and p.slot in digits.SLOTS, (t.content, p)


def test_each_body_names_its_sender_once_and_only_coworker_bodies_a_coworker() -> None:
    for t in template.templates():
        names = [s for s in t.segments if isinstance(s, template.Name)]
        assert names.count(template.Name()) == 1
        assert (template.Name(True) in names) == (t.violation == "coworker_name")


def test_violations_change_only_bullets_and_machine_texts_are_never_html() -> None:
    for content in template.RENDERED:
        for violation in VIOLATIONS:
            for html in (False, True):
                t = template.templates()[template.template_code(content, violation, html)]
                assert t.content == content
                assert t.violation == (violation if content == "bullets" else "")
                assert t.html == (html and content in template.WRITTEN)


def test_codes_for_many_events_are_the_codes_for_one() -> None:
    content, violation, html = np.meshgrid(
        np.arange(1, len(CONTENTS)), np.arange(len(VIOLATIONS)), [False, True], indexing="ij"
    )
    codes = template.template_codes(content.ravel(), violation.ravel(), html.ravel())
    expected = [
        template.template_code(CONTENTS[c], VIOLATIONS[v], bool(h))
        for c, v, h in zip(content.ravel(), violation.ravel(), html.ravel(), strict=True)
    ]
    assert codes.tolist() == expected


def test_unknown_kinds_and_violations_are_refused_by_name() -> None:
    with pytest.raises(ValueError, match="content 'broadcast'"):
        template.template_code("broadcast", "", False)
    with pytest.raises(ValueError, match="violation 'spoiler'"):
        template.template_code("bullets", "spoiler", False)
